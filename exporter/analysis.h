/* The analysis of a snapshot: computed once when the snapshot is published, immutable, and
 * stored with it, so that /metrics, /health, the status page, replmon-check and the
 * state-change log print the same judgement of the same results. Per MariaDB cluster: its
 * nodes, its links with their state, lag, stall and distance, the pair checks with their
 * reasons; per node (MariaDB and XMPP): its health and since when.
 *
 * The analysis is made of one group per cluster (MariaDB clusters first, then XMPP clusters,
 * in configuration order). A publish recomputes only the group of the target that changed
 * and shares the others with the previous analysis by reference. */
#ifndef REPLMON_ANALYSIS_H
#define REPLMON_ANALYSIS_H

#include "config.h"
#include "health.h"
#include "pair.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct target_result;

/* A replication link of a MariaDB cluster: the expected ones first, then those that exist
 * without being expected. */
struct link_analysis {
  size_t replica;     /* node index in the cluster */
  const char *source; /* the source's name (a configured node) or host:port; borrowed */
  long source_index;  /* -1 when the source is not a node of this cluster */
  bool expected;
  double up;                  /* pair_link_up */
  double lag_s;               /* heartbeat lag; NaN without a heartbeat table or source */
  enum lag_method lag_method; /* where the lag the link is judged by comes from (pair_link_lag) */
  /* The lag the health judges: pair_link_lag (the heartbeat lag, else Master_Slave_time_diff,
   * else Seconds_Behind_Master) less the link's SQL_Delay (MASTER_DELAY), never below 0: a
   * replica delayed on purpose lags only by what it trails beyond its delay. NaN when no lag
   * is known. */
  double lag_beyond_delay_s;
  double stalled;                       /* pair_stalled */
  double transactions_behind;           /* pair_transactions_behind ... */
  double domain;                        /* ... in this GTID domain; NaN until both nodes answered */
  struct binlog_horizon binlog_horizon; /* pair_binlog_horizon */
  /* What the source wrote to its binlog since the link broke (NaN while it is up or when
   * unknown), and the source's Binlog_bytes_written when it was added up: carried from the
   * previous analysis, as a counter that restarts with the server. */
  double source_written_since_break;
  double source_bytes_seen;
  double break_seen_unix;  /* the replica's read when the count began */
  struct pair_ahead ahead; /* pair_ahead_of_source, carried from the last analysis */
  /* When the source is a node of the cluster: whether the replica sees it alive
   * (pair_source_alive), and how long before the replica's read it last heard from it. */
  double source_alive;
  double source_silent_s;
};

/* The checks of an XMPP cluster. */
enum xmpp_check { XMPP_CHECK_MEMBERS_AGREE, XMPP_CHECK_COUNT };

/* "members_agree". */
const char *xmpp_check_name(enum xmpp_check check);

/* The probes of an XMPP node, in their order in an XMPP group's results. */
enum xmpp_probe { XMPP_API, XMPP_STREAM, XMPP_LOGIN, XMPP_PROBES };

struct check_analysis {
  double ok;    /* 1, 0, or NaN when no node answered */
  char *reason; /* why it failed; NULL when it did not */
};

struct group_analysis {
  atomic_int refs;
  enum node_kind kind;
  const char *name; /* the cluster's name, borrowed from the configuration */
  size_t n_nodes;
  struct node_health *health; /* n_nodes, in the cluster's order */
  /* What the analysis was made from (references): a MariaDB cluster's node i is results[i];
   * an XMPP cluster's node i has XMPP_PROBES of them from results[XMPP_PROBES * i] on, in the
   * order of enum xmpp_probe (NULL for a probe the node does not run), and the last one is
   * the cluster's delivery probe (NULL without). */
  size_t n_results;
  struct target_result **results;
  /* MariaDB clusters only (NULL/0 otherwise): */
  const struct mariadb_cluster_config *mariadb;
  struct pair_node *nodes; /* n_nodes, pointing into results */
  size_t n_links;
  struct link_analysis *links;
  /* The writers' GTID domains (pair_writer_domains; none while a node's identity is unknown)
   * and node i's errant transactions in domain k at errant[i * n_domains + k]. */
  size_t n_domains;
  uint32_t *domains;
  double *errant;
  struct check_analysis checks[CHECK_COUNT];           /* MariaDB: the pair checks */
  struct check_analysis xmpp_checks[XMPP_CHECK_COUNT]; /* XMPP: NaN unless clustered */
  /* When this analysis goes out of date with no new poll: a lag that grows with the clock
   * (a frozen or failing source) or a source whose poll is about to be late. INFINITY when
   * only a poll can change it. */
  double refresh_at_unix;
};

/* A heartbeat lag that grows with the clock is analysed again this many times per poll
 * interval, so that it moves smoothly between the replica's reads; once it is long, when it
 * has grown by 1/ANALYSIS_REFRESH_RELATIVE of itself (a source down for hours costs a
 * refresh every so many seconds, not 20 an interval). */
#define ANALYSIS_REFRESH_STEPS 20
#define ANALYSIS_REFRESH_RELATIVE 100

/* When a cluster whose largest growing lag is lag_s at now_unix is analysed again: the next
 * point after now_unix of a grid every cluster shares (so that one analysis serves all that
 * are due), interval_s / ANALYSIS_REFRESH_STEPS apart or lag_s / ANALYSIS_REFRESH_RELATIVE
 * when that is longer. */
double analysis_next_refresh(double now_unix, double interval_s, double lag_s);

struct analysis {
  atomic_int refs;
  /* A reference: every name in the analysis is the configuration's, and a reader may keep
   * the analysis longer than the snapshot (the state-change log keeps the last one). */
  struct config *config;
  size_t n_groups;
  struct group_analysis **groups; /* references */
  size_t n_nodes;
  const struct node_health **nodes; /* every node: MariaDB clusters' first, config order */
  double refresh_at_unix;           /* the earliest of the groups' */
};

struct snapshot;

/* changed_target of an analysis with no new result: only what went out of date. */
#define ANALYSIS_NO_NEW_RESULT (-2)

/* The analysis of s. prev (NULL at first) is the analysis of the snapshot s replaces: its
 * groups are shared where changed_target (a target index of s, -1 for every target, or
 * ANALYSIS_NO_NEW_RESULT) does not belong to them, their refresh_at_unix has not come and
 * both have the same configuration; states that did not change keep their since-when.
 * now_unix is when the analysis runs: when a state that changed began, and the time a
 * growing lag is measured at. NULL when out of memory. */
struct analysis *analysis_build(const struct analysis *prev, const struct config *prev_config,
                                const struct snapshot *s, long changed_target, double now_unix);
struct analysis *analysis_ref(struct analysis *a);
void analysis_unref(struct analysis *a);

/* The health of the node whose main target (MariaDB node, XMPP API) is target t of config,
 * or NULL (a stream probe's target, or no analysis). */
const struct node_health *analysis_target_health(const struct analysis *a,
                                                 const struct config *config, size_t t);

/* The node named name, or NULL. */
const struct node_health *analysis_find_node(const struct analysis *a, const char *name);

/* A copy of every node's health in a (a->nodes' order) for a view that changes entries
 * (replmon-check): *out owned by the caller, freed with health_free. 0 or -ENOMEM. */
int analysis_copy_health(const struct analysis *a, struct node_health **out, size_t *n);
void health_free(struct node_health *list, size_t n);

#endif
