#include "xmpp_login.h"
#include "log.h"
#include "xmpp_session.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xmpp_login_status_reset(struct xmpp_login_status *status) {
  *status = (struct xmpp_login_status){.login_duration_s = NAN, .ping_rtt_s = NAN};
}

const struct xmpp_remote_ping *xmpp_login_s2s_find(const struct xmpp_login_status *status,
                                                   const char *remote) {
  for (size_t i = 0; status && i < status->n_s2s; i++)
    if (strcmp(status->s2s[i].remote, remote) == 0)
      return &status->s2s[i];
  return NULL;
}

/* Pings the settings' remote domains over the session into out->s2s when logged_in; unknown
 * (NaN) otherwise. 0 or -ENOMEM. */
static int ping_remotes(struct xmpp_session *s, const struct xmpp_login_settings *st,
                        double timeout_s, bool logged_in, struct xmpp_login_status *out) {
  out->s2s = calloc(st->n_s2s_remotes, sizeof(*out->s2s));
  if (!out->s2s)
    return -ENOMEM;
  out->n_s2s = st->n_s2s_remotes;
  for (size_t i = 0; i < out->n_s2s; i++) {
    struct xmpp_remote_ping *p = &out->s2s[i];
    snprintf(p->remote, sizeof(p->remote), "%s", st->s2s_remotes[i]);
    p->success = p->rtt_s = NAN;
  }
  if (!logged_in)
    return 0;
  int rc = xmpp_session_ping_remotes(s, out->s2s, out->n_s2s, timeout_s);
  for (size_t i = 0; i < out->n_s2s; i++)
    out->s2s[i].rtt_s = round(out->s2s[i].rtt_s * 1e6) / 1e6;
  return rc == -ENOMEM ? rc : 0; /* a session that ended is the next poll's to see */
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
  if (data)
    free(((struct xmpp_login_status *)data)->s2s);
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
  /* The remotes after the server: a server that does not answer its own ping is not asked
   * to carry pings elsewhere, and their results are then unknown, not failures. */
  if (st->n_s2s_remotes > 0 && ping_remotes(s, st, timeouts->query_s, rc == 0, out) != 0) {
    probe_error_clear(err);
    probe_error_set(err, REASON_NONE, "out of memory");
    return -ENOMEM;
  }
  return rc;
}

/* Logs an s2s ping that began failing, fails for another reason, or answers again: the
 * server's words (the stanza error's text) belong in the log, never in a label. A ping
 * whose result is unknown (no session) says nothing new. */
static void log_changes(const struct probe_names *who, const void *last, const void *data) {
  const struct xmpp_login_status *before = last, *now = data;
  for (size_t i = 0; i < now->n_s2s; i++) {
    const struct xmpp_remote_ping *p = &now->s2s[i];
    const struct xmpp_remote_ping *was = xmpp_login_s2s_find(before, p->remote);
    bool failed_before = was && was->success == 0;
    if (p->success == 0 && (!failed_before || strcmp(was->reason, p->reason) != 0))
      log_event(LOG_WARN, "s2s ping failing", "cluster", who->cluster, "node", who->node, "remote",
                p->remote, "reason", p->reason, "text", p->text);
    else if (p->success == 1 && failed_before)
      log_event(LOG_INFO, "s2s ping answers again", "cluster", who->cluster, "node", who->node,
                "remote", p->remote, "was", was->reason);
  }
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
    .log_changes = log_changes,
    .backs_off = xmpp_session_backs_off,
    .needs_person = xmpp_session_needs_person,
};
