#include "xmpp_session.h"
#include "buf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <sys/socket.h>

#define NS_PING "urn:xmpp:ping"
#define NS_HINTS "urn:xmpp:hints"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define PROBE_BODY "replmon delivery probe "
#define RUN_STEP_MS 20UL /* the longest a wait in libstrophe's loop sleeps before we look */

bool xmpp_jid_valid(const char *jid) {
  const char *at = strchr(jid, '@');
  if (!at || at == jid || strchr(at + 1, '@'))
    return false;
  size_t domain = strcspn(at + 1, "/");
  return domain > 0 && !memchr(jid, ' ', strlen(jid));
}

bool xmpp_domain_valid(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len > XMPP_DOMAIN_SIZE - 3 || name[0] == '.' || name[len - 1] == '.' ||
      strstr(name, ".."))
    return false;
  for (const char *c = name; *c; c++)
    if ((unsigned char)*c <= ' ' || (unsigned char)*c == 0x7f || strchr("@/:\\'\"<>&", *c))
      return false;
  return true;
}

static char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether the domains a and b (of alen and blen bytes) are the same: ASCII letters in either
 * case, and a final dot dropped first (RFC 7622 section 3.2). */
static bool same_domain(const char *a, size_t alen, const char *b, size_t blen) {
  if (alen > 0 && a[alen - 1] == '.')
    alen--;
  if (blen > 0 && b[blen - 1] == '.')
    blen--;
  if (alen == 0 || alen != blen)
    return false;
  for (size_t i = 0; i < alen; i++)
    if (ascii_lower(a[i]) != ascii_lower(b[i]))
      return false;
  return true;
}

bool xmpp_reply_from_matches(const char *from, const char *domain) {
  if (!from || !domain || strpbrk(from, "@/"))
    return false;
  return same_domain(from, strlen(from), domain, strlen(domain));
}

bool xmpp_reply_from_own_server(const char *from, const char *jid) {
  if (!from)
    return true;
  const char *at = jid ? strchr(jid, '@') : NULL;
  if (!at || strchr(from, '/'))
    return false;
  const char *domain = at + 1;
  size_t domain_len = strcspn(domain, "/");
  const char *from_at = strchr(from, '@');
  if (!from_at)
    return same_domain(from, strlen(from), domain, domain_len);
  /* The account's bare JID: the server answers on the account's behalf. Its local part as
   * the server bound it, which is how the server writes it. */
  size_t local_len = (size_t)(at - jid);
  return (size_t)(from_at - from) == local_len && strncmp(from, jid, local_len) == 0 &&
         !strchr(from_at + 1, '@') &&
         same_domain(from_at + 1, strlen(from_at + 1), domain, domain_len);
}

static bool same_text(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool xmpp_account_same(const struct xmpp_account *a, const struct xmpp_account *b) {
  return same_text(a->host, b->host) && a->port == b->port && same_text(a->jid, b->jid) &&
         same_text(a->password, b->password) && same_text(a->ca_file, b->ca_file) &&
         a->insecure_skip_verify == b->insecure_skip_verify && a->direct_tls == b->direct_tls;
}

const enum probe_reason xmpp_session_reasons[XMPP_SESSION_N_REASONS] = {
    REASON_CONNECT, REASON_TIMEOUT, REASON_TLS, REASON_AUTH, REASON_STREAM};

bool xmpp_session_backs_off(enum probe_reason reason) {
  return reason == REASON_CONNECT;
}

bool xmpp_session_needs_person(enum probe_reason reason) {
  return reason == REASON_AUTH || reason == REASON_TLS;
}

/* Every kind that uses sessions sets the library up; libstrophe wants it once. Called only
 * from the main thread before and after the pollers, so a plain counter does. */
static int library_users;

void xmpp_session_library_init(void) {
  if (library_users++ == 0)
    xmpp_initialize();
}

void xmpp_session_library_end(void) {
  if (library_users > 0 && --library_users == 0)
    xmpp_shutdown();
}

/* One connection to the server and what its handlers learned. */
struct xmpp_session {
  xmpp_ctx_t *ctx;
  xmpp_log_t log;
  xmpp_conn_t *conn; /* NULL without a connection */
  int fd;            /* its socket, or -1 */
  bool logged_in;    /* the server accepted the login, and the session has not ended */
  bool ended;        /* the attempt or the session ended */
  double attempt_started;
  double logged_in_at; /* monotonic */
  double login_duration_s;
  /* Why it ended, from the handlers and libstrophe's log. */
  int error;
  char stream_condition[64];
  bool auth_failed;
  bool tls_failed;
  char tls_problem[160];
  /* The ping in flight. */
  unsigned long pings;
  char ping_id[32];
  bool ping_answered;
  size_t remotes_pending; /* remote pings in flight without an answer */
  /* The probe message awaited, and when it arrived (NaN until it has). */
  char expected[80];
  double arrival;
};

/* libstrophe's certificate handler has no user data; each thread runs one session at a time. */
static _Thread_local struct xmpp_session *verifying;

static void copy_text(char *out, size_t size, const char *text) {
  snprintf(out, size, "%s", text ? text : "");
}

/* libstrophe says why a login failed only in its log: SASL failures and TLS errors. */
static void on_log(void *userdata, xmpp_log_level_t level, const char *area, const char *msg) {
  struct xmpp_session *s = userdata;
  if ((strcmp(area, "xmpp") == 0 && strstr(msg, "auth failed")) ||
      (strcmp(area, "auth") == 0 && level >= XMPP_LEVEL_ERROR))
    s->auth_failed = true;
  if (strcmp(area, "tls") == 0 && level >= XMPP_LEVEL_ERROR && !s->tls_failed) {
    s->tls_failed = true;
    copy_text(s->tls_problem, sizeof(s->tls_problem), msg);
  }
}

/* A certificate that does not verify: refused, and the reason kept. */
static int on_certfail(const xmpp_tlscert_t *cert, const char *errormsg) {
  (void)cert;
  if (verifying && !verifying->tls_failed) {
    verifying->tls_failed = true;
    snprintf(verifying->tls_problem, sizeof(verifying->tls_problem), "certificate: %s",
             errormsg ? errormsg : "not valid");
  }
  return 0;
}

/* Keeps the connection's socket, for end_session. Runs inside xmpp_connect_client. */
static int on_socket(xmpp_conn_t *conn, void *sock) {
  (void)conn;
  if (verifying)
    verifying->fd = *(const int *)sock;
  return 0;
}

/* Answers the server's own pings, so that an idle session between polls stays up. */
static int on_server_ping(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata) {
  (void)userdata;
  if (!xmpp_stanza_get_child_by_name_and_ns(stanza, "ping", NS_PING))
    return 1;
  xmpp_stanza_t *reply = xmpp_stanza_reply(stanza);
  if (reply) {
    xmpp_stanza_set_type(reply, "result");
    xmpp_send(conn, reply);
    xmpp_stanza_release(reply);
  }
  return 1;
}

/* The text of an element, NULL when it has none (<body/>, <text/>): libstrophe's
 * xmpp_stanza_get_text_ptr does not take NULL. */
static const char *element_text(xmpp_stanza_t *element) {
  xmpp_stanza_t *child = element ? xmpp_stanza_get_children(element) : NULL;
  return child ? xmpp_stanza_get_text_ptr(child) : NULL;
}

/* A probe message: its arrival is noted when it carries the nonce awaited. */
static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata) {
  (void)conn;
  struct xmpp_session *s = userdata;
  xmpp_stanza_t *body = xmpp_stanza_get_child_by_name(stanza, "body");
  const char *text = element_text(body);
  if (text && s->expected[0] && isnan(s->arrival) && strcmp(text, s->expected) == 0)
    s->arrival = clock_monotonic_seconds();
  return 1;
}

static void on_connection(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                          xmpp_stream_error_t *stream_error, void *userdata) {
  struct xmpp_session *s = userdata;
  if (event == XMPP_CONN_RAW_CONNECT)
    return;
  if (event == XMPP_CONN_CONNECT) {
    s->logged_in = true;
    s->logged_in_at = clock_monotonic_seconds();
    s->login_duration_s = s->logged_in_at - s->attempt_started;
    xmpp_handler_add(conn, on_server_ping, NS_PING, "iq", "get", s);
    xmpp_handler_add(conn, on_message, NULL, "message", NULL, s);
    return;
  }
  s->logged_in = false;
  s->ended = true;
  s->error = error;
  if (stream_error && stream_error->stanza && !s->stream_condition[0]) {
    xmpp_stanza_t *condition = xmpp_stanza_get_children(stream_error->stanza);
    copy_text(s->stream_condition, sizeof(s->stream_condition),
              condition ? xmpp_stanza_get_name(condition) : "undefined-condition");
  }
}

/* Runs libstrophe's loop until done(s) or the monotonic deadline. */
static void run_until(struct xmpp_session *s, bool (*done)(const struct xmpp_session *),
                      double deadline) {
  while (!done(s)) {
    double left = deadline - clock_monotonic_seconds();
    if (left <= 0)
      break;
    unsigned long ms = (unsigned long)(left * 1000) + 1;
    xmpp_run_once(s->ctx, ms < RUN_STEP_MS ? ms : RUN_STEP_MS);
  }
}

static bool login_done(const struct xmpp_session *s) {
  return s->logged_in || s->ended;
}

static bool ping_done(const struct xmpp_session *s) {
  return s->ping_answered || s->ended;
}

/* Closes the stream and drops the connection. */
void xmpp_session_end(struct xmpp_session *s) {
  if (!s->conn)
    return;
  if (s->logged_in) {
    xmpp_disconnect(s->conn); /* queues </stream:stream>: the server ends the session now */
    xmpp_run_once(s->ctx, 1); /* and sends it */
  }
  /* libstrophe's TLS shutdown waits up to a second for the peer's close_notify, which a
   * frozen server never sends: with the socket shut down first it gives up at once. */
  if (s->fd >= 0)
    shutdown(s->fd, SHUT_RDWR);
  xmpp_conn_release(s->conn); /* closes the socket */
  s->conn = NULL;
  s->fd = -1;
  s->logged_in = false;
}

/* The failure of a login attempt that did not succeed, from what the handlers saw. */
static int classify_failure(const struct xmpp_session *s, double timeout_s,
                            struct probe_error *err) {
  if (!s->ended) {
    probe_error_set(err, REASON_TIMEOUT, "no login within %.1fs", timeout_s);
    return -ETIMEDOUT;
  }
  if (s->tls_failed) {
    probe_error_set(err, REASON_TLS, "TLS: %s", s->tls_problem);
    return -EPROTO;
  }
  if (s->stream_condition[0]) {
    probe_error_set(err, REASON_STREAM, "stream error: %s", s->stream_condition);
    return -EPROTO;
  }
  if (s->auth_failed) {
    probe_error_set(err, REASON_AUTH, "the server refused the account's credentials");
    return -EACCES;
  }
  if (s->error == ETIMEDOUT) {
    probe_error_set(err, REASON_TIMEOUT, "connect: timed out");
    return -ETIMEDOUT;
  }
  if (s->error) {
    probe_error_set(err, REASON_CONNECT, "connect: %s", strerror(s->error));
    return -ECONNREFUSED;
  }
  probe_error_set(err, REASON_STREAM, "the server closed the stream before the login ended");
  return -EPROTO;
}

int xmpp_session_login(struct xmpp_session *s, const struct xmpp_account *st, double timeout_s,
                       struct probe_error *err) {
  xmpp_session_end(s);
  s->ended = s->auth_failed = s->tls_failed = false;
  s->error = 0;
  s->stream_condition[0] = s->tls_problem[0] = '\0';
  s->conn = xmpp_conn_new(s->ctx);
  if (!s->conn) {
    probe_error_set(err, REASON_NONE, "out of memory");
    return -ENOMEM;
  }
  /* No stream management: a session that ends must end on the server too. */
  long flags = XMPP_CONN_FLAG_DISABLE_SM;
  if (st->insecure_skip_verify)
    flags |= XMPP_CONN_FLAG_TRUST_TLS;
  if (st->direct_tls)
    flags |= XMPP_CONN_FLAG_LEGACY_SSL; /* libstrophe's name for TLS from the first byte */
  xmpp_conn_set_flags(s->conn, flags);
  xmpp_conn_set_jid(s->conn, st->jid);
  xmpp_conn_set_pass(s->conn, st->password);
  if (st->ca_file)
    xmpp_conn_set_cafile(s->conn, st->ca_file);
  xmpp_conn_set_certfail_handler(s->conn, on_certfail);
  xmpp_conn_set_sockopt_callback(s->conn, on_socket);
  s->attempt_started = clock_monotonic_seconds();
  verifying = s;
  int rc = xmpp_connect_client(s->conn, st->host, (unsigned short)st->port, on_connection, s);
  if (rc != XMPP_EOK) {
    verifying = NULL;
    probe_error_set(err, REASON_CONNECT, "connect: cannot start a connection to %s:%u", st->host,
                    st->port);
    xmpp_session_end(s);
    return -ECONNREFUSED;
  }
  run_until(s, login_done, s->attempt_started + timeout_s);
  verifying = NULL;
  if (s->logged_in)
    return 0;
  rc = classify_failure(s, timeout_s, err);
  xmpp_session_end(s);
  return rc;
}

/* The answer to our ping. A server without XEP-0199 answers with an error
 * (service-unavailable): that still proves the session and the server alive, so any answer
 * counts, but only from the server: an iq with the same id from another JID (a contact, a
 * remote) is no proof, and is ignored. */
static int on_ping_reply(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata) {
  struct xmpp_session *s = userdata;
  const char *id = xmpp_stanza_get_id(stanza);
  if (!id || strcmp(id, s->ping_id) != 0 ||
      !xmpp_reply_from_own_server(xmpp_stanza_get_from(stanza), xmpp_conn_get_bound_jid(conn)))
    return 1;
  s->ping_answered = true;
  return 1;
}

/* Pings the server over the session: 0 with the round trip, or a failure. */
int xmpp_session_ping(struct xmpp_session *s, double timeout_s, double *rtt,
                      struct probe_error *err) {
  snprintf(s->ping_id, sizeof(s->ping_id), "replmon-ping-%lu", ++s->pings);
  s->ping_answered = false;
  xmpp_stanza_t *iq = xmpp_iq_new(s->ctx, "get", s->ping_id);
  xmpp_stanza_t *body = xmpp_stanza_new(s->ctx);
  if (!iq || !body) {
    if (iq)
      xmpp_stanza_release(iq);
    if (body)
      xmpp_stanza_release(body);
    probe_error_set(err, REASON_NONE, "out of memory");
    return -ENOMEM;
  }
  xmpp_stanza_set_name(body, "ping");
  xmpp_stanza_set_ns(body, NS_PING);
  xmpp_stanza_add_child(iq, body);
  xmpp_stanza_release(body);
  char *domain = xmpp_jid_domain(s->ctx, xmpp_conn_get_bound_jid(s->conn));
  if (domain) {
    xmpp_stanza_set_to(iq, domain);
    xmpp_free(s->ctx, domain);
  }
  xmpp_id_handler_add(s->conn, on_ping_reply, s->ping_id, s);
  double sent = clock_monotonic_seconds();
  xmpp_send(s->conn, iq);
  xmpp_stanza_release(iq);
  run_until(s, ping_done, sent + timeout_s);
  if (s->conn)
    xmpp_id_handler_delete(s->conn, on_ping_reply, s->ping_id);
  if (s->ping_answered) {
    *rtt = clock_monotonic_seconds() - sent;
    return 0;
  }
  if (s->ended) {
    probe_error_set(err, s->stream_condition[0] ? REASON_STREAM : REASON_CONNECT,
                    "the session ended%s%s", s->stream_condition[0] ? ": stream error " : "",
                    s->stream_condition);
    return -ECONNRESET;
  }
  probe_error_set(err, REASON_TIMEOUT, "no answer to a ping within %.1fs", timeout_s);
  return -ETIMEDOUT;
}

/* Copies the first size - 1 characters of text into out, control characters as spaces:
 * a server's words for the log and the status page, never to split a log line. */
static void copy_printable(char *out, size_t size, const char *text) {
  size_t i = 0;
  for (; text && text[i] && i + 1 < size; i++)
    out[i] = (unsigned char)text[i] < ' ' || text[i] == 0x7f ? ' ' : text[i];
  if (size > 0)
    out[i] = '\0';
}

/* Whether word is a short token of letters, digits and '-' (an error type or condition). */
static bool is_token(const char *word) {
  size_t len = word ? strlen(word) : 0;
  return len > 0 && len <= 40 && strspn(word, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

/* The stanza error of an iq: "type/condition", and its <text>. */
static void describe_error(xmpp_stanza_t *stanza, char *reason, size_t reason_size, char *text,
                           size_t text_size) {
  xmpp_stanza_t *error = xmpp_stanza_get_child_by_name(stanza, "error");
  const char *type = error ? xmpp_stanza_get_type(error) : NULL;
  const char *condition = NULL, *words = NULL;
  for (xmpp_stanza_t *c = error ? xmpp_stanza_get_children(error) : NULL; c;
       c = xmpp_stanza_get_next(c)) {
    const char *ns = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_ns(c) : NULL;
    if (!ns || strcmp(ns, NS_STANZAS) != 0)
      continue; /* application-specific conditions say more only to their application */
    const char *name = xmpp_stanza_get_name(c);
    if (strcmp(name, "text") == 0)
      words = element_text(c);
    else if (!condition)
      condition = name;
  }
  /* A server's reply is input: only tokens go into the reason, which health and logs show. */
  snprintf(reason, reason_size, "%s/%s", is_token(type) ? type : "unknown",
           is_token(condition) ? condition : "undefined-condition");
  copy_printable(text, text_size, words);
}

int xmpp_stanza_error_describe(const char *stanza_xml, char *reason, size_t reason_size, char *text,
                               size_t text_size) {
  xmpp_ctx_t *ctx = xmpp_ctx_new(NULL, NULL);
  if (!ctx)
    return -ENOMEM;
  xmpp_stanza_t *stanza = xmpp_stanza_new_from_string(ctx, stanza_xml);
  if (stanza) {
    describe_error(stanza, reason, reason_size, text, text_size);
    xmpp_stanza_release(stanza);
  }
  xmpp_ctx_free(ctx);
  return stanza ? 0 : -EINVAL;
}

/* One remote ping in flight. */
struct remote_wait {
  struct xmpp_session *s;
  struct xmpp_remote_ping *ping;
  char id[48];
  double sent;
  bool answered;
};

/* The answer of a remote (or of our server on its behalf): a result, or a stanza error. Either
 * comes from the domain pinged (an error our server makes for it carries the domain too,
 * RFC 6120 section 8.3.1); an iq with the same id from any other JID is not its answer. */
static int on_remote_reply(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata) {
  (void)conn;
  struct remote_wait *w = userdata;
  const char *type = xmpp_stanza_get_type(stanza);
  bool result = type && strcmp(type, "result") == 0;
  if (w->answered || !type || (!result && strcmp(type, "error") != 0) ||
      !xmpp_reply_from_matches(xmpp_stanza_get_from(stanza), w->ping->remote))
    return 1;
  w->answered = true;
  w->s->remotes_pending--;
  if (result) {
    w->ping->success = 1;
    w->ping->rtt_s = clock_monotonic_seconds() - w->sent;
  } else {
    w->ping->success = 0;
    describe_error(stanza, w->ping->reason, sizeof(w->ping->reason), w->ping->text,
                   sizeof(w->ping->text));
  }
  return 1;
}

static bool remotes_done(const struct xmpp_session *s) {
  return s->remotes_pending == 0 || s->ended;
}

/* An iq get with a XEP-0199 ping for to; NULL when out of memory. */
static xmpp_stanza_t *ping_iq(xmpp_ctx_t *ctx, const char *id, const char *to) {
  xmpp_stanza_t *iq = xmpp_iq_new(ctx, "get", id);
  xmpp_stanza_t *body = xmpp_stanza_new(ctx);
  bool ok = iq && body && xmpp_stanza_set_name(body, "ping") == XMPP_EOK &&
            xmpp_stanza_set_ns(body, NS_PING) == XMPP_EOK &&
            xmpp_stanza_add_child(iq, body) == XMPP_EOK &&
            (!to || xmpp_stanza_set_to(iq, to) == XMPP_EOK);
  if (body)
    xmpp_stanza_release(body);
  if (!ok && iq) {
    xmpp_stanza_release(iq);
    iq = NULL;
  }
  return iq;
}

int xmpp_session_ping_remotes(struct xmpp_session *s, struct xmpp_remote_ping *pings, size_t n,
                              double timeout_s) {
  for (size_t i = 0; i < n; i++) {
    pings[i].success = pings[i].rtt_s = NAN;
    pings[i].reason[0] = pings[i].text[0] = '\0';
  }
  if (!s->logged_in)
    return -ENOTCONN;
  if (n == 0)
    return 0;
  struct remote_wait *waits = calloc(n, sizeof(*waits));
  if (!waits)
    return -ENOMEM;
  unsigned long round = ++s->pings;
  size_t sent = 0;
  s->remotes_pending = 0;
  int rc = 0;
  for (; sent < n; sent++) {
    struct remote_wait *w = &waits[sent];
    *w = (struct remote_wait){.s = s, .ping = &pings[sent]};
    snprintf(w->id, sizeof(w->id), "replmon-s2s-%lu-%zu", round, sent);
    xmpp_stanza_t *iq = ping_iq(s->ctx, w->id, pings[sent].remote);
    if (!iq) {
      rc = -ENOMEM;
      break;
    }
    xmpp_id_handler_add(s->conn, on_remote_reply, w->id, w);
    w->sent = clock_monotonic_seconds();
    xmpp_send(s->conn, iq);
    xmpp_stanza_release(iq);
    s->remotes_pending++;
  }
  /* One deadline for all: the pings travel together. */
  double deadline = (sent > 0 ? waits[0].sent : clock_monotonic_seconds()) + timeout_s;
  run_until(s, remotes_done, deadline);
  for (size_t i = 0; i < sent; i++) {
    if (s->conn)
      xmpp_id_handler_delete(s->conn, on_remote_reply, waits[i].id);
    if (!waits[i].answered && !s->ended) {
      pings[i].success = 0;
      snprintf(pings[i].reason, sizeof(pings[i].reason), "no answer within %.1fs", timeout_s);
    }
  }
  free(waits);
  if (rc == 0 && s->ended)
    rc = -ECONNRESET;
  return rc;
}

/* ---- the rest of the contract ---- */

struct xmpp_session *xmpp_session_new(void) {
  struct xmpp_session *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->log = (xmpp_log_t){on_log, s};
  s->ctx = xmpp_ctx_new(NULL, &s->log);
  if (!s->ctx) {
    free(s);
    return NULL;
  }
  s->login_duration_s = NAN;
  s->arrival = NAN;
  s->fd = -1;
  return s;
}

void xmpp_session_free(struct xmpp_session *s) {
  if (!s)
    return;
  xmpp_session_end(s);
  xmpp_ctx_free(s->ctx);
  free(s);
}

bool xmpp_session_logged_in(const struct xmpp_session *s) {
  return s->logged_in;
}

double xmpp_session_age(const struct xmpp_session *s) {
  return s->logged_in ? clock_monotonic_seconds() - s->logged_in_at : NAN;
}

double xmpp_session_login_duration(const struct xmpp_session *s) {
  return s->login_duration_s;
}

bool xmpp_session_encrypted(const struct xmpp_session *s) {
  return s->conn && xmpp_conn_is_secured(s->conn);
}

const char *xmpp_session_bound_jid(const struct xmpp_session *s) {
  return s->logged_in ? xmpp_conn_get_bound_jid(s->conn) : NULL;
}

int xmpp_session_send_probe(struct xmpp_session *s, const char *to, const char *nonce) {
  if (!s->logged_in)
    return -ENOTCONN;
  struct buf text = BUF_INIT;
  buf_printf(&text, PROBE_BODY "%s", nonce);
  xmpp_stanza_t *msg = text.data ? xmpp_message_new(s->ctx, "headline", to, nonce) : NULL;
  int rc = msg && xmpp_message_set_body(msg, text.data) == XMPP_EOK ? 0 : -ENOMEM;
  /* XEP-0334: neither offline storage nor an archive (MAM) is to keep a probe message. */
  static const char *const hints[] = {"no-store", "no-permanent-store"};
  for (size_t i = 0; rc == 0 && i < sizeof(hints) / sizeof(hints[0]); i++) {
    xmpp_stanza_t *hint = xmpp_stanza_new(s->ctx);
    rc = hint && xmpp_stanza_set_name(hint, hints[i]) == XMPP_EOK &&
                 xmpp_stanza_set_ns(hint, NS_HINTS) == XMPP_EOK &&
                 xmpp_stanza_add_child(msg, hint) == XMPP_EOK
             ? 0
             : -ENOMEM;
    if (hint)
      xmpp_stanza_release(hint);
  }
  if (rc == 0)
    xmpp_send(s->conn, msg);
  if (msg)
    xmpp_stanza_release(msg);
  buf_free(&text);
  return rc;
}

void xmpp_session_expect(struct xmpp_session *s, const char *nonce) {
  snprintf(s->expected, sizeof(s->expected), PROBE_BODY "%s", nonce);
  s->arrival = NAN;
}

double xmpp_session_arrival(const struct xmpp_session *s) {
  return s->arrival;
}

void xmpp_sessions_run(struct xmpp_session *const *sessions, size_t n, bool (*done)(void *ctx),
                       void *ctx, double deadline) {
  /* Short turns, so that an arrival is seen within about a millisecond on either. */
  while (!done(ctx) && clock_monotonic_seconds() < deadline)
    for (size_t i = 0; i < n; i++)
      xmpp_run_once(sessions[i]->ctx, 1);
}
