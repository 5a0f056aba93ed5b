/* Shared by the files that write /metrics, and by them only (other modules use render.h):
 * render.c holds the entry point and these writers, and each render_*.c file one group of
 * metric families. */
#ifndef REPLMON_RENDER_FAMILIES_H
#define REPLMON_RENDER_FAMILIES_H

#include "mariadb.h"
#include "render.h"
#include "xmpp.h"
#include "xmpp_delivery.h"
#include "xmpp_login.h"

#include <stdbool.h>
#include <stddef.h>

/* A result's data, for a family that knows its target's kind. */
static inline const struct mariadb_status *mariadb_of(const struct target_result *r) {
  return r->data;
}
static inline const struct xmpp_status *xmpp_of(const struct target_result *r) {
  return r->data;
}
static inline const struct xmpp_stream_status *stream_of(const struct target_result *r) {
  return r->data;
}

struct label {
  const char *name;
  const char *value; /* escaped when written */
};

/* Whether target i is rendered: every target, or the one a /probe snapshot is for. */
bool render_selected(const struct snapshot *s, size_t i);
/* Appends a family's HELP and TYPE lines; its samples follow. */
void render_family(struct buf *out, const char *name, const char *type, const char *help);
/* Appends one sample: name, the n labels with their values escaped, and value. */
void render_sample(struct buf *out, const char *name, const struct label *labels, size_t n,
                   double value);

/* render_mariadb.c: mariadb_up, mariadb_server_id and mariadb_read_only of every node. */
void render_mariadb_nodes(const struct snapshot *s, struct buf *out);
/* render_mariadb.c: the mariadb_semisync_* families of every node. */
void render_mariadb_semisync(const struct snapshot *s, struct buf *out);
/* render_mariadb.c: the mariadb_replica_* families of every replication connection. */
void render_mariadb_replicas(const struct snapshot *s, struct buf *out);

/* render_cluster.c: the families of each cluster as a whole (links, lag, GTID positions,
 * error classes, configuration checks); not for a /probe snapshot. */
void render_clusters(const struct snapshot *s, struct buf *out);

/* render_xmpp.c: the families of every XMPP server's HTTP API. */
void render_xmpp(const struct snapshot *s, struct buf *out);
/* render_xmpp.c: the families of every c2s stream probe. */
void render_streams(const struct snapshot *s, struct buf *out);
/* render_xmpp.c: the families of every logged-in probe (none without a probe account). */
void render_logins(const struct snapshot *s, struct buf *out);
/* render_xmpp.c: the members of clustered ejabberd nodes and the clusters' checks. */
void render_xmpp_clusters(const struct snapshot *s, struct buf *out);
/* render_xmpp.c: xmpp_node_database_info of every node with depends_on. */
void render_dependencies(const struct snapshot *s, struct buf *out);
/* render_xmpp.c: the delivery probes' families (none without a delivery probe). */
void render_deliveries(const struct snapshot *s, struct buf *out);

/* render_replmon.c: every target's replmon_probe_* and replmon_last_success_* families. */
void render_probes(const struct snapshot *s, struct buf *out);
/* render_replmon.c: every node's health state; not for a /probe snapshot. */
void render_states(const struct snapshot *s, struct buf *out);

#endif
