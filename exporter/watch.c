#include "watch.h"
#include "buf.h"
#include "cluster.h"
#include "health.h"
#include "log.h"
#include "pair.h"

#include <math.h>
#include <stdio.h>
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
  size_t cursor; /* where the next find starts */
  struct entry *entries;
  struct health_board *board; /* our reference to the last published board */
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
  health_board_unref(watch->board);
  free(watch);
}

static struct entry *find(struct watch *w, const char *key) {
  /* Keys come in the same order at every tick: start where the last one was found, so that a
   * tick costs one comparison per key rather than a search. */
  for (size_t k = 0; k < w->n; k++) {
    size_t i = (w->cursor + k) % w->n;
    if (strcmp(w->entries[i].key, key) == 0) {
      w->cursor = i + 1;
      return &w->entries[i];
    }
  }
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

static void format_duration(char *out, size_t size, double seconds) {
  long s = seconds < 0 ? 0 : (long)seconds;
  if (s >= 3600)
    snprintf(out, size, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
  else if (s >= 60)
    snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
  else
    snprintf(out, size, "%.1fs", seconds < 0 ? 0 : seconds);
}

/* Logs every node whose health state changed, with how long the previous state lasted, and
 * publishes the new board (states and since when) into the store. */
static void watch_health(struct watch *w, struct snapshot_store *store, const struct snapshot *s) {
  struct node_health *list;
  size_t n;
  if (health_evaluate(s, NAN, &list, &n) != 0)
    return;
  double now = clock_unix_seconds();
  bool changed_any = !w->board || w->board->n != n;
  struct health_board *next = health_board_new(n);
  for (size_t i = 0; next && i < n; i++) {
    const struct board_entry *before =
        health_board_find(w->board, list[i].cluster, list[i].node, i);
    struct board_entry *e = &next->entries[i];
    e->cluster = strdup(list[i].cluster);
    e->node = strdup(list[i].node);
    e->state = list[i].state;
    e->since_unix = before && before->state == (int)list[i].state ? before->since_unix : now;
    if (before && before->state == (int)list[i].state)
      continue;
    changed_any = true;
    if (!before && list[i].state == HEALTH_UNKNOWN)
      continue;
    char lasted[32] = "";
    if (before)
      format_duration(lasted, sizeof(lasted), now - before->since_unix);
    enum log_level level = list[i].state == HEALTH_CRITICAL  ? LOG_ERROR
                           : list[i].state == HEALTH_WARNING ? LOG_WARN
                                                             : LOG_INFO;
    log_event(level, "state changed", "kind", list[i].kind, "cluster", list[i].cluster, "node",
              list[i].node, "from",
              before ? health_state_name((enum health_state)before->state) : "none", "to",
              health_state_name(list[i].state), "reason", list[i].reason, "previous_lasted",
              lasted);
  }
  health_free(list, n);
  if (!next)
    return;
  if (!changed_any) {
    health_board_unref(next);
    return;
  }
  health_board_unref(w->board);
  w->board = next;
  atomic_fetch_add(&next->refs, 1);
  snapshot_store_set_board(store, next);
}

void watch_update(struct watch *w, struct snapshot_store *store, const struct snapshot *s) {
  watch_health(w, store, s);
  for (size_t c = 0; c < s->config->n_mariadb; c++) {
    struct cluster_view v;
    if (cluster_view_build(s, c, &v) == 0)
      watch_cluster(w, &v);
    cluster_view_free(&v);
  }
}
