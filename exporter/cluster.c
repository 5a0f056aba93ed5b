#include "cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static long source_index(const struct mariadb_cluster_config *cl, const char *name) {
  for (size_t i = 0; i < cl->n_nodes; i++)
    if (strcmp(cl->nodes[i].name, name) == 0)
      return (long)i;
  return -1;
}

/* The cluster's nodes from the snapshot, and its links: the expected ones first, then those
 * that exist without being expected. Returns 0 or -ENOMEM. */
int cluster_view_build(const struct snapshot *s, size_t cluster, struct cluster_view *v) {
  const struct config *config = s->config;
  const struct mariadb_cluster_config *cl = &config->mariadb[cluster];
  size_t first = 0;
  for (size_t c = 0; c < cluster; c++)
    first += config->mariadb[c].n_nodes;
  memset(v, 0, sizeof(*v));
  v->config = cl;
  size_t existing = 0;
  for (size_t i = 0; i < cl->n_nodes; i++) {
    const struct target_result *r = s->results[first + i];
    existing += r ? r->mariadb.n_replicas : 0;
  }
  v->nodes = calloc(cl->n_nodes, sizeof(*v->nodes));
  v->links = calloc(cl->n_links + existing + 1, sizeof(*v->links));
  if (!v->nodes || !v->links)
    return -ENOMEM;
  for (size_t i = 0; i < cl->n_nodes; i++) {
    const struct target_result *r = s->results[first + i];
    v->nodes[i] = (struct pair_node){cl->nodes[i].name, r ? &r->mariadb : NULL, r && r->success};
  }
  for (size_t l = 0; l < cl->n_links; l++)
    v->links[v->n_links++] = (struct link_view){
        cl->links[l].replica, cl->nodes[cl->links[l].source].name, (long)cl->links[l].source, true};
  for (size_t i = 0; i < cl->n_nodes; i++) {
    const struct mariadb_status *m = v->nodes[i].status;
    for (size_t j = 0; m && j < m->n_replicas; j++) {
      const char *source = m->replicas[j].source;
      bool listed = false;
      for (size_t l = 0; l < v->n_links && !listed; l++)
        listed = v->links[l].replica == i && strcmp(v->links[l].source, source) == 0;
      if (!listed)
        v->links[v->n_links++] = (struct link_view){i, source, source_index(cl, source), false};
    }
  }
  return 0;
}

void cluster_view_free(struct cluster_view *v) {
  free(v->nodes);
  free(v->links);
}
