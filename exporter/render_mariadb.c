/* The MariaDB families of each node as it reported itself: mariadb_up, mariadb_server_id,
 * mariadb_read_only, and the mariadb_replica_* families of each replication connection
 * (SHOW ALL SLAVES STATUS). */
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

void render_mariadb_replicas(const struct snapshot *s, struct buf *out) {
  for (size_t f = 0; f < sizeof(replica_families) / sizeof(replica_families[0]); f++)
    render_replica_family(s, out, &replica_families[f]);
}
