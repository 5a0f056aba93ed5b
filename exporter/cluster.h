/* A MariaDB cluster as one snapshot shows it: its nodes for the pair analysis, and its
 * links, the expected ones first, then those that exist without being expected. */
#ifndef REPLMON_CLUSTER_H
#define REPLMON_CLUSTER_H

#include "pair.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stddef.h>

struct link_view {
  size_t replica;     /* node index in the cluster */
  const char *source; /* the source's name (a configured node) or host:port */
  long source_index;  /* -1 when the source is not a node of this cluster */
  bool expected;
};

struct cluster_view {
  const struct mariadb_cluster_config *config;
  struct pair_node *nodes; /* config->n_nodes entries, pointing into the snapshot */
  size_t n_links;
  struct link_view *links;
};

/* Builds the view of s->config->mariadb[cluster]; it borrows from s, which must outlive it.
 * Returns 0 or -ENOMEM (free the view either way). */
int cluster_view_build(const struct snapshot *s, size_t cluster, struct cluster_view *view);
void cluster_view_free(struct cluster_view *view);

#endif
