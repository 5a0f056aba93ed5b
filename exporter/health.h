/* Health of each configured node (MariaDB and XMPP): ok, warning, critical or unknown, with a
 * one-line reason. The analysis (analysis.h) evaluates it once per snapshot with these rules;
 * /health, the status page, replmon-check, the state metrics and the state-change log read it.
 *
 * Rules: a MariaDB node is critical when replmon cannot poll it and no peer sees it alive
 * (reason "down: ..." when a peer's connection from it confirms, "unreachable: ..." when no
 * peer can tell), when an expected link is broken or missing, or when lag >= lag_critical;
 * warning when replmon cannot poll it but a peer's connection from it is alive ("unreachable
 * from replmon, alive per PEER: ..."), when lag >= lag_warning or a pair check fails. An XMPP
 * node is critical when its API, its (c2s) stream probe or its logged-in probe fails; warning
 * when only its s2s stream fails, a certificate it presents is not verified (unless
 * tls.insecure_skip_verify), the API refused a command, a database it depends on is critical,
 * or its ejabberd cluster's members disagree. Unknown until the first poll of each of its probes.
 * Lag is the heartbeat lag where there is one, else Master_Slave_time_diff (MariaDB 11.6+), else
 * Seconds_Behind_Master (pair_link_lag), less the link's SQL_Delay (never below 0): a replica
 * delayed on purpose is judged by what it trails beyond its delay. */
#ifndef REPLMON_HEALTH_H
#define REPLMON_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

enum health_state { HEALTH_OK, HEALTH_WARNING, HEALTH_CRITICAL, HEALTH_UNKNOWN, HEALTH_COUNT };

/* How bad a state is, to pick the worst of several: ok < unknown < warning < critical, as the
 * monitoring plugins rank them (a known problem outranks a node that cannot be told). */
int health_severity(enum health_state state);

/* "ok", "warning", "critical", "unknown": the state label of replmon_target_state. */
const char *health_state_name(enum health_state state);

enum node_kind { NODE_MARIADB, NODE_XMPP };

/* "mariadb" or "xmpp". */
const char *node_kind_name(enum node_kind kind);

struct node_health {
  enum node_kind kind;
  const char *cluster; /* borrowed from the configuration */
  const char *node;
  enum health_state state;
  char *reason;       /* owned: why (or "replicating", "answering") */
  double since_unix;  /* when the node entered state (as far as this process saw) */
  double lag_s;       /* MariaDB: the worst lag beyond delay of its links; NaN when unknown */
  size_t target;      /* the node's main target */
  long stream_target; /* XMPP: the stream probe's target, or -1 */
  /* A MariaDB node that answered is judged from these (health_judge_replication), so that
   * /health?max_lag= can judge it again against another limit. Owned; NULL when none. */
  bool replicating;
  char *link_problem;  /* the first broken or missing expected link */
  char *check_problem; /* the first failed pair check */
  /* XMPP: the database (depends_on) that is critical, which makes the node warning; owned,
   * NULL when none. */
  char *dependency_problem;
};

/* The state of a MariaDB node that answered, and *reason (owned by the caller; NULL when out
 * of memory): a link problem is critical; then lag >= lag_critical_s critical, lag >=
 * lag_warning_s warning; then a check problem warning; else ok. */
enum health_state health_judge_replication(const char *link_problem, double lag_s,
                                           const char *check_problem, double lag_warning_s,
                                           double lag_critical_s, char **reason);

/* h's state and reason with max_lag_s in place of lag_critical (NaN: as evaluated). *reason
 * is owned by the caller. Returns 0 or -ENOMEM. */
int health_with_max_lag(const struct node_health *h, double lag_warning_s, double max_lag_s,
                        enum health_state *state, char **reason);

/* Frees what h owns (not h). */
void node_health_clear(struct node_health *h);

#endif
