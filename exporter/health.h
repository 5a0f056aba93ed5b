/* Health of each configured node (MariaDB and XMPP): ok, warning, critical or unknown, with
 * a one-line reason. One function of the snapshot, shared by /health, the status page,
 * replmon-check, the state metrics and the state-change log. */
#ifndef REPLMON_HEALTH_H
#define REPLMON_HEALTH_H

#include "snapshot.h"

#include <stddef.h>

enum health_state { HEALTH_OK, HEALTH_WARNING, HEALTH_CRITICAL, HEALTH_UNKNOWN, HEALTH_COUNT };

/* How bad a state is, to pick the worst of several: ok < unknown < warning < critical, as the
 * monitoring plugins rank them (a known problem outranks a node that cannot be told). */
int health_severity(enum health_state state);

/* "ok", "warning", "critical", "unknown": the state label of replmon_target_state. */
const char *health_state_name(enum health_state state);

struct node_health {
  const char *kind;    /* "mariadb" or "xmpp" */
  const char *cluster; /* borrowed from the snapshot's config */
  const char *node;
  enum health_state state;
  char *reason;       /* owned: why (or "replicating", "answering") */
  double lag_s;       /* MariaDB: the worst lag of the node's links; NaN when unknown */
  size_t target;      /* the node's main target in the snapshot */
  long stream_target; /* XMPP: the stream probe's target, or -1 */
};

/* Evaluates every node: MariaDB nodes first, then XMPP nodes, in configuration order.
 * max_lag_s replaces lag_critical when it is not NaN (for /health?max_lag=). Rules:
 * MariaDB critical when unreachable, when an expected link is broken or missing, or when
 * lag >= lag_critical; warning when lag >= lag_warning or a pair check fails. XMPP critical
 * when its API or its stream probe fails; warning when the API refused a command. Unknown
 * until the first poll. Lag is the heartbeat lag where there is one, else
 * Seconds_Behind_Master. Returns 0 or -ENOMEM; free with health_free. */
int health_evaluate(const struct snapshot *s, double max_lag_s, struct node_health **out,
                    size_t *n);
void health_free(struct node_health *list, size_t n);

#endif
