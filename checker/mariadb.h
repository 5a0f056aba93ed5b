/* The MariaDB probe: one persistent connection per node, two statements per poll
 * (SHOW ALL SLAVES STATUS and one SELECT of variables, status counters and heartbeat rows)
 * and the heartbeat write, results parsed by column name. */
#ifndef REPLMON_MARIADB_H
#define REPLMON_MARIADB_H

#include "gtid.h"
#include "probe.h"
#include "probe_kind.h"

#include <stdbool.h>
#include <stddef.h>

enum replica_io_state {
  IO_STATE_YES,
  IO_STATE_CONNECTING,
  IO_STATE_PREPARING,
  IO_STATE_NO,
  IO_STATE_COUNT
};

/* "yes", "connecting", "preparing", "no": the values of the state label. */
const char *replica_io_state_name(enum replica_io_state state);

/* One row of SHOW ALL SLAVES STATUS. Numbers MariaDB reports as NULL, or that this server
 * version does not have, are NaN. All strings are owned by the struct. */
struct replica_status {
  char *connection;  /* Connection_name: "" for the default connection */
  char *master_host; /* Master_Host */
  unsigned master_port;
  char *source; /* the configured node name matching host:port, else "host:port" (caller) */
  enum replica_io_state io_state;
  bool sql_running;
  double seconds_behind_master;
  /* Master_Slave_time_diff (MariaDB 11.6+): Master_last_event_time (the newest event the
   * replica received) minus Slave_last_event_time (the newest it applied). NaN when NULL (11.8:
   * until the replica received an event; it reads 0 while the IO thread is stopped) and on
   * servers without the column (has_time_diff false: 10.11). */
  double time_diff_seconds;
  bool has_time_diff;
  double sql_delay_seconds;
  double last_io_errno;
  double last_sql_errno;
  char *last_io_error; /* text for logs and people, never for labels */
  char *last_sql_error;
  double relay_log_space_bytes;
  double retried_transactions;
  double received_heartbeats;
  /* Slave_heartbeat_period: the source sends a heartbeat after this long without events
   * (MASTER_HEARTBEAT_PERIOD, default slave_net_timeout / 2); 0 when it sends none. */
  double heartbeat_period_s;
  struct gtid_list gtid_io_pos; /* Gtid_IO_Pos: what the IO thread received */
  double progress_unix;         /* when received_heartbeats or gtid_io_pos last moved (poller) */
  /* progress_unix is a move the poller saw between two good polls, not the first sight of the
   * connection (which counts as progress for stalls, but is no evidence that the source is
   * alive). */
  bool progress_seen;
};

/* One row of the heartbeat table as a node holds it. */
struct heartbeat_row {
  double server_id;
  double ts; /* the row's ts, as seconds, read on the writer's clock (parsed as UTC) */
};

/* How many of a node's latest heartbeat writes replmon remembers: a link that trails by
 * fewer write intervals than this is measured against the writes themselves. */
#define MARIADB_HEARTBEAT_WRITES 16

/* How long the node keeps its binary logs, read in the variables SELECT. NaN where the
 * server does not have the variable (max_binlog_total_size is new in 11.4). */
struct mariadb_binlog_retention {
  double expire_s; /* binlog_expire_logs_seconds (else expire_logs_days in seconds); 0: never */
  double max_total_size_bytes; /* max_binlog_total_size; 0: no limit */
  double bytes_written;        /* status Binlog_bytes_written, since the server started; read only
                                * while max_binlog_total_size is set, else NaN */
};

/* What a node taught at its last good poll, kept while it does not answer: the other nodes'
 * analysis (heartbeat lag, GTID distance) needs it. */
struct mariadb_memory {
  double server_id;
  double gtid_domain_id;
  double clock_offset_s; /* the node's NOW(6) (as UTC) minus local real time */
  double read_unix;      /* when it was last read (mariadb_status.read_unix of that poll) */
  /* Local real times (the middle of each INSERT) of the latest successful heartbeat writes,
   * newest first; NaN where there is none. */
  double heartbeat_write[MARIADB_HEARTBEAT_WRITES];
  double first_heartbeat_write; /* this process's first one: older rows came from before it */
  /* The latest known, so that a link reading from a node that stopped answering still has
   * a binlog horizon: the node purges on restart what expired while it was down. */
  struct mariadb_binlog_retention binlog_retention;
};

/* Forgets everything: every number NaN. */
void mariadb_memory_clear(struct mariadb_memory *memory);
/* Notes a successful heartbeat write at written_unix (local real time): it becomes
 * heartbeat_write[0], and the oldest one remembered is dropped. */
void mariadb_memory_note_write(struct mariadb_memory *memory, double written_unix);

/* Semi-synchronous replication as the node's variables and status say (1/0 for ON/OFF),
 * read in the variables SELECT; the status fields only while semi-sync is enabled on the
 * node (from the poll after it was enabled). NaN where the server does not say. */
struct mariadb_semisync {
  double master_enabled; /* rpl_semi_sync_master_enabled */
  double slave_enabled;  /* rpl_semi_sync_slave_enabled */
  double master_timeout_s;
  double master_status; /* Rpl_semi_sync_master_status: 0 once it fell back to async */
  double slave_status;  /* Rpl_semi_sync_slave_status */
  double master_clients;
  double master_yes_tx; /* transactions a replica acknowledged */
  double master_no_tx;  /* transactions committed without an acknowledgement */
};

/* What one poll of a node learned. known is false when the node could not be polled: the
 * replicas are then the connections of the last good poll, kept so their series stay. */
struct mariadb_status {
  bool known;
  double server_id; /* NaN when unknown */
  double read_only; /* 1 or 0; NaN when unknown */
  size_t n_replicas;
  struct replica_status *replicas; /* owned array */
  double read_unix;                /* local real time in the middle of the variables SELECT */
  double read_spread_s;  /* half that SELECT's duration: the values were read within read_unix
                          * +- this (what another node's read can be ordered against) */
  double clock_offset_s; /* NOW(6) on the node (as UTC) minus read_unix */
  double gtid_domain_id;
  double auto_increment_increment;
  double auto_increment_offset;
  double log_slave_updates; /* 1 or 0 */
  double log_bin;           /* 1 or 0 */
  char *binlog_format;      /* "ROW", "MIXED", "STATEMENT"; owned */
  struct gtid_list binlog_pos;
  struct gtid_list slave_pos;
  struct gtid_list binlog_state; /* @@gtid_binlog_state: the last GTID per domain and server */
  struct mariadb_binlog_retention binlog_retention;
  struct mariadb_semisync semisync;
  bool heartbeat_read; /* the heartbeat rows below were read */
  size_t n_heartbeats;
  struct heartbeat_row *heartbeats;
  double heartbeat_written_unix; /* this poll's successful write (local time), else NaN */
  char *heartbeat_error;         /* why the heartbeat could not be read or written; owned */
  struct mariadb_memory memory;  /* kept by the poller across polls */
};

/* Fills *out from one row, columns found by name (order and extra columns do not matter).
 * names and values have ncols entries; a NULL value is SQL NULL. Returns 0, -EINVAL when a
 * required column is missing or unparsable (*err says which), or -ENOMEM. On error *out is
 * left cleared. */
int mariadb_parse_replica_row(const char *const *names, const char *const *values, size_t ncols,
                              struct replica_status *out, struct probe_error *err);

void replica_status_clear(struct replica_status *r);
/* A deep copy of from into *to (which is overwritten). 0 or -ENOMEM (*to then cleared). */
int mariadb_status_copy(const struct mariadb_status *from, struct mariadb_status *to);
void mariadb_status_clear(struct mariadb_status *s);
/* Makes *to an unknown status (known false, NaN numbers) carrying from's connections, so
 * that a node that stops answering keeps its series, with what had arrived on each
 * (Slave_received_heartbeats, Gtid_IO_Pos, progress_unix), so that progress is told from the
 * last good poll. Returns 0 or -ENOMEM. */
int mariadb_status_carry_unknown(const struct mariadb_status *from, struct mariadb_status *to);

/* TLS for a connection. Enabled, the connection is TLS or fails with reason tls: a session
 * without TLS is never used (with verify_server_cert off, a server that offers no TLS is
 * detected only after the login, which is limited to plugins that do not send the
 * password). Paths are read by the client library at each connect. */
struct mariadb_tls {
  bool enabled;
  const char *ca_file;   /* or NULL */
  const char *cert_file; /* client certificate, with key_file; or NULL */
  const char *key_file;
  bool verify_server_cert; /* the chain against ca_file, and the host name */
};

/* Where and how to connect. mariadb_probe_new copies it. */
struct mariadb_target {
  const char *host; /* NULL when socket is set */
  unsigned port;
  const char *socket; /* unix socket path, or NULL */
  const char *user;
  const char *password;
  double connect_timeout_s; /* rounded up to whole seconds: the client library's unit */
  double query_timeout_s;
  const char *heartbeat_table; /* "schema.table" (see mariadb_quote_table), or NULL */
  bool heartbeat_write;        /* write (server_id, NOW(6)) when the node is writable */
  struct mariadb_tls tls;
};

/* "schema.table" as "`schema`.`table`" for a statement: only two plain identifiers
 * (letters, digits, _ and $, 1 to 64 each) are accepted, so the quoting is safe. Returns 0
 * with *quoted owned by the caller, -EINVAL for anything else, or -ENOMEM. */
int mariadb_quote_table(const char *schema_table, char **quoted);

/* Fills *retention and *semisync (every field first NaN) from the "NAME=value,..." lists
 * that the variables SELECT reads from information_schema.GLOBAL_VARIABLES and
 * GLOBAL_STATUS (either may be NULL). Names are matched without case; ON/OFF read as 1/0;
 * unknown names and unparsable values are ignored. */
void mariadb_parse_server_values(const char *variables, const char *status,
                                 struct mariadb_binlog_retention *retention,
                                 struct mariadb_semisync *semisync);

/* Parses a DATETIME text ("2026-11-22 08:30:01.123456", or pt-heartbeat's "...T...") as UTC
 * seconds. NaN when it is not one. */
double mariadb_parse_datetime(const char *text);

struct mariadb_probe;

/* Returns NULL when out of memory. Does not connect yet. */
struct mariadb_probe *mariadb_probe_new(const struct mariadb_target *target);
void mariadb_probe_free(struct mariadb_probe *probe);
bool mariadb_probe_connected(const struct mariadb_probe *probe);

/* Connects if needed, then polls. On success fills *out (known true) and returns 0. On
 * failure returns a negative errno and sets *err (reason and message); a failure of the
 * connection itself, and a statement refused for a missing grant (privilege), also close
 * it, so that the next call reconnects: a session keeps the privileges it logged in with,
 * so only a new one sees a GRANT. Blocks at most about connect_timeout +
 * 2 * query_timeout: never call it where a scrape waits. */
int mariadb_probe_poll(struct mariadb_probe *probe, struct mariadb_status *out,
                       struct probe_error *err);

/* ---- the probe kind (mariadb_kind.c) ---- */

/* A node of the probed node's cluster: replication sources are named after these. */
struct mariadb_peer {
  const char *name;
  const char *host; /* NULL for a node reached through a socket */
  unsigned port;
};

/* The settings of the MariaDB kind (struct probe_ops' settings). The timeouts of target are
 * replaced by the poller's. Everything is borrowed. */
struct mariadb_settings {
  struct mariadb_target target;
  const struct mariadb_peer *peers;
  size_t n_peers;
};

/* The name a replication source goes by: the peer whose address is host:port (host compared
 * without case), else "host:port" ("[host]:port" for IPv6). Owned by the caller; NULL when
 * out of memory. */
char *mariadb_source_name(const struct mariadb_peer *peers, size_t n_peers, const char *host,
                          unsigned port);

/* Data: struct mariadb_status. */
extern const struct probe_ops mariadb_probe_ops;

#endif
