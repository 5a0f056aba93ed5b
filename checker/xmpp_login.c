#include "xmpp_login.h"
#include "xmpp_session.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void xmpp_login_status_reset(struct xmpp_login_status *status) {
  *status = (struct xmpp_login_status){.login_duration_s = NAN, .ping_rtt_s = NAN};
}

/* ---- the operations ---- */

static int library_init(void) {
  xmpp_session_library_init();
  return 0;
}

static void library_end(void) {
  xmpp_session_library_end();
}

static bool same_settings(const void *a, const void *b) {
  return xmpp_account_same(&((const struct xmpp_login_settings *)a)->account,
                           &((const struct xmpp_login_settings *)b)->account);
}

static void *open_login(const void *settings, const struct probe_timeouts *timeouts) {
  (void)settings;
  (void)timeouts;
  return xmpp_session_new();
}

static void close_login(void *conn) {
  xmpp_session_free(conn);
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
  struct xmpp_session *s = conn;
  const struct xmpp_login_settings *st = settings;
  double login_timeout_s = timeouts->connect_s + timeouts->query_s;
  struct xmpp_login_status *out = data;
  xmpp_login_status_reset(out);
  bool due = !xmpp_session_logged_in(s) || xmpp_session_age(s) >= st->relogin_interval_s;
  int rc = 0;
  if (due) {
    rc = xmpp_session_login(s, &st->account, login_timeout_s, err);
    out->fresh_login = rc == 0;
  }
  if (rc == 0) {
    rc = xmpp_session_ping(s, timeouts->query_s, &out->ping_rtt_s, err);
    if (rc != 0 && rc != -ETIMEDOUT && !due) {
      /* A kept session that ended: a new login tells whether users can still log in. (A
       * server that stopped answering is reported as it is, without waiting twice.) */
      probe_error_clear(err);
      rc = xmpp_session_login(s, &st->account, login_timeout_s, err);
      out->fresh_login = rc == 0;
      if (rc == 0)
        rc = xmpp_session_ping(s, timeouts->query_s, &out->ping_rtt_s, err);
    }
  }
  /* Rounded to the microsecond, so that /metrics shows short numbers. */
  out->login_duration_s = round(xmpp_session_login_duration(s) * 1e6) / 1e6;
  out->ping_rtt_s = round(out->ping_rtt_s * 1e6) / 1e6;
  out->logged_in = rc == 0;
  out->encrypted = xmpp_session_encrypted(s);
  if (rc != 0)
    xmpp_session_end(s);
  return rc;
}

const struct probe_ops xmpp_login_probe_ops = {
    .name = "xmpp_login",
    .reasons = xmpp_session_reasons,
    .n_reasons = XMPP_SESSION_N_REASONS,
    .library_init = library_init,
    .library_end = library_end,
    .same_settings = same_settings,
    .open = open_login,
    .close = close_login,
    .data_new = data_new,
    .data_free = data_free,
    .poll = poll_login,
    .backs_off = xmpp_session_backs_off,
    .needs_person = xmpp_session_needs_person,
};
