/* What only the pair as a whole can tell: heartbeat lag corrected for clock skew, GTID
 * distance, link state, stalls, configuration checks and error classes. Pure functions of
 * the nodes' latest poll results, so /metrics, the status page and replmon-check agree. */
#ifndef REPLMON_PAIR_H
#define REPLMON_PAIR_H

#include "mariadb.h"

#include <stdbool.h>
#include <stddef.h>

/* A node of a cluster as the analysis sees it. */
struct pair_node {
  const char *name;
  const struct mariadb_status *status; /* NULL when never polled */
  bool up;                             /* its last poll succeeded */
  double polled_unix;                  /* when its last completed poll ended; NaN if none */
};

/* A source whose last completed poll ended longer than (1 + this) poll intervals before the
 * replica's read is stuck in a statement (frozen): the heartbeat its current poll should
 * have written is missing. The margin covers a slow poll and the poller's jitter. */
#define PAIR_STALE_MARGIN 0.25

/* How far the replica trails source, in seconds, from the heartbeats replmon writes once per
 * poll (interval_s apart) on every writable node, with both clocks brought to replmon's by
 * the offsets measured in every poll. The replica's newest row from source names the write
 * it applied; replmon remembers when it made that write and the ones after it:
 * - when the replica had applied the newest write made before it was read, 0: the link
 *   keeps up within one write interval;
 * - otherwise its delay lies between (read - the next write) and (read - the applied one),
 *   an interval one write interval wide, and the result is its middle: within half a write
 *   interval of the true delay, whatever the phase of the polls.
 * When the source does not answer, or its last completed poll is stale (PAIR_STALE_MARGIN)
 * at the replica's read, the write it should have made counts as one the replica has not
 * applied: once the replica has everything the source wrote, the lag is the age of its
 * newest heartbeat less half an interval (the middle of the time since the source was last
 * seen writing), so it grows from the moment the source's poll is late, not from when that
 * poll times out. When another tool writes the rows (replmon_writes false), it is the age of
 * the replica's newest row.
 * NaN when it cannot be known, which includes the time before the replica received any
 * heartbeat this process wrote. */
double pair_heartbeat_lag(const struct pair_node *replica, const struct pair_node *source,
                          bool replmon_writes, double interval_s);

/* Where the lag a link is judged by came from. */
enum lag_method { LAG_HEARTBEAT, LAG_TIME_DIFF, LAG_SECONDS_BEHIND_MASTER, LAG_METHOD_COUNT };

/* "heartbeat", "time_diff", "seconds_behind_master": the values of the method label. */
const char *lag_method_name(enum lag_method method);

/* The lag a link is judged by, and (method not NULL) where it came from: the heartbeat lag
 * (heartbeat_lag_s) when it is known; else Master_Slave_time_diff (MariaDB 11.6+), the
 * distance between the source's timestamps of the events the replica received and applied;
 * else Seconds_Behind_Master. rep is the link's
 * connection, NULL when it is missing. When no figure is known the result is NaN and method the
 * first the link has (time_diff on a server with the column), so that a NULL does not switch it
 * back and forth. */
double pair_link_lag(const struct replica_status *rep, double heartbeat_lag_s,
                     enum lag_method *method);

/* The source's binlog sequence in its own GTID domain minus what the replica applied in that
 * domain (gtid_slave_pos). NaN when unknown; *domain is the domain used. */
double pair_transactions_behind(const struct pair_node *replica, const struct pair_node *source,
                                double *domain);

/* The replica's replication connection reading from the node named source, or NULL. */
const struct replica_status *pair_find_link(const struct pair_node *replica, const char *source);

/* 1 when the replica has a connection from source with both threads running, 0 when it is
 * broken or missing, NaN when the replica's state is unknown. */
double pair_link_up(const struct pair_node *replica, const char *source);

/* 1 when the IO thread says Yes but nothing (heartbeats, Gtid_IO_Pos) arrived for
 * stall_after_s while the source's binlog holds transactions the replica has not received. */
double pair_stalled(const struct pair_node *replica, const struct replica_status *link,
                    const struct pair_node *source, double stall_after_s);

enum pair_check {
  CHECK_SERVER_ID_UNIQUE,
  CHECK_GTID_DOMAIN_PER_WRITER,
  CHECK_AUTO_INCREMENT_SAFE,
  CHECK_LOG_SLAVE_UPDATES_ON,
  CHECK_BINLOG_FORMAT_ROW,
  CHECK_WRITERS_AS_INTENDED,
  CHECK_COUNT
};

const char *pair_check_name(enum pair_check check);

/* 1 when the check passes over the nodes that answered, 0 when it fails (*reason, owned by
 * the caller, says why and what to do), NaN when no node answered. */
double pair_check(enum pair_check check, const struct pair_node *nodes, size_t n,
                  bool active_passive, char **reason);

enum error_class {
  ERROR_DUPLICATE_KEY, /* 1062 */
  ERROR_ROW_NOT_FOUND, /* 1032 */
  ERROR_CONNECT,       /* 2003, 2013 */
  ERROR_AUTH,          /* 1045 */
  ERROR_OTHER,
  ERROR_CLASS_COUNT
};

const char *error_class_name(enum error_class error_class);

/* Marks the classes of the connection's current IO and SQL errors (none when both are 0). */
void replica_error_classes(const struct replica_status *replica, bool classes[ERROR_CLASS_COUNT]);

#endif
