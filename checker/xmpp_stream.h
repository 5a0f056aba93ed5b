/* The XMPP stream probe: opens a c2s stream the way a client does (STARTTLS, or XEP-0368
 * direct TLS from the first byte), reads the server's features, completes the TLS handshake
 * and verifies the certificate (tls_verify.h); when an s2s address is configured, also opens
 * a jabber:server stream there, at the same time, and does the same with the s2s SRV-ID
 * form. A plain socket with poll() timeouts; no XMPP library. */
#ifndef REPLMON_XMPP_STREAM_H
#define REPLMON_XMPP_STREAM_H

#include "xmpp.h"

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>

#define XMPP_STREAM_READ_LIMIT (64 * 1024) /* a server sending more before its features fails */

struct xmpp_stream_target {
  const char *host; /* borrowed */
  unsigned port;
  const char *domain; /* the `to` of the stream and the TLS server name */
  bool direct_tls;    /* XEP-0368: TLS from the first byte, then the stream inside it */
  bool server;        /* a jabber:server stream (s2s) instead of jabber:client */
  double connect_timeout_s;
  double timeout_s; /* for everything after the connect */
};

enum stream_scan { STREAM_INCOMPLETE, STREAM_FEATURES, STREAM_ERROR };

/* Looks at what the server sent so far: the end of its features, or a stream error.
 * On STREAM_FEATURES sets starttls_offered/required; on STREAM_ERROR sets stream_error to
 * the condition ("host-unknown"; "undefined-condition" when it names none). */
enum stream_scan xmpp_stream_scan(const char *data, size_t len, struct xmpp_stream_status *out);

/* The DER certificates a server presented, its own first (owned: peer_chain_clear). */
struct peer_chain {
  gnutls_datum_t der[8];
  size_t n;
};
void peer_chain_clear(struct peer_chain *chain);

/* Opens one stream. Returns 0 when the server sent its features (and, if it offered
 * STARTTLS or the target is direct TLS, the handshake completed: *chain then holds what it
 * presented), else a negative errno with *err set: connect, timeout, stream (a stream
 * error), tls, or parse (something that is not an XMPP stream). Sets out's known,
 * starttls_offered/required and stream_error. */
int xmpp_stream_open(const struct xmpp_stream_target *target, struct xmpp_stream_status *out,
                     struct peer_chain *chain, struct probe_error *err);

/* Sets each endpoint's latest verdict (verdict_known, verdict_verified, verdict_problem) in
 * now: its own when its handshake completed, else last's (NULL: none), which a failed poll
 * cannot tell. 0, or -ENOMEM. What every poll does, for tests. */
int xmpp_stream_carry_verdicts(const struct xmpp_stream_status *last,
                               struct xmpp_stream_status *now);

/* The settings of the stream probe kind. Borrowed. */
struct xmpp_stream_settings {
  const char *host; /* c2s; NULL when only s2s is probed */
  unsigned port;
  const char *domain;
  bool direct_tls;
  const char *s2s_host; /* NULL: no s2s stream */
  unsigned s2s_port;
  const char *ca_file; /* what the certificates are verified against; NULL: the system's */
};

/* New connections at every poll, as a client (and a peer server) makes; data: struct
 * xmpp_stream_status. */
extern const struct probe_ops xmpp_stream_probe_ops;

#endif
