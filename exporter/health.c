#include "health.h"
#include "buf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *health_state_name(enum health_state state) {
  static const char *const names[HEALTH_COUNT] = {"ok", "warning", "critical", "unknown"};
  return state >= 0 && state < HEALTH_COUNT ? names[state] : "unknown";
}

int health_severity(enum health_state state) {
  switch (state) {
  case HEALTH_OK:
    return 0;
  case HEALTH_UNKNOWN:
    return 1;
  case HEALTH_WARNING:
    return 2;
  case HEALTH_CRITICAL:
    return 3;
  default:
    return 1; /* not a state: as unknown */
  }
}

const char *node_kind_name(enum node_kind kind) {
  return kind == NODE_MARIADB ? "mariadb" : "xmpp";
}

enum health_state health_judge_replication(const char *link_problem, double lag_s,
                                           const char *check_problem, double lag_warning_s,
                                           double lag_critical_s, char **reason) {
  struct buf why = BUF_INIT;
  enum health_state state = HEALTH_OK;
  if (link_problem) {
    buf_puts(&why, link_problem);
    state = HEALTH_CRITICAL;
  } else if (!isnan(lag_s) && lag_s >= lag_critical_s) {
    buf_printf(&why, "lag %.1fs >= %.1fs", lag_s, lag_critical_s);
    state = HEALTH_CRITICAL;
  } else if (!isnan(lag_s) && lag_s >= lag_warning_s) {
    buf_printf(&why, "lag %.1fs >= %.1fs", lag_s, lag_warning_s);
    state = HEALTH_WARNING;
  } else if (check_problem) {
    buf_puts(&why, check_problem);
    state = HEALTH_WARNING;
  } else if (!isnan(lag_s)) {
    buf_printf(&why, "replicating, lag %.1fs", lag_s);
  } else {
    buf_puts(&why, "replicating");
  }
  *reason = buf_steal(&why, NULL);
  return state;
}

int health_with_max_lag(const struct node_health *h, double lag_warning_s, double max_lag_s,
                        enum health_state *state, char **reason) {
  if (h->kind == NODE_MARIADB && h->replicating && !isnan(max_lag_s)) {
    *state = health_judge_replication(h->link_problem, h->lag_s, h->check_problem, lag_warning_s,
                                      max_lag_s, reason);
  } else {
    *state = h->state;
    *reason = h->reason ? strdup(h->reason) : NULL;
  }
  return *reason ? 0 : -ENOMEM;
}

void node_health_clear(struct node_health *h) {
  free(h->reason);
  free(h->link_problem);
  free(h->check_problem);
  free(h->dependency_problem);
  h->reason = h->link_problem = h->check_problem = h->dependency_problem = NULL;
}
