#include "watch.h"
#include "buf.h"
#include "cluster.h"
#include "log.h"
#include "pair.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The last state seen for one key ("cluster/check" or "cluster/node/heartbeat"). */
struct entry {
  char *key;
  char *problem; /* NULL while fine */
};

struct watch {
  size_t n;
  struct entry *entries;
};

struct watch *watch_new(void) {
  return calloc(1, sizeof(struct watch));
}

void watch_free(struct watch *watch) {
  if (!watch)
    return;
  for (size_t i = 0; i < watch->n; i++) {
    free(watch->entries[i].key);
    free(watch->entries[i].problem);
  }
  free(watch->entries);
  free(watch);
}

static struct entry *find(struct watch *w, const char *key) {
  for (size_t i = 0; i < w->n; i++)
    if (strcmp(w->entries[i].key, key) == 0)
      return &w->entries[i];
  struct entry *grown = realloc(w->entries, (w->n + 1) * sizeof(*grown));
  if (!grown)
    return NULL;
  w->entries = grown;
  struct entry *e = &w->entries[w->n];
  e->key = strdup(key);
  e->problem = NULL;
  if (!e->key)
    return NULL;
  w->n++;
  return e;
}

/* Records problem (NULL: fine) under key; returns true when it differs from last time. */
static bool changed(struct watch *w, const char *key, const char *problem, char **before) {
  struct entry *e = find(w, key);
  *before = NULL;
  if (!e)
    return false;
  bool same = (!e->problem && !problem) || (e->problem && problem && !strcmp(e->problem, problem));
  if (same)
    return false;
  *before = e->problem;
  e->problem = problem ? strdup(problem) : NULL;
  return true;
}

static void watch_cluster(struct watch *w, const struct cluster_view *v) {
  struct buf key = BUF_INIT;
  for (int c = 0; c < CHECK_COUNT; c++) {
    char *reason = NULL;
    double ok = pair_check((enum pair_check)c, v->nodes, v->config->n_nodes,
                           v->config->mode == MODE_ACTIVE_PASSIVE, &reason);
    if (isnan(ok)) {
      free(reason);
      continue; /* nobody answered: nothing new to say */
    }
    buf_reset(&key);
    buf_printf(&key, "%s/%s", v->config->name, pair_check_name((enum pair_check)c));
    char *before;
    if (key.data && changed(w, key.data, ok ? NULL : reason ? reason : "failed", &before)) {
      if (ok)
        log_event(LOG_INFO, "cluster check passes again", "cluster", v->config->name, "check",
                  pair_check_name((enum pair_check)c));
      else
        log_event(LOG_WARN, "cluster check failed", "cluster", v->config->name, "check",
                  pair_check_name((enum pair_check)c), "reason", reason);
      free(before);
    }
    free(reason);
  }
  for (size_t i = 0; v->config->heartbeat_table && i < v->config->n_nodes; i++) {
    const struct mariadb_status *m = v->nodes[i].status;
    if (!m || !m->known)
      continue;
    buf_reset(&key);
    buf_printf(&key, "%s/%s/heartbeat", v->config->name, v->nodes[i].name);
    char *before;
    if (key.data && changed(w, key.data, m->heartbeat_error, &before)) {
      if (m->heartbeat_error)
        log_event(LOG_WARN, "heartbeat not usable", "cluster", v->config->name, "node",
                  v->nodes[i].name, "err", m->heartbeat_error);
      else if (before)
        log_event(LOG_INFO, "heartbeat usable again", "cluster", v->config->name, "node",
                  v->nodes[i].name);
      free(before);
    }
  }
  buf_free(&key);
}

void watch_update(struct watch *w, const struct snapshot *s) {
  for (size_t c = 0; c < s->config->n_mariadb; c++) {
    struct cluster_view v;
    if (cluster_view_build(s, c, &v) == 0)
      watch_cluster(w, &v);
    cluster_view_free(&v);
  }
}
