/* What only the pair as a whole can tell: heartbeat lag corrected for clock skew, GTID
 * distance, link state, stalls, configuration checks and error classes. Pure functions of
 * the nodes' latest poll results, so /metrics, the status page and replmon-check agree. */
#ifndef REPLMON_PAIR_H
#define REPLMON_PAIR_H

#include "mariadb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * When the source does not answer, or its last completed poll is stale (PAIR_STALE_MARGIN),
 * the write it should have made counts as one the replica has not applied: once the replica
 * has everything the source wrote, the lag is the age of its newest heartbeat less half an
 * interval (the middle of the time since the source was last seen writing). It grows from
 * the moment the source's poll is late, not from when that poll times out, and, when the
 * replica had the newest write the source made, with the clock (up to now_unix), not only at
 * the replica's reads: nothing the source wrote can have reached the replica since. When the
 * source wrote again after the replica's read, the result is as of that read. When another
 * tool writes the rows (replmon_writes false), it is the age of the replica's newest row at
 * its read. now_unix is when the analysis runs, not before the replica's read.
 * *valid_until_unix (not NULL) is when the result stops holding without a new poll of either
 * node: now_unix for a lag that grows with the clock, the moment the source's poll turns
 * late for a replica that had its newest write, else INFINITY.
 * NaN when it cannot be known, which includes the time before the replica received any
 * heartbeat this process wrote, and a source that is only out of replmon's reach: it does
 * not answer, but the replica's connection from it is alive (pair_source_alive) and received
 * something more than two poll intervals (and a quarter each) after replmon last read the
 * source, which a frozen source cannot do; replmon's heartbeats on it stopped, so they no
 * longer tell the lag (Seconds_Behind_Master still does). */
double pair_heartbeat_lag(const struct pair_node *replica, const struct pair_node *source,
                          bool replmon_writes, double interval_s, double now_unix,
                          double *valid_until_unix);

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

/* Whether the replica sees the source of link (its connection from that source; NULL when it
 * has none) alive, whatever replmon sees of the source: 1 when the IO thread says Yes and a
 * heartbeat or an event arrived (Slave_received_heartbeats or Gtid_IO_Pos moved) at most the
 * connection's heartbeat period and a quarter, plus one poll interval (interval_s), before
 * the replica was read: an idle source sends a heartbeat every period. With heartbeats off
 * (period 0 or unknown) an IO thread that says Yes and has received something since replmon
 * watches it is enough: the replica notices a silent source after slave_net_timeout. 0 when
 * the IO thread lost the source (Connecting, or stopped by an IO error) or nothing arrived
 * for longer; NaN when the replica's state is unknown, when it has no connection from the
 * source or an administrator stopped its IO thread (no evidence either way), or while
 * replmon has not yet seen anything arrive (its first polls of the replica: the first sight
 * of a connection is no evidence).
 * *silent_s: how long before the read the last thing arrived (NaN when unknown). */
double pair_source_alive(const struct pair_node *replica, const struct replica_status *link,
                         double interval_s, double *silent_s);

/* 1 when the IO thread says Yes but nothing (heartbeats, Gtid_IO_Pos) arrived for
 * stall_after_s while the source's binlog holds transactions the replica has not received. */
double pair_stalled(const struct pair_node *replica, const struct replica_status *link,
                    const struct pair_node *source, double stall_after_s);

/* How long a broken link can stay broken before its source may purge binlog that the replica
 * needs to resume (after which the replica must be rebuilt). */
struct binlog_horizon {
  /* Seconds left, never below 0: NaN while the link is up, when it is missing, or when
   * anything it needs is unknown; +Inf when the source purges neither by age nor by size;
   * 0 once the IO thread failed with error 1236 (the source no longer has what it asks). */
  double left_s;
  /* The whole time the source keeps binlog, as left_s counts it down: the age bound
   * (binlog_expire_logs_seconds; +Inf when 0), for a broken link the size bound instead
   * when that is sooner; NaN when unknown. The alert at half the horizon compares the two. */
  double retention_s;
};

/* The binlog horizon of the replica's link (NULL: missing) from source. The replica needs
 * the source's binlog from the older of what it last received (link->progress_unix, unless
 * the IO thread still receives) and what it last applied (lag_s, pair_link_lag's figure, NaN
 * when unknown: with MASTER_USE_GTID a restarted IO thread fetches again from what was
 * applied), and the source purges a file about expire seconds after it wrote it. With
 * max_binlog_total_size it also purges the oldest files once it wrote more than that since:
 * written_since_break is what it wrote in the written_for_s seconds replmon has watched the
 * break (NaN when unknown), and the size bound is when the rest of the limit fills at that
 * rate. NaN when how long the link has been broken is unknown. */
void pair_binlog_horizon(const struct pair_node *replica, const struct replica_status *link,
                         const struct pair_node *source, double lag_s, double written_since_break,
                         double written_for_s, struct binlog_horizon *out);

enum pair_check {
  CHECK_SERVER_ID_UNIQUE,
  CHECK_GTID_DOMAIN_PER_WRITER,
  CHECK_AUTO_INCREMENT_SAFE,
  CHECK_LOG_SLAVE_UPDATES_ON,
  CHECK_BINLOG_FORMAT_ROW,
  CHECK_WRITERS_AS_INTENDED,
  /* Every writer that has a replica has semi-sync master active, and every replica of a
   * writer has semi-sync slave active. Only when the configuration requires semi-sync. */
  CHECK_SEMISYNC_ACTIVE,
  CHECK_NO_ERRANT_GTID,
  CHECK_COUNT
};

const char *pair_check_name(enum pair_check check);

/* 1 when the check passes over the nodes that answered, 0 when it fails (*reason, owned by
 * the caller, says why and what to do), NaN when no node answered or the check does not
 * apply (CHECK_SEMISYNC_ACTIVE without semisync_required). no_errant_gtid is judged here from
 * the binlog states only; pair_check_errant adds the links' judgements. */
double pair_check(enum pair_check check, const struct pair_node *nodes, size_t n,
                  bool active_passive, bool semisync_required, char **reason);

/* ---- errant transactions: a write on the wrong node ----
 *
 * A GTID domain's writers are the nodes whose gtid_domain_id it is (nodes that share one, as
 * an active-passive pair may, are all its writers); a node's server_id and gtid_domain_id
 * come from its poll or, while it does not answer, from its memory. Domains that no node
 * has as its gtid_domain_id (domain 0 from before the domains were set, say) are not
 * judged. */

/* The writers' domains, each once, in node order, into domains (room for n). Returns how
 * many; 0 while some node's identity is unknown (it never answered): a domain it might
 * share could not be told from an errant one. */
size_t pair_writer_domains(const struct pair_node *nodes, size_t n, uint32_t *domains);

/* How many entries of node i's @@gtid_binlog_state in domain were written by a server that
 * is none of the domain's writers: a lower bound of its errant transactions there (the state
 * keeps the last GTID of each server), and one that stays until an administrator cleans the
 * state up. NaN when node i did not answer, some node's identity is unknown or domain is no
 * node's. */
double pair_foreign_gtids(const struct pair_node *nodes, size_t n, size_t i, uint32_t domain);

/* Whether a replica applied, in its source's GTID domain, more than the source ever wrote:
 * a replica ahead of its source holds transactions the source does not have. */
struct pair_ahead {
  double by;            /* applied seq minus the source's binlog seq; 0 when not ahead; NaN
                         * until judged */
  uint32_t domain;      /* the source's gtid_domain_id */
  struct gtid applied;  /* the replica's gtid_slave_pos entry in domain */
  struct gtid produced; /* the source's gtid_binlog_pos entry in domain (seq 0: none) */
};

/* Not judged yet. */
#define PAIR_AHEAD_UNKNOWN ((struct pair_ahead){.by = NAN})

/* The link from source to replica judged again, or before (the last judgement) when it cannot
 * be: the two nodes are read at different moments and the source's binlog grows in between,
 * so the comparison is made only when both answered and the source's values were read after
 * the replica's (their SELECTs did not overlap, read_spread_s); the source's binlog can only
 * have grown since the replica's read, so a replica ahead of it then is ahead for certain. In
 * a pair polled at the same interval that is every other publish, so the judgement neither
 * flaps nor lags by more than an interval. Not judged (PAIR_AHEAD_UNKNOWN) when the replica
 * has the source's gtid_domain_id: with two writers in a domain, the source's binlog may end
 * on an older GTID of the other's than one it wrote before. */
struct pair_ahead pair_ahead_of_source(const struct pair_node *replica,
                                       const struct pair_node *source, struct pair_ahead before);

/* A link's judgement, for the counts and the check below. */
struct pair_link_ahead {
  size_t replica, source; /* node indexes */
  struct pair_ahead ahead;
};

/* Node i's errant transactions in domain: pair_foreign_gtids plus how far it is ahead of each
 * source whose domain that is (links not judged yet add nothing). NaN as pair_foreign_gtids. */
double pair_errant_transactions(const struct pair_node *nodes, size_t n, size_t i, uint32_t domain,
                                const struct pair_link_ahead *links, size_t n_links);

/* no_errant_gtid: 0 when a node's binlog state holds a GTID a domain's writers did not write
 * or a replica is ahead of its source, with the GTIDs in *reason (owned by the caller; the
 * text stays the same while the errant GTIDs do, so the failure is logged once); 1 when not;
 * NaN when no node answered or some node's identity is unknown. */
double pair_check_errant(const struct pair_node *nodes, size_t n,
                         const struct pair_link_ahead *links, size_t n_links, char **reason);

enum error_class {
  ERROR_DUPLICATE_KEY, /* 1062 */
  ERROR_ROW_NOT_FOUND, /* 1032 */
  ERROR_CONNECT,       /* 2003, 2013 */
  ERROR_AUTH,          /* 1045 */
  ERROR_BINLOG_PURGED, /* 1236: the source no longer has the binlog the replica asks for */
  ERROR_OTHER,
  ERROR_CLASS_COUNT
};

const char *error_class_name(enum error_class error_class);

/* Marks the classes of the connection's current IO and SQL errors (none when both are 0). */
void replica_error_classes(const struct replica_status *replica, bool classes[ERROR_CLASS_COUNT]);

#endif
