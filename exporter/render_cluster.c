/* The MariaDB families of each cluster as a whole, as the snapshot's analysis found them:
 * the expected and actual replication links, heartbeat lag, where each link's lag comes from,
 * stalls, each node alive per the peers that replicate from it, transactions behind, GTID
 * positions, error classes and the configuration checks. */
#include "render_families.h"
#include "analysis.h"
#include "pair.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum link_value {
  LINK_UP,
  LINK_EXPECTED,
  LINK_LAG,
  LINK_LAG_BEYOND_DELAY,
  LINK_STALLED,
  LINK_BINLOG_HORIZON,
  LINK_BINLOG_RETENTION
};

struct link_family {
  const char *name;
  const char *help;
  enum link_value value;
};

static const struct link_family link_families[] = {
    {"mariadb_replica_link_up",
     "1 when the link exists with both replication threads running; 0 when it is broken or "
     "missing.",
     LINK_UP},
    {"mariadb_replica_link_expected",
     "1 for a link the configuration expects (links:, or every pair), 0 for one that exists "
     "without being expected.",
     LINK_EXPECTED},
    {"mariadb_heartbeat_lag_seconds",
     "How far the node trails source, from replmon's heartbeats with clock skew removed: 0 "
     "when it had applied the newest heartbeat written before it was read (less than one "
     "poll interval behind), else within half a poll interval of its delay; grows while the "
     "link stalls or the source is frozen.",
     LINK_LAG},
    {"mariadb_replica_lag_beyond_delay_seconds",
     "The lag replmon's health, /health and replmon-check judge: the heartbeat lag (else "
     "Master_Slave_time_diff, else Seconds_Behind_Master; see mariadb_replica_lag_info) less the "
     "connection's SQL_Delay (MASTER_DELAY), never below 0. "
     "0 for a delayed replica that keeps its delay; NaN when no lag is known.",
     LINK_LAG_BEYOND_DELAY},
    {"mariadb_replica_stalled",
     "1 when the IO thread says Yes but nothing arrived for stall_after while the source's "
     "binlog advanced.",
     LINK_STALLED},
    {"mariadb_replica_binlog_horizon_seconds",
     "Time left before the source may purge binlogs the broken link needs to resume (then the "
     "node must be rebuilt): the source's retention less how long the link has been broken; 0 "
     "once the IO thread failed with 1236; +Inf when the source never purges; NaN while the "
     "link is healthy.",
     LINK_BINLOG_HORIZON},
    {"mariadb_replica_binlog_retention_seconds",
     "How long the source keeps binlogs, as mariadb_replica_binlog_horizon_seconds counts it "
     "down: binlog_expire_logs_seconds, or the max_binlog_total_size estimate of a broken "
     "link when sooner; +Inf when the source never purges.",
     LINK_BINLOG_RETENTION},
};

static double link_value(const struct link_analysis *l, enum link_value which) {
  switch (which) {
  case LINK_UP:
    return l->up;
  case LINK_EXPECTED:
    return l->expected;
  case LINK_LAG:
    return l->lag_s;
  case LINK_LAG_BEYOND_DELAY:
    return l->lag_beyond_delay_s;
  case LINK_STALLED:
    return l->stalled;
  case LINK_BINLOG_HORIZON:
    return l->binlog_horizon.left_s;
  case LINK_BINLOG_RETENTION:
    return l->binlog_horizon.retention_s;
  }
  return NAN;
}

/* The analysis' MariaDB clusters: its first groups. */
static size_t n_clusters(const struct analysis *a) {
  size_t n = 0;
  while (n < a->n_groups && a->groups[n]->kind == NODE_MARIADB)
    n++;
  return n;
}

static void render_gtid_family(const struct analysis *a, struct buf *out, const char *name,
                               const char *help, bool binlog) {
  render_family(out, name, "gauge", help);
  for (size_t c = 0; c < n_clusters(a); c++) {
    const struct group_analysis *g = a->groups[c];
    for (size_t i = 0; i < g->n_nodes; i++) {
      const struct mariadb_status *m = g->nodes[i].status;
      if (!m || !m->known)
        continue;
      const struct gtid_list *list = binlog ? &m->binlog_pos : &m->slave_pos;
      for (size_t k = 0; k < list->n; k++) {
        char domain[16];
        snprintf(domain, sizeof(domain), "%u", list->items[k].domain);
        struct label labels[] = {
            {"cluster", g->name}, {"node", g->nodes[i].name}, {"domain", domain}};
        render_sample(out, name, labels, 3, (double)list->items[k].seq);
      }
    }
  }
}

/* One link family: a sample per link of every cluster, for the families other than up and
 * expected only where the source is a configured node. The lag family exists only when some cluster
 * has a heartbeat table, and then only for such clusters. */
static void render_link_family(const struct analysis *a, struct buf *out,
                               const struct link_family *f) {
  if (f->value == LINK_LAG) {
    bool any_heartbeat = false;
    for (size_t c = 0; c < n_clusters(a); c++)
      any_heartbeat = any_heartbeat || a->groups[c]->mariadb->heartbeat_table;
    if (!any_heartbeat)
      return;
  }
  render_family(out, f->name, "gauge", f->help);
  for (size_t c = 0; c < n_clusters(a); c++) {
    const struct group_analysis *g = a->groups[c];
    if (f->value == LINK_LAG && !g->mariadb->heartbeat_table)
      continue;
    for (size_t l = 0; l < g->n_links; l++) {
      const struct link_analysis *link = &g->links[l];
      if ((f->value == LINK_LAG || f->value == LINK_STALLED) && link->source_index < 0)
        continue;
      struct label labels[] = {
          {"cluster", g->name}, {"node", g->nodes[link->replica].name}, {"source", link->source}};
      render_sample(out, f->name, labels, 3, link_value(link, f->value));
    }
  }
}

/* One sample per link: the method of the lag the node's health is judged by. */
static void render_lag_methods(const struct analysis *a, struct buf *out) {
  render_family(out, "mariadb_replica_lag_info", "gauge",
                "1 for where the lag the node's health is judged by comes from, per link: "
                "heartbeat (mariadb_heartbeat_lag_seconds), time_diff (Master_Slave_time_diff, "
                "MariaDB 11.6+, without a heartbeat lag) or seconds_behind_master.");
  for (size_t c = 0; c < n_clusters(a); c++) {
    const struct group_analysis *g = a->groups[c];
    for (size_t l = 0; l < g->n_links; l++) {
      const struct link_analysis *link = &g->links[l];
      struct label labels[] = {{"cluster", g->name},
                               {"node", g->nodes[link->replica].name},
                               {"source", link->source},
                               {"method", lag_method_name(link->lag_method)}};
      render_sample(out, "mariadb_replica_lag_info", labels, 4, 1);
    }
  }
}

/* One sample per link whose source is a node of the cluster, labelled by the source (node)
 * and the replica that sees it (peer). */
static void render_alive_per_peer(const struct analysis *a, struct buf *out) {
  render_family(out, "mariadb_node_alive_per_peer", "gauge",
                "1 when peer's replication connection from node is connected and received a "
                "heartbeat or event within its heartbeat period (and a quarter) plus a poll "
                "interval, whether or not replmon reaches node; 0 when it is not connected, "
                "silent for longer or missing; NaN when peer's state is unknown.");
  for (size_t c = 0; c < n_clusters(a); c++) {
    const struct group_analysis *g = a->groups[c];
    for (size_t l = 0; l < g->n_links; l++) {
      const struct link_analysis *link = &g->links[l];
      if (link->source_index < 0)
        continue;
      struct label labels[] = {
          {"cluster", g->name}, {"node", link->source}, {"peer", g->nodes[link->replica].name}};
      render_sample(out, "mariadb_node_alive_per_peer", labels, 3, link->source_alive);
    }
  }
}

static void render_transactions_behind(const struct analysis *a, struct buf *out) {
  render_family(
      out, "mariadb_replica_transactions_behind", "gauge",
      "Transactions the source wrote in its GTID domain that the node has not applied yet.");
  for (size_t c = 0; c < n_clusters(a); c++) {
    const struct group_analysis *g = a->groups[c];
    for (size_t l = 0; l < g->n_links; l++) {
      const struct link_analysis *link = &g->links[l];
      if (link->source_index < 0 || isnan(link->domain))
        continue; /* the domain label is unknown until both nodes answered */
      char domain_text[16];
      snprintf(domain_text, sizeof(domain_text), "%.0f", link->domain);
      struct label labels[] = {{"cluster", g->name},
                               {"node", g->nodes[link->replica].name},
                               {"source", link->source},
                               {"domain", domain_text}};
      render_sample(out, "mariadb_replica_transactions_behind", labels, 4,
                    link->transactions_behind);
    }
  }
}

static void render_errant(const struct analysis *a, struct buf *out) {
  render_family(out, "mariadb_gtid_errant_transactions", "gauge",
                "Transactions in a writer's GTID domain that its writer did not write, on this "
                "node: entries of @@gtid_binlog_state from another server_id (one per server: a "
                "lower bound, kept until the state is cleaned up) plus how far the node's "
                "gtid_slave_pos is ahead of its source's binlog in the source's domain.");
  for (size_t c = 0; c < n_clusters(a); c++) {
    const struct group_analysis *g = a->groups[c];
    for (size_t i = 0; i < g->n_nodes; i++) {
      for (size_t k = 0; k < g->n_domains; k++) {
        char domain[16];
        snprintf(domain, sizeof(domain), "%u", g->domains[k]);
        struct label labels[] = {
            {"cluster", g->name}, {"node", g->nodes[i].name}, {"domain", domain}};
        render_sample(out, "mariadb_gtid_errant_transactions", labels, 3,
                      g->errant[i * g->n_domains + k]);
      }
    }
  }
}

static void render_error_classes(const struct analysis *a, struct buf *out) {
  render_family(out, "mariadb_replica_error_class", "gauge",
                "1 for the class of the connection's current IO or SQL error (duplicate_key "
                "1062, row_not_found 1032, connect 2003/2013, auth 1045, binlog_purged 1236, "
                "other).");
  for (size_t c = 0; c < n_clusters(a); c++) {
    const struct group_analysis *g = a->groups[c];
    for (size_t i = 0; i < g->n_nodes; i++) {
      const struct mariadb_status *m = g->nodes[i].status;
      for (size_t j = 0; m && j < m->n_replicas; j++) {
        bool classes[ERROR_CLASS_COUNT];
        replica_error_classes(&m->replicas[j], classes);
        for (int k = 0; k < ERROR_CLASS_COUNT; k++) {
          struct label labels[] = {{"cluster", g->name},
                                   {"node", g->nodes[i].name},
                                   {"source", m->replicas[j].source ? m->replicas[j].source : ""},
                                   {"class", error_class_name((enum error_class)k)}};
          render_sample(out, "mariadb_replica_error_class", labels, 4, m->known ? classes[k] : NAN);
        }
      }
    }
  }
}

static void render_cluster_checks(const struct analysis *a, struct buf *out) {
  render_family(out, "mariadb_cluster_check_ok", "gauge",
                "1 when the cluster passes the configuration check, 0 when it fails (the reason "
                "is logged and on the status page); NaN when no node answered. semisync_active "
                "only with semisync: required.");
  for (size_t c = 0; c < n_clusters(a); c++) {
    const struct group_analysis *g = a->groups[c];
    for (int k = 0; k < CHECK_COUNT; k++) {
      if (k == CHECK_SEMISYNC_ACTIVE && !g->mariadb->semisync_required)
        continue; /* a pair that does not use semi-sync has no such check */
      struct label labels[] = {{"cluster", g->name},
                               {"check", pair_check_name((enum pair_check)k)}};
      render_sample(out, "mariadb_cluster_check_ok", labels, 2, g->checks[k].ok);
    }
  }
}

void render_clusters(const struct snapshot *s, struct buf *out) {
  const struct analysis *a = s->analysis;
  if (!a)
    return; /* a /probe snapshot shows one node, not its cluster */
  for (size_t f = 0; f < sizeof(link_families) / sizeof(link_families[0]); f++)
    render_link_family(a, out, &link_families[f]);
  render_lag_methods(a, out);
  render_alive_per_peer(a, out);
  render_transactions_behind(a, out);
  render_gtid_family(a, out, "mariadb_gtid_binlog_seq",
                     "Sequence number of the node's @@gtid_binlog_pos, per GTID domain.", true);
  render_gtid_family(a, out, "mariadb_gtid_slave_seq",
                     "Sequence number of the node's @@gtid_slave_pos (applied), per GTID domain.",
                     false);
  render_errant(a, out);
  render_error_classes(a, out);
  render_cluster_checks(a, out);
}
