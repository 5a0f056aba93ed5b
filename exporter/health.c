#include "health.h"
#include "buf.h"
#include "cluster.h"
#include "pair.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *health_state_name(enum health_state state) {
  static const char *const names[HEALTH_COUNT] = {"ok", "warning", "critical", "unknown"};
  return state >= 0 && state < HEALTH_COUNT ? names[state] : "unknown";
}

int health_severity(enum health_state state) {
  switch (state) {
  case HEALTH_OK:
    return 0;
  case HEALTH_UNKNOWN:
    return 1;
  case HEALTH_WARNING:
    return 2;
  case HEALTH_CRITICAL:
    return 3;
  default:
    return 1; /* not a state: as unknown */
  }
}

/* Raises h to state with reason, unless it is already at least as bad. */
static void raise_to(struct node_health *h, enum health_state state, struct buf *reason) {
  bool worse = h->state == HEALTH_OK || (state == HEALTH_CRITICAL && h->state == HEALTH_WARNING);
  if (worse && reason->data) {
    free(h->reason);
    h->reason = buf_steal(reason, NULL);
    h->state = state;
  }
  buf_reset(reason);
}

static void mariadb_health(const struct snapshot *s, const struct cluster_view *v, size_t i,
                           double max_lag_s, struct node_health *h) {
  const struct config *config = s->config;
  const struct pair_node *node = &v->nodes[i];
  const struct target_result *r = s->results[h->target];
  struct buf why = BUF_INIT;
  h->lag_s = NAN;
  if (!r) {
    h->state = HEALTH_UNKNOWN;
    h->reason = strdup("not polled yet");
    return;
  }
  if (!r->success) {
    h->state = HEALTH_CRITICAL;
    buf_printf(&why, "unreachable: %s", r->error ? r->error : probe_reason_name(r->reason));
    h->reason = buf_steal(&why, NULL);
    return;
  }
  h->state = HEALTH_OK;
  h->reason = strdup("replicating");
  for (size_t l = 0; l < v->n_links; l++) {
    const struct link_view *link = &v->links[l];
    if (link->replica != i || !link->expected)
      continue;
    const struct replica_status *rep = pair_find_link(node, link->source);
    if (!rep) {
      buf_printf(&why, "no replication from %s (link missing)", link->source);
      raise_to(h, HEALTH_CRITICAL, &why);
      continue;
    }
    if (rep->io_state != IO_STATE_YES || !rep->sql_running) {
      buf_printf(&why, "replication from %s broken: IO %s, SQL %s", link->source,
                 replica_io_state_name(rep->io_state), rep->sql_running ? "yes" : "no");
      if (rep->last_sql_errno > 0)
        buf_printf(&why, " (SQL error %.0f: %s)", rep->last_sql_errno, rep->last_sql_error);
      else if (rep->last_io_errno > 0)
        buf_printf(&why, " (IO error %.0f: %s)", rep->last_io_errno, rep->last_io_error);
      raise_to(h, HEALTH_CRITICAL, &why);
      continue;
    }
    double lag = link->source_index >= 0 ? pair_heartbeat_lag(node, &v->nodes[link->source_index],
                                                              v->config->heartbeat_write)
                                         : NAN;
    if (isnan(lag))
      lag = rep->seconds_behind_master;
    if (!isnan(lag) && (isnan(h->lag_s) || lag > h->lag_s))
      h->lag_s = lag;
  }
  double critical = isnan(max_lag_s) ? config->lag_critical_s : max_lag_s;
  if (!isnan(h->lag_s) && h->lag_s >= critical) {
    buf_printf(&why, "lag %.1fs >= %.1fs", h->lag_s, critical);
    raise_to(h, HEALTH_CRITICAL, &why);
  } else if (!isnan(h->lag_s) && h->lag_s >= config->lag_warning_s) {
    buf_printf(&why, "lag %.1fs >= %.1fs", h->lag_s, config->lag_warning_s);
    raise_to(h, HEALTH_WARNING, &why);
  }
  for (int c = 0; c < CHECK_COUNT; c++) {
    char *reason = NULL;
    double ok = pair_check((enum pair_check)c, v->nodes, v->config->n_nodes,
                           v->config->mode == MODE_ACTIVE_PASSIVE, &reason);
    if (ok == 0) {
      buf_printf(&why, "check %s failed: %s", pair_check_name((enum pair_check)c),
                 reason ? reason : "");
      raise_to(h, HEALTH_WARNING, &why);
    }
    free(reason);
  }
  if (h->state == HEALTH_OK && !isnan(h->lag_s)) {
    free(h->reason);
    buf_printf(&why, "replicating, lag %.1fs", h->lag_s);
    h->reason = buf_steal(&why, NULL);
  }
  buf_free(&why);
}

static void xmpp_health(const struct snapshot *s, struct node_health *h) {
  const struct target_result *api = s->results[h->target];
  const struct target_result *stream = h->stream_target >= 0 ? s->results[h->stream_target] : NULL;
  struct buf why = BUF_INIT;
  h->lag_s = NAN;
  if (!api || (h->stream_target >= 0 && !stream)) {
    h->state = HEALTH_UNKNOWN;
    h->reason = strdup("not polled yet");
    return;
  }
  h->state = HEALTH_OK;
  h->reason = NULL;
  if (!api->xmpp.up) {
    buf_printf(&why, "API failing (%s): %s", probe_reason_name(api->reason),
               api->error ? api->error : "");
    raise_to(h, HEALTH_CRITICAL, &why);
  } else if (!api->success) {
    buf_printf(&why, "API partly refused (%s): %s", probe_reason_name(api->reason),
               api->error ? api->error : "");
    raise_to(h, HEALTH_WARNING, &why);
  }
  if (stream && !stream->success) {
    buf_printf(&why, "stream probe failing (%s): %s", probe_reason_name(stream->reason),
               stream->error ? stream->error : "");
    raise_to(h, HEALTH_CRITICAL, &why);
  }
  if (h->state == HEALTH_OK) {
    if (isnan(api->xmpp.c2s_sessions))
      buf_puts(&why, "answering");
    else
      buf_printf(&why, "answering, %.0f sessions", api->xmpp.c2s_sessions);
    h->reason = buf_steal(&why, NULL);
  }
  buf_free(&why);
}

int health_evaluate(const struct snapshot *s, double max_lag_s, struct node_health **out,
                    size_t *n) {
  const struct config *config = s->config;
  size_t count = 0;
  for (size_t c = 0; c < config->n_mariadb; c++)
    count += config->mariadb[c].n_nodes;
  for (size_t c = 0; c < config->n_xmpp; c++)
    count += config->xmpp[c].n_nodes;
  struct node_health *list = calloc(count ? count : 1, sizeof(*list));
  if (!list)
    return -ENOMEM;
  size_t k = 0;
  int rc = 0;
  size_t target = 0;
  for (size_t c = 0; c < config->n_mariadb; c++) {
    struct cluster_view v;
    if (cluster_view_build(s, c, &v) != 0)
      rc = -ENOMEM;
    for (size_t i = 0; i < config->mariadb[c].n_nodes; i++, target++) {
      struct node_health *h = &list[k++];
      h->kind = "mariadb";
      h->cluster = config->mariadb[c].name;
      h->node = config->mariadb[c].nodes[i].name;
      h->target = target;
      h->stream_target = -1;
      if (rc == 0)
        mariadb_health(s, &v, i, max_lag_s, h);
    }
    cluster_view_free(&v);
  }
  for (size_t t = 0; t < s->n_targets && rc == 0; t++) {
    const struct target *tg = &config->targets[t];
    if (tg->kind != TARGET_XMPP)
      continue;
    struct node_health *h = &list[k++];
    h->kind = "xmpp";
    h->cluster = tg->cluster;
    h->node = tg->name;
    h->target = t;
    h->stream_target = -1;
    for (size_t u = 0; u < s->n_targets; u++)
      if (config->targets[u].kind == TARGET_XMPP_STREAM &&
          config->targets[u].xmpp_node == tg->xmpp_node)
        h->stream_target = (long)u;
    xmpp_health(s, h);
  }
  for (size_t i = 0; i < k && rc == 0; i++)
    if (!list[i].reason)
      rc = -ENOMEM;
  if (rc) {
    health_free(list, k);
    return rc;
  }
  *out = list;
  *n = k;
  return 0;
}

void health_free(struct node_health *list, size_t n) {
  for (size_t i = 0; list && i < n; i++)
    free(list[i].reason);
  free(list);
}
