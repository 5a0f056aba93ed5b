#include "xmpp_login.h"
#include "buf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <sys/socket.h>

#define NS_PING "urn:xmpp:ping"
#define RUN_STEP_MS 20UL /* the longest a wait in libstrophe's loop sleeps before we look */

void xmpp_login_status_reset(struct xmpp_login_status *status) {
  *status = (struct xmpp_login_status){.login_duration_s = NAN, .ping_rtt_s = NAN};
}

bool xmpp_login_jid_valid(const char *jid) {
  const char *at = strchr(jid, '@');
  if (!at || at == jid || strchr(at + 1, '@'))
    return false;
  size_t domain = strcspn(at + 1, "/");
  return domain > 0 && !memchr(jid, ' ', strlen(jid));
}

/* One connection to the server and what its handlers learned. */
struct session {
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
};

/* libstrophe's certificate handler has no user data; each thread runs one session at a time. */
static _Thread_local struct session *verifying;

static void copy_text(char *out, size_t size, const char *text) {
  snprintf(out, size, "%s", text ? text : "");
}

/* libstrophe says why a login failed only in its log: SASL failures and TLS errors. */
static void on_log(void *userdata, xmpp_log_level_t level, const char *area, const char *msg) {
  struct session *s = userdata;
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

static void on_connection(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                          xmpp_stream_error_t *stream_error, void *userdata) {
  struct session *s = userdata;
  if (event == XMPP_CONN_RAW_CONNECT)
    return;
  if (event == XMPP_CONN_CONNECT) {
    s->logged_in = true;
    s->logged_in_at = clock_monotonic_seconds();
    s->login_duration_s = s->logged_in_at - s->attempt_started;
    xmpp_handler_add(conn, on_server_ping, NS_PING, "iq", "get", s);
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
static void run_until(struct session *s, bool (*done)(const struct session *), double deadline) {
  while (!done(s)) {
    double left = deadline - clock_monotonic_seconds();
    if (left <= 0)
      break;
    unsigned long ms = (unsigned long)(left * 1000) + 1;
    xmpp_run_once(s->ctx, ms < RUN_STEP_MS ? ms : RUN_STEP_MS);
  }
}

static bool login_done(const struct session *s) {
  return s->logged_in || s->ended;
}

static bool ping_done(const struct session *s) {
  return s->ping_answered || s->ended;
}

/* Closes the stream and drops the connection. */
static void end_session(struct session *s) {
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
static int classify_failure(const struct session *s, double timeout_s, struct probe_error *err) {
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

static int login(struct session *s, const struct xmpp_login_settings *st,
                 const struct probe_timeouts *t, struct probe_error *err) {
  end_session(s);
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
  xmpp_conn_set_flags(s->conn, flags);
  xmpp_conn_set_jid(s->conn, st->jid);
  xmpp_conn_set_pass(s->conn, st->password);
  if (st->ca_file)
    xmpp_conn_set_cafile(s->conn, st->ca_file);
  xmpp_conn_set_certfail_handler(s->conn, on_certfail);
  xmpp_conn_set_sockopt_callback(s->conn, on_socket);
  s->attempt_started = clock_monotonic_seconds();
  double timeout_s = t->connect_s + t->query_s;
  verifying = s;
  int rc = xmpp_connect_client(s->conn, st->host, (unsigned short)st->port, on_connection, s);
  if (rc != XMPP_EOK) {
    verifying = NULL;
    probe_error_set(err, REASON_CONNECT, "connect: cannot start a connection to %s:%u", st->host,
                    st->port);
    end_session(s);
    return -ECONNREFUSED;
  }
  run_until(s, login_done, s->attempt_started + timeout_s);
  verifying = NULL;
  if (s->logged_in)
    return 0;
  rc = classify_failure(s, timeout_s, err);
  end_session(s);
  return rc;
}

/* The answer to our ping. A server without XEP-0199 answers with an error
 * (service-unavailable): that still proves the session and the server alive, so any answer
 * counts. */
static int on_ping_reply(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata) {
  (void)conn;
  struct session *s = userdata;
  const char *id = xmpp_stanza_get_id(stanza);
  if (!id || strcmp(id, s->ping_id) != 0)
    return 1;
  s->ping_answered = true;
  return 1;
}

/* Pings the server over the session: 0 with the round trip, or a failure. */
static int ping(struct session *s, double timeout_s, double *rtt, struct probe_error *err) {
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

/* ---- the operations ---- */

struct login_conn {
  struct session s;
};

static int library_init(void) {
  xmpp_initialize();
  return 0;
}

static void library_end(void) {
  xmpp_shutdown();
}

static bool same_text(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_settings(const void *a_settings, const void *b_settings) {
  const struct xmpp_login_settings *a = a_settings, *b = b_settings;
  return same_text(a->host, b->host) && a->port == b->port && same_text(a->jid, b->jid) &&
         same_text(a->password, b->password) && same_text(a->ca_file, b->ca_file) &&
         a->insecure_skip_verify == b->insecure_skip_verify;
}

static void *open_login(const void *settings, const struct probe_timeouts *timeouts) {
  (void)settings;
  (void)timeouts;
  struct login_conn *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->s.log = (xmpp_log_t){on_log, &c->s};
  c->s.ctx = xmpp_ctx_new(NULL, &c->s.log);
  if (!c->s.ctx) {
    free(c);
    return NULL;
  }
  c->s.login_duration_s = NAN;
  c->s.fd = -1;
  return c;
}

static void close_login(void *conn) {
  struct login_conn *c = conn;
  if (!c)
    return;
  end_session(&c->s);
  xmpp_ctx_free(c->s.ctx);
  free(c);
}

static void *data_new(void) {
  struct xmpp_login_status *s = malloc(sizeof(*s));
  if (s)
    xmpp_login_status_reset(s);
  return s;
}

static void data_free(void *data) {
  free(data);
}

static int poll_login(void *conn, const void *settings, const struct probe_timeouts *timeouts,
                      const void *last, void *data, struct probe_error *err) {
  (void)last;
  struct session *s = &((struct login_conn *)conn)->s;
  const struct xmpp_login_settings *st = settings;
  struct xmpp_login_status *out = data;
  xmpp_login_status_reset(out);
  bool due = !s->logged_in || clock_monotonic_seconds() - s->logged_in_at >= st->relogin_interval_s;
  int rc = 0;
  if (due) {
    rc = login(s, st, timeouts, err);
    out->fresh_login = rc == 0;
  }
  if (rc == 0) {
    rc = ping(s, timeouts->query_s, &out->ping_rtt_s, err);
    if (rc != 0 && rc != -ETIMEDOUT && !due) {
      /* A kept session that ended: a new login tells whether users can still log in. (A
       * server that stopped answering is reported as it is, without waiting twice.) */
      probe_error_clear(err);
      rc = login(s, st, timeouts, err);
      out->fresh_login = rc == 0;
      if (rc == 0)
        rc = ping(s, timeouts->query_s, &out->ping_rtt_s, err);
    }
  }
  /* Rounded to the microsecond, so that /metrics shows short numbers. */
  out->login_duration_s = round(s->login_duration_s * 1e6) / 1e6;
  out->ping_rtt_s = round(out->ping_rtt_s * 1e6) / 1e6;
  out->logged_in = rc == 0;
  out->encrypted = s->conn && xmpp_conn_is_secured(s->conn);
  if (rc != 0)
    end_session(s);
  return rc;
}

static bool backs_off(enum probe_reason reason) {
  return reason == REASON_CONNECT;
}

static bool needs_person(enum probe_reason reason) {
  return reason == REASON_AUTH || reason == REASON_TLS;
}

static const enum probe_reason reasons[] = {REASON_CONNECT, REASON_TIMEOUT, REASON_TLS, REASON_AUTH,
                                            REASON_STREAM};

const struct probe_ops xmpp_login_probe_ops = {
    .name = "xmpp_login",
    .reasons = reasons,
    .n_reasons = sizeof(reasons) / sizeof(reasons[0]),
    .library_init = library_init,
    .library_end = library_end,
    .same_settings = same_settings,
    .open = open_login,
    .close = close_login,
    .data_new = data_new,
    .data_free = data_free,
    .poll = poll_login,
    .backs_off = backs_off,
    .needs_person = needs_person,
};
