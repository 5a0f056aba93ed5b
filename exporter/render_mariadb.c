/* The MariaDB families of each node as it reported itself: mariadb_up, mariadb_server_id,
 * mariadb_read_only, its semi-sync state (mariadb_semisync_*), and the mariadb_replica_* families
 * of each replication connection (SHOW ALL SLAVES STATUS). */
#include "render_families.h"

#include <math.h>

enum node_value { NODE_UP, NODE_SERVER_ID, NODE_READ_ONLY };

static double node_value(const struct target_result *r, enum node_value which) {
  switch (which) {
  case NODE_UP:
    return r && r->success ? 1 : 0;
  case NODE_SERVER_ID:
    return r && mariadb_of(r)->known ? mariadb_of(r)->server_id : NAN;
  case NODE_READ_ONLY:
    return r && mariadb_of(r)->known ? mariadb_of(r)->read_only : NAN;
  }
  return NAN;
}

static void render_node_family(const struct snapshot *s, struct buf *out, const char *name,
                               const char *help, enum node_value which) {
  render_family(out, name, "gauge", help);
  for (size_t i = 0; i < s->n_targets; i++) {
    if (!render_selected(s, i))
      continue;
    const struct target *t = &s->config->targets[i];
    if (t->kind != PROBE_MARIADB)
      continue;
    struct label labels[] = {{"cluster", t->cluster}, {"node", t->name}};
    render_sample(out, name, labels, 2, node_value(s->results[i], which));
  }
}

/* ---- per replication connection ---- */

enum replica_value {
  IO_RUNNING,
  IO_STATE,
  SQL_RUNNING,
  SECONDS_BEHIND_MASTER,
  TIME_DIFF,
  SQL_DELAY,
  LAST_IO_ERRNO,
  LAST_SQL_ERRNO,
  RELAY_LOG_SPACE,
  RETRIED_TRANSACTIONS,
  RECEIVED_HEARTBEATS,
};

struct replica_family {
  const char *name;
  const char *type;
  const char *help;
  enum replica_value value;
};

static const struct replica_family replica_families[] = {
    {"mariadb_replica_io_running", "gauge",
     "1 when the replication IO thread is running (Slave_IO_Running Yes), else 0.", IO_RUNNING},
    {"mariadb_replica_io_state", "gauge",
     "Slave_IO_Running as one series per state (yes, connecting, preparing, no); the current "
     "state is 1.",
     IO_STATE},
    {"mariadb_replica_sql_running", "gauge",
     "1 when the replication SQL thread is running (Slave_SQL_Running Yes), else 0.", SQL_RUNNING},
    {"mariadb_replica_seconds_behind_master", "gauge",
     "Seconds_Behind_Master as MariaDB reports it; NaN when it is NULL (a thread stopped).",
     SECONDS_BEHIND_MASTER},
    {"mariadb_replica_time_diff_seconds", "gauge",
     "Master_Slave_time_diff as MariaDB 11.6+ reports it: how far the newest event the replica "
     "applied trails the newest one it received, by their timestamps; NaN when it is NULL. "
     "Only for connections on servers that have it.",
     TIME_DIFF},
    {"mariadb_replica_sql_delay_seconds", "gauge",
     "Configured MASTER_DELAY of the connection (SQL_Delay).", SQL_DELAY},
    {"mariadb_replica_last_io_errno", "gauge",
     "Last_IO_Errno: the error number of the IO thread's last error, 0 when none.", LAST_IO_ERRNO},
    {"mariadb_replica_last_sql_errno", "gauge",
     "Last_SQL_Errno: the error number of the SQL thread's last error, 0 when none.",
     LAST_SQL_ERRNO},
    {"mariadb_replica_relay_log_space_bytes", "gauge",
     "Relay_Log_Space: total size of the connection's relay logs.", RELAY_LOG_SPACE},
    {"mariadb_replica_retried_transactions_total", "counter",
     "Retried_transactions: transactions the SQL thread retried since the server started.",
     RETRIED_TRANSACTIONS},
    {"mariadb_replica_received_heartbeats_total", "counter",
     "Slave_received_heartbeats: replication heartbeats received from the source.",
     RECEIVED_HEARTBEATS},
};

static double replica_value(const struct replica_status *rep, enum replica_value which) {
  switch (which) {
  case IO_RUNNING:
    return rep->io_state == IO_STATE_YES;
  case SQL_RUNNING:
    return rep->sql_running;
  case SECONDS_BEHIND_MASTER:
    return rep->seconds_behind_master;
  case TIME_DIFF:
    return rep->time_diff_seconds;
  case SQL_DELAY:
    return rep->sql_delay_seconds;
  case LAST_IO_ERRNO:
    return rep->last_io_errno;
  case LAST_SQL_ERRNO:
    return rep->last_sql_errno;
  case RELAY_LOG_SPACE:
    return rep->relay_log_space_bytes;
  case RETRIED_TRANSACTIONS:
    return rep->retried_transactions;
  case RECEIVED_HEARTBEATS:
    return rep->received_heartbeats;
  case IO_STATE:
    break;
  }
  return NAN;
}

/* Whether the connection has a sample in f: every one, except that Master_Slave_time_diff
 * exists only on servers that report it (MariaDB 11.6+). */
static bool replica_in_family(const struct replica_status *rep, const struct replica_family *f) {
  return f->value != TIME_DIFF || rep->has_time_diff;
}

static bool family_has_samples(const struct snapshot *s, const struct replica_family *f) {
  for (size_t i = 0; i < s->n_targets; i++) {
    const struct target_result *r = s->results[i];
    if (!render_selected(s, i) || s->config->targets[i].kind != PROBE_MARIADB || !r)
      continue;
    const struct mariadb_status *m = r->data;
    for (size_t j = 0; j < m->n_replicas; j++)
      if (replica_in_family(&m->replicas[j], f))
        return true;
  }
  return false;
}

static void render_replica_family(const struct snapshot *s, struct buf *out,
                                  const struct replica_family *f) {
  if (f->value == TIME_DIFF && !family_has_samples(s, f))
    return; /* no family of NaN for servers without the column */
  render_family(out, f->name, f->type, f->help);
  for (size_t i = 0; i < s->n_targets; i++) {
    if (!render_selected(s, i))
      continue;
    const struct target *t = &s->config->targets[i];
    const struct target_result *r = s->results[i];
    if (t->kind != PROBE_MARIADB || !r)
      continue;
    const struct mariadb_status *m = r->data;
    for (size_t j = 0; j < m->n_replicas; j++) {
      const struct replica_status *rep = &m->replicas[j];
      if (!replica_in_family(rep, f))
        continue;
      struct label labels[5] = {{"cluster", t->cluster},
                                {"node", t->name},
                                {"connection", rep->connection},
                                {"source", rep->source ? rep->source : ""},
                                {"state", NULL}};
      if (f->value == IO_STATE) {
        for (int st = 0; st < IO_STATE_COUNT; st++) {
          labels[4].value = replica_io_state_name((enum replica_io_state)st);
          render_sample(out, f->name, labels, 5,
                        m->known ? rep->io_state == (enum replica_io_state)st : NAN);
        }
      } else {
        render_sample(out, f->name, labels, 4, m->known ? replica_value(rep, f->value) : NAN);
      }
    }
  }
}

void render_mariadb_nodes(const struct snapshot *s, struct buf *out) {
  render_node_family(s, out, "mariadb_up",
                     "1 when the last poll connected and every statement succeeded, else 0.",
                     NODE_UP);
  render_node_family(s, out, "mariadb_server_id", "The node's @@server_id; NaN when unknown.",
                     NODE_SERVER_ID);
  render_node_family(s, out, "mariadb_read_only",
                     "1 when the node's @@read_only is ON, 0 when OFF; NaN when unknown.",
                     NODE_READ_ONLY);
}

/* ---- semi-synchronous replication, per node ---- */

enum semisync_value {
  SEMISYNC_MASTER_ENABLED,
  SEMISYNC_MASTER_ACTIVE,
  SEMISYNC_MASTER_CLIENTS,
  SEMISYNC_MASTER_TIMEOUT,
  SEMISYNC_ACKNOWLEDGED,
  SEMISYNC_UNACKNOWLEDGED,
  SEMISYNC_SLAVE_ENABLED,
  SEMISYNC_SLAVE_ACTIVE,
};

struct semisync_family {
  const char *name;
  const char *type;
  const char *help;
  enum semisync_value value;
};

static const struct semisync_family semisync_families[] = {
    {"mariadb_semisync_master_enabled", "gauge",
     "1 when rpl_semi_sync_master_enabled is ON: commits wait for a replica's "
     "acknowledgement; NaN when unknown.",
     SEMISYNC_MASTER_ENABLED},
    {"mariadb_semisync_master_active", "gauge",
     "Rpl_semi_sync_master_status: 1 while commits wait for an acknowledgement, 0 when "
     "semi-sync is off or fell back to asynchronous after rpl_semi_sync_master_timeout.",
     SEMISYNC_MASTER_ACTIVE},
    {"mariadb_semisync_master_clients", "gauge",
     "Rpl_semi_sync_master_clients: replicas connected with semi-sync.", SEMISYNC_MASTER_CLIENTS},
    {"mariadb_semisync_master_timeout_seconds", "gauge",
     "rpl_semi_sync_master_timeout: how long a commit waits for an acknowledgement before "
     "the node falls back to asynchronous replication.",
     SEMISYNC_MASTER_TIMEOUT},
    {"mariadb_semisync_master_acknowledged_transactions_total", "counter",
     "Rpl_semi_sync_master_yes_tx: commits a replica acknowledged, since the server started.",
     SEMISYNC_ACKNOWLEDGED},
    {"mariadb_semisync_master_unacknowledged_transactions_total", "counter",
     "Rpl_semi_sync_master_no_tx: commits made without an acknowledgement (semi-sync fell "
     "back), since the server started.",
     SEMISYNC_UNACKNOWLEDGED},
    {"mariadb_semisync_slave_enabled", "gauge",
     "1 when rpl_semi_sync_slave_enabled is ON: the node acknowledges what it receives; NaN "
     "when unknown.",
     SEMISYNC_SLAVE_ENABLED},
    {"mariadb_semisync_slave_active", "gauge",
     "Rpl_semi_sync_slave_status: 1 while the node's IO thread acknowledges with semi-sync.",
     SEMISYNC_SLAVE_ACTIVE},
};

static double semisync_value(const struct mariadb_semisync *ss, enum semisync_value which) {
  switch (which) {
  case SEMISYNC_MASTER_ENABLED:
    return ss->master_enabled;
  case SEMISYNC_MASTER_ACTIVE:
    return ss->master_status;
  case SEMISYNC_MASTER_CLIENTS:
    return ss->master_clients;
  case SEMISYNC_MASTER_TIMEOUT:
    return ss->master_timeout_s;
  case SEMISYNC_ACKNOWLEDGED:
    return ss->master_yes_tx;
  case SEMISYNC_UNACKNOWLEDGED:
    return ss->master_no_tx;
  case SEMISYNC_SLAVE_ENABLED:
    return ss->slave_enabled;
  case SEMISYNC_SLAVE_ACTIVE:
    return ss->slave_status;
  }
  return NAN;
}

void render_mariadb_semisync(const struct snapshot *s, struct buf *out) {
  for (size_t f = 0; f < sizeof(semisync_families) / sizeof(semisync_families[0]); f++) {
    const struct semisync_family *family = &semisync_families[f];
    render_family(out, family->name, family->type, family->help);
    for (size_t i = 0; i < s->n_targets; i++) {
      const struct target *t = &s->config->targets[i];
      if (!render_selected(s, i) || t->kind != PROBE_MARIADB)
        continue;
      const struct target_result *r = s->results[i];
      struct label labels[] = {{"cluster", t->cluster}, {"node", t->name}};
      render_sample(out, family->name, labels, 2,
                    r && mariadb_of(r)->known
                        ? semisync_value(&mariadb_of(r)->semisync, family->value)
                        : NAN);
    }
  }
}

void render_mariadb_replicas(const struct snapshot *s, struct buf *out) {
  for (size_t f = 0; f < sizeof(replica_families) / sizeof(replica_families[0]); f++)
    render_replica_family(s, out, &replica_families[f]);
}
