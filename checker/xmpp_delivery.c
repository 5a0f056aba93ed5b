#include "xmpp_delivery.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct delivery_conn {
  struct xmpp_session *sessions[2];
  unsigned long sent; /* numbers the nonces */
};

static void status_reset(struct xmpp_delivery_status *s) {
  *s = (struct xmpp_delivery_status){.seconds = {NAN, NAN}};
}

static int library_init(void) {
  xmpp_session_library_init();
  return 0;
}

static void library_end(void) {
  xmpp_session_library_end();
}

static bool same_settings(const void *a_settings, const void *b_settings) {
  const struct xmpp_delivery_settings *a = a_settings, *b = b_settings;
  return xmpp_account_same(&a->accounts[0], &b->accounts[0]) &&
         xmpp_account_same(&a->accounts[1], &b->accounts[1]);
}

static void close_delivery(void *conn) {
  struct delivery_conn *c = conn;
  if (!c)
    return;
  xmpp_session_free(c->sessions[0]);
  xmpp_session_free(c->sessions[1]);
  free(c);
}

static void *open_delivery(const void *settings, const struct probe_timeouts *timeouts) {
  (void)settings;
  (void)timeouts;
  struct delivery_conn *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->sessions[0] = xmpp_session_new();
  c->sessions[1] = xmpp_session_new();
  if (!c->sessions[0] || !c->sessions[1]) {
    close_delivery(c);
    return NULL;
  }
  return c;
}

static void *data_new(void) {
  struct xmpp_delivery_status *s = malloc(sizeof(*s));
  if (s)
    status_reset(s);
  return s;
}

static void data_free(void *data) {
  free(data);
}

#define FRESH_SESSION_SETTLE_S 0.2

static bool never(void *ctx) {
  (void)ctx;
  return false;
}

static bool both_arrived(void *ctx) {
  struct delivery_conn *c = ctx;
  return !isnan(xmpp_session_arrival(c->sessions[0])) &&
         !isnan(xmpp_session_arrival(c->sessions[1]));
}

static int poll_delivery(void *conn, const void *settings, const struct probe_timeouts *timeouts,
                         const void *last_data, void *data, struct probe_error *err) {
  struct delivery_conn *c = conn;
  const struct xmpp_delivery_settings *st = settings;
  const struct xmpp_delivery_status *last = last_data;
  struct xmpp_delivery_status *out = data;
  status_reset(out);
  for (int d = 0; d < 2; d++)
    out->lost_total[d] = last ? last->lost_total[d] : 0;
  /* Both sessions logged in (kept from poll to poll: a message needs a session to reach). */
  bool fresh = false;
  for (int i = 0; i < 2; i++) {
    if (xmpp_session_logged_in(c->sessions[i]))
      continue;
    fresh = true;
    int rc = xmpp_session_login(c->sessions[i], &st->accounts[i],
                                timeouts->connect_s + timeouts->query_s, err);
    if (rc != 0) {
      char *why = err->message ? strdup(err->message) : NULL;
      probe_error_set(err, err->reason, "login on %s: %s", st->nodes[i],
                      why ? why : "out of memory");
      free(why);
      return rc;
    }
  }
  /* A session just bound is known on its own node at once, on the other node a moment later
   * (ejabberd's session table is replicated asynchronously): a message sent at once can be
   * routed to nowhere and be counted lost although every user would get theirs. */
  if (fresh)
    xmpp_sessions_run(c->sessions, 2, never, NULL,
                      clock_monotonic_seconds() + FRESH_SESSION_SETTLE_S);
  char nonces[2][48];
  unsigned long id = ++c->sent;
  for (int d = 0; d < 2; d++) {
    snprintf(nonces[d], sizeof(nonces[d]), "%lx-%lu-%d", (unsigned long)clock_unix_seconds(), id,
             d);
    xmpp_session_expect(c->sessions[1 - d], nonces[d]);
  }
  double sent = clock_monotonic_seconds();
  for (int d = 0; d < 2; d++) {
    const char *to = xmpp_session_bound_jid(c->sessions[1 - d]);
    if (!to || xmpp_session_send_probe(c->sessions[d], to, nonces[d]) != 0) {
      probe_error_set(err, REASON_NONE, "out of memory");
      return -ENOMEM;
    }
  }
  xmpp_sessions_run(c->sessions, 2, both_arrived, c, sent + timeouts->query_s);
  int rc = 0;
  for (int d = 0; d < 2; d++) {
    double arrival = xmpp_session_arrival(c->sessions[1 - d]);
    out->delivered[d] = !isnan(arrival);
    if (out->delivered[d]) {
      /* Rounded to the microsecond, so that /metrics shows short numbers. */
      out->seconds[d] = round((arrival - sent) * 1e6) / 1e6;
      continue;
    }
    out->lost_total[d] += 1;
    if (rc == 0)
      probe_error_set(err, REASON_TIMEOUT, "a message from %s to %s did not arrive within %.1fs",
                      st->nodes[d], st->nodes[1 - d], timeouts->query_s);
    rc = -ETIMEDOUT;
  }
  /* A session that ended logs in again at the next poll. */
  for (int i = 0; rc != 0 && i < 2; i++)
    if (!xmpp_session_logged_in(c->sessions[i]))
      xmpp_session_end(c->sessions[i]);
  return rc;
}

const struct probe_ops xmpp_delivery_probe_ops = {
    .name = "xmpp_delivery",
    .reasons = xmpp_session_reasons,
    .n_reasons = XMPP_SESSION_N_REASONS,
    .library_init = library_init,
    .library_end = library_end,
    .same_settings = same_settings,
    .open = open_delivery,
    .close = close_delivery,
    .data_new = data_new,
    .data_free = data_free,
    .poll = poll_delivery,
    .backs_off = xmpp_session_backs_off,
    .needs_person = xmpp_session_needs_person,
};
