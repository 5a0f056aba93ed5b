#include "watch.h"
#include "analysis.h"
#include "log.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct watch {
  struct analysis *seen; /* the analysis of the last call, a reference */
};

struct watch *watch_new(void) {
  return calloc(1, sizeof(struct watch));
}

void watch_free(struct watch *watch) {
  if (!watch)
    return;
  analysis_unref(watch->seen);
  free(watch);
}

static bool same_text(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The group of before that stands for now: the same index when nothing was reloaded. */
static const struct group_analysis *find_group(const struct analysis *before, size_t index,
                                               const struct group_analysis *now) {
  if (!before)
    return NULL;
  if (index < before->n_groups && before->groups[index]->kind == now->kind &&
      strcmp(before->groups[index]->name, now->name) == 0)
    return before->groups[index];
  for (size_t g = 0; g < before->n_groups; g++)
    if (before->groups[g]->kind == now->kind && strcmp(before->groups[g]->name, now->name) == 0)
      return before->groups[g];
  return NULL;
}

static long find_node(const struct group_analysis *g, size_t index, const char *name) {
  if (!g)
    return -1;
  if (index < g->n_nodes && strcmp(g->health[index].node, name) == 0)
    return (long)index;
  for (size_t i = 0; i < g->n_nodes; i++)
    if (strcmp(g->health[i].node, name) == 0)
      return (long)i;
  return -1;
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

/* Logs a node whose health state changed, with how long the previous state lasted. */
static void watch_node(const struct node_health *before, const struct node_health *h) {
  if (before ? before->state == h->state : h->state == HEALTH_UNKNOWN)
    return;
  char lasted[32] = "";
  if (before)
    format_duration(lasted, sizeof(lasted), h->since_unix - before->since_unix);
  enum log_level level = h->state == HEALTH_CRITICAL  ? LOG_ERROR
                         : h->state == HEALTH_WARNING ? LOG_WARN
                                                      : LOG_INFO;
  log_event(level, "state changed", "kind", node_kind_name(h->kind), "cluster", h->cluster, "node",
            h->node, "from", before ? health_state_name(before->state) : "none", "to",
            health_state_name(h->state), "reason", h->reason, "previous_lasted", lasted);
}

/* Logs the cluster checks that began or stopped failing, and the heartbeat tables that
 * became unusable or usable again. */
/* Logs a cluster check that began failing (or fails for another reason) or passes again. */
static void watch_check(const char *cluster, const char *name, const struct check_analysis *was,
                        const struct check_analysis *now) {
  if (isnan(now->ok))
    return; /* nobody answered: nothing new to say */
  bool failed_before = was && was->ok == 0;
  if ((now->ok == 0) == failed_before && (!failed_before || same_text(was->reason, now->reason)))
    return;
  if (now->ok != 0)
    log_event(LOG_INFO, "cluster check passes again", "cluster", cluster, "check", name);
  else
    log_event(LOG_WARN, "cluster check failed", "cluster", cluster, "check", name, "reason",
              now->reason);
}

static void watch_cluster(const struct group_analysis *before, const struct group_analysis *g) {
  for (int c = 0; c < CHECK_COUNT; c++)
    watch_check(g->name, pair_check_name((enum pair_check)c), before ? &before->checks[c] : NULL,
                &g->checks[c]);
  for (size_t i = 0; g->mariadb->heartbeat_table && i < g->n_nodes; i++) {
    const struct mariadb_status *m = g->nodes[i].status;
    if (!m || !m->known)
      continue;
    long j = find_node(before, i, g->health[i].node);
    const struct mariadb_status *was = j >= 0 ? before->nodes[j].status : NULL;
    bool knew = was && was->known;
    const char *problem_before = knew ? was->heartbeat_error : NULL;
    if (m->heartbeat_error && (!knew || !same_text(problem_before, m->heartbeat_error)))
      log_event(LOG_WARN, "heartbeat not usable", "cluster", g->name, "node", g->health[i].node,
                "err", m->heartbeat_error);
    else if (!m->heartbeat_error && problem_before)
      log_event(LOG_INFO, "heartbeat usable again", "cluster", g->name, "node", g->health[i].node);
  }
}

void watch_update(struct watch *w, const struct snapshot *s) {
  struct analysis *a = s->analysis;
  if (!a || a == w->seen)
    return;
  for (size_t g = 0; g < a->n_groups; g++) {
    const struct group_analysis *now = a->groups[g];
    const struct group_analysis *before = find_group(w->seen, g, now);
    if (before == now)
      continue; /* shared: nothing in it changed */
    for (size_t i = 0; i < now->n_nodes; i++) {
      long j = find_node(before, i, now->health[i].node);
      watch_node(j >= 0 ? &before->health[j] : NULL, &now->health[i]);
    }
    if (now->kind == NODE_MARIADB)
      watch_cluster(before, now);
    for (int c = 0; now->kind == NODE_XMPP && c < XMPP_CHECK_COUNT; c++)
      watch_check(now->name, xmpp_check_name((enum xmpp_check)c),
                  before ? &before->xmpp_checks[c] : NULL, &now->xmpp_checks[c]);
  }
  analysis_unref(w->seen);
  w->seen = analysis_ref(a);
}
