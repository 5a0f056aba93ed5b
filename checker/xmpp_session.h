/* One XMPP client session over libstrophe, as the logged-in and delivery probes use it: log
 * in the way a user's client does (c2s connection, STARTTLS when offered, SASL with the
 * strongest mechanism offered, resource binding), ping the server (XEP-0199), send and
 * receive probe messages, and end. Each session has a libstrophe context of its own; a
 * session is used by one thread at a time. */
#ifndef REPLMON_XMPP_SESSION_H
#define REPLMON_XMPP_SESSION_H

#include "probe.h"

#include <stdbool.h>
#include <stddef.h>

/* Where and as whom to log in. Borrowed. */
struct xmpp_account {
  const char *host; /* the c2s address */
  unsigned port;
  const char *jid;      /* user@domain */
  const char *password; /* secret */
  const char *ca_file;  /* to verify the server's certificate; NULL: the system's store */
  bool insecure_skip_verify;
  bool direct_tls; /* XEP-0368: TLS from the first byte on this port, no STARTTLS */
};

/* Whether a and b log in the same way (same address, account, password and TLS checks). */
bool xmpp_account_same(const struct xmpp_account *a, const struct xmpp_account *b);

/* What a kind built on sessions can fail for (a login, a ping, a message), whether that
 * backs off (no connection), and whether it needs a person (credentials, certificates). */
#define XMPP_SESSION_N_REASONS 5
extern const enum probe_reason xmpp_session_reasons[XMPP_SESSION_N_REASONS];
bool xmpp_session_backs_off(enum probe_reason reason);
bool xmpp_session_needs_person(enum probe_reason reason);

struct xmpp_session;

/* Returns NULL when out of memory. No I/O. */
struct xmpp_session *xmpp_session_new(void);
/* Ends the session (see xmpp_session_end) and frees it. NULL is a no-op. */
void xmpp_session_free(struct xmpp_session *s);

/* Logs in anew (ending a session still open) within timeout_s. 0, or a negative errno with
 * *err: connect, timeout, tls (the handshake or the certificate), auth (credentials refused),
 * stream (a stream error, or the stream closed before the login ended). */
int xmpp_session_login(struct xmpp_session *s, const struct xmpp_account *account, double timeout_s,
                       struct probe_error *err);
/* Whether the session is logged in and has not ended since. */
bool xmpp_session_logged_in(const struct xmpp_session *s);
/* Seconds since the session logged in; its last login's duration (NaN before one). */
double xmpp_session_age(const struct xmpp_session *s);
double xmpp_session_login_duration(const struct xmpp_session *s);
bool xmpp_session_encrypted(const struct xmpp_session *s);
/* The session's full JID as the server bound it; NULL when not logged in. */
const char *xmpp_session_bound_jid(const struct xmpp_session *s);

/* Pings the server; 0 with *rtt_s, or a negative errno with *err: timeout (no answer), or
 * stream / connect when the session ended meanwhile (-ECONNRESET). */
int xmpp_session_ping(struct xmpp_session *s, double timeout_s, double *rtt_s,
                      struct probe_error *err);

/* A XEP-0199 ping to a remote XMPP domain, which the server carries over s2s. */
#define XMPP_DOMAIN_SIZE 256 /* a domain name of up to 253 characters, and its NUL */
struct xmpp_remote_ping {
  char remote[XMPP_DOMAIN_SIZE]; /* the domain pinged, set by the caller */
  double success;                /* 1 answered, 0 failed, NaN unknown (no session) */
  double rtt_s;                  /* the round trip of a result; NaN without one */
  /* Why it failed: the stanza error as "type/condition" (e.g. "wait/remote-server-timeout"),
   * or "no answer within 2.0s"; "" otherwise. Bounded and free of the server's prose. */
  char reason[64];
  char text[160]; /* the stanza error's <text>, for the log; "" without */
};

/* Pings every remote of pings[0..n) at once over the logged-in session and waits until each
 * is answered or timeout_s passed, once for all of them: a remote that never answers (a
 * frozen peer) costs one timeout, not one each. A result iq succeeds; an error iq fails with
 * its type and condition; no answer fails with "no answer within Xs". 0, -ENOTCONN when not
 * logged in (every success NaN), -ECONNRESET when the session ended meanwhile (the
 * unanswered ones NaN), or -ENOMEM. */
int xmpp_session_ping_remotes(struct xmpp_session *s, struct xmpp_remote_ping *pings, size_t n,
                              double timeout_s);

/* The reason and text of the stanza error in stanza_xml (an iq of type error, as a server
 * sends it): reason "type/condition" (type "unknown" and condition "undefined-condition" when
 * missing), text the <text> with control characters as spaces, both truncated to size. 0, or
 * -EINVAL when stanza_xml is not XML, or -ENOMEM. Pure: what the pings use, for tests. */
int xmpp_stanza_error_describe(const char *stanza_xml, char *reason, size_t reason_size, char *text,
                               size_t text_size);

/* Whether from, the sender of an answer to a ping sent to domain, is that domain: a bare
 * domain (no local part, no resource), the same but for ASCII case and a final dot. NULL
 * never is. Pure: what the s2s pings check their answers with, for tests. */
bool xmpp_reply_from_matches(const char *from, const char *domain);
/* Whether from may answer what the account jid ("user@domain[/resource]") sent to its own
 * server (RFC 6120 section 8.1.2.1): no from at all, the server's domain, or the account's
 * bare JID; never another account or a full JID. Pure, likewise. */
bool xmpp_reply_from_own_server(const char *from, const char *jid);

/* Whether name is a domain as s2s_ping takes it: 1 to 253 characters, no '@', '/', ':', quote,
 * markup or white space, no empty label. */
bool xmpp_domain_valid(const char *name);

/* Sends a probe message with nonce to the full JID to: type headline with the XEP-0334 hints
 * no-store and no-permanent-store, so that no offline storage or archive keeps it. */
int xmpp_session_send_probe(struct xmpp_session *s, const char *to, const char *nonce);
/* Waits for the probe message carrying nonce from now on: xmpp_session_arrival then says
 * when it arrived (monotonic seconds), NaN until it has. */
void xmpp_session_expect(struct xmpp_session *s, const char *nonce);
double xmpp_session_arrival(const struct xmpp_session *s);

/* Runs the sessions' loops, each in turn, until done(ctx) or the monotonic deadline. */
void xmpp_sessions_run(struct xmpp_session *const *sessions, size_t n, bool (*done)(void *ctx),
                       void *ctx, double deadline);

/* Closes the stream (the server ends the session now) and drops the connection. */
void xmpp_session_end(struct xmpp_session *s);

/* Whether a JID has a local part and a domain ("user@domain", an optional "/resource"). */
bool xmpp_jid_valid(const char *jid);

/* libstrophe's set-up, before any session and after the last; every kind that uses
 * sessions calls both (main thread only); the library is set up once. */
void xmpp_session_library_init(void);
void xmpp_session_library_end(void);

#endif
