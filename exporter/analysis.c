#include "analysis.h"
#include "buf.h"
#include "snapshot.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- groups ---- */

static void group_unref(struct group_analysis *g) {
  if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
    return;
  for (size_t i = 0; i < g->n_nodes; i++)
    node_health_clear(&g->health[i]);
  for (size_t i = 0; g->results && i < g->n_results; i++)
    target_result_unref(g->results[i]);
  for (int c = 0; c < CHECK_COUNT; c++)
    free(g->checks[c].reason);
  for (int c = 0; c < XMPP_CHECK_COUNT; c++)
    free(g->xmpp_checks[c].reason);
  free(g->health);
  free(g->results);
  free(g->nodes);
  free(g->links);
  free(g->domains);
  free(g->errant);
  free(g);
}

static struct group_analysis *group_new(enum node_kind kind, const char *name, size_t n_nodes,
                                        size_t n_results) {
  struct group_analysis *g = calloc(1, sizeof(*g));
  if (!g)
    return NULL;
  atomic_init(&g->refs, 1);
  g->kind = kind;
  g->refresh_at_unix = INFINITY;
  g->name = name;
  g->n_nodes = n_nodes;
  g->n_results = n_results;
  g->health = calloc(n_nodes ? n_nodes : 1, sizeof(*g->health));
  g->results = calloc(n_results ? n_results : 1, sizeof(*g->results));
  if (!g->health || !g->results) {
    free(g->health);
    free(g->results);
    free(g);
    return NULL;
  }
  for (int c = 0; c < CHECK_COUNT; c++)
    g->checks[c].ok = NAN;
  for (int c = 0; c < XMPP_CHECK_COUNT; c++)
    g->xmpp_checks[c].ok = NAN;
  return g;
}

/* Keeps the since-when of a node whose state did not change since before. */
static void set_since(struct node_health *h, const struct group_analysis *before, size_t index,
                      double now_unix) {
  const struct node_health *was = NULL;
  if (before && index < before->n_nodes && strcmp(before->health[index].node, h->node) == 0)
    was = &before->health[index];
  for (size_t i = 0; before && !was && i < before->n_nodes; i++)
    if (strcmp(before->health[i].node, h->node) == 0)
      was = &before->health[i];
  h->since_unix = was && was->state == h->state ? was->since_unix : now_unix;
}

/* ---- a MariaDB cluster ---- */

static long node_index(const struct mariadb_cluster_config *cl, const char *name) {
  for (size_t i = 0; i < cl->n_nodes; i++)
    if (strcmp(cl->nodes[i].name, name) == 0)
      return (long)i;
  return -1;
}

/* The links: the expected ones first, then those that exist without being expected. */
static int find_links(struct group_analysis *g) {
  const struct mariadb_cluster_config *cl = g->mariadb;
  size_t existing = 0;
  for (size_t i = 0; i < cl->n_nodes; i++)
    existing += g->nodes[i].status ? g->nodes[i].status->n_replicas : 0;
  g->links = calloc(cl->n_links + existing + 1, sizeof(*g->links));
  if (!g->links)
    return -ENOMEM;
  for (size_t l = 0; l < cl->n_links; l++)
    g->links[g->n_links++] = (struct link_analysis){.replica = cl->links[l].replica,
                                                    .source = cl->nodes[cl->links[l].source].name,
                                                    .source_index = (long)cl->links[l].source,
                                                    .expected = true};
  for (size_t i = 0; i < cl->n_nodes; i++) {
    const struct mariadb_status *m = g->nodes[i].status;
    for (size_t j = 0; m && j < m->n_replicas; j++) {
      const char *source = m->replicas[j].source;
      bool listed = false;
      for (size_t l = 0; l < g->n_links && !listed; l++)
        listed = g->links[l].replica == i && strcmp(g->links[l].source, source) == 0;
      if (!listed)
        g->links[g->n_links++] = (struct link_analysis){
            .replica = i, .source = source, .source_index = node_index(cl, source)};
    }
  }
  return 0;
}

static bool same_link(const struct group_analysis *before, const struct link_analysis *b,
                      const char *replica, const char *source) {
  return strcmp(before->nodes[b->replica].name, replica) == 0 && strcmp(b->source, source) == 0;
}

/* The same link in the group before (the previous analysis), or NULL. Every link asks at
 * every publish: the same position is tried first (find_links keeps the order while the
 * configuration and the connections stay), so a large cluster does not pay a search per
 * link. */
static const struct link_analysis *link_before(const struct group_analysis *before,
                                               const struct group_analysis *g,
                                               const struct link_analysis *l) {
  if (!before || before->kind != NODE_MARIADB)
    return NULL;
  const char *replica = g->nodes[l->replica].name;
  size_t same_place = (size_t)(l - g->links);
  if (same_place < before->n_links &&
      same_link(before, &before->links[same_place], replica, l->source))
    return &before->links[same_place];
  for (size_t k = 0; k < before->n_links; k++)
    if (same_link(before, &before->links[k], replica, l->source))
      return &before->links[k];
  return NULL;
}

/* Adds up what the source wrote to its binlog while the link is broken, from its
 * Binlog_bytes_written at each analysis: the size bound of the binlog horizon needs it. */
static void count_written_since_break(const struct link_analysis *was,
                                      const struct pair_node *source, struct link_analysis *l) {
  l->source_written_since_break = l->source_bytes_seen = l->break_seen_unix = NAN;
  if (isnan(l->up) && was) { /* the replica does not answer: the count goes on after it */
    l->source_written_since_break = was->source_written_since_break;
    l->source_bytes_seen = was->source_bytes_seen;
    l->break_seen_unix = was->break_seen_unix;
    return;
  }
  if (l->up != 0 || !source || !source->status)
    return;
  double now = source->status->memory.binlog_retention.bytes_written;
  bool counting = was && was->up != 1 && !isnan(was->source_written_since_break);
  if (!counting) {
    l->source_written_since_break = isnan(now) ? NAN : 0;
    l->source_bytes_seen = now;
    l->break_seen_unix = source->status->memory.read_unix; /* when now was read */
    return;
  }
  l->source_written_since_break = was->source_written_since_break;
  l->break_seen_unix = was->break_seen_unix;
  l->source_bytes_seen = isnan(now) ? was->source_bytes_seen : now;
  if (!isnan(now) && !isnan(was->source_bytes_seen))
    /* A counter that went down started again with a restart of the server. */
    l->source_written_since_break +=
        now >= was->source_bytes_seen ? now - was->source_bytes_seen : now;
}

/* The judgement of the same link in before (the last analysis of the cluster), if any. */
static struct pair_ahead ahead_before(const struct group_analysis *before,
                                      const struct group_analysis *g,
                                      const struct link_analysis *l) {
  const struct link_analysis *was = link_before(before, g, l);
  return was ? was->ahead : PAIR_AHEAD_UNKNOWN;
}

/* Whether another node of the group has the GTID domain of node i: a domain with two writers
 * (an active-passive pair beside a third node) lets a replica of both hold a GTID of the one
 * before the other has it, which is no errant transaction. */
static bool domain_shared(const struct group_analysis *g, size_t i) {
  const struct mariadb_status *s = g->nodes[i].status;
  double domain = s ? s->memory.gtid_domain_id : NAN;
  for (size_t k = 0; k < g->n_nodes && !isnan(domain); k++)
    if (k != i && g->nodes[k].status && g->nodes[k].status->memory.gtid_domain_id == domain)
      return true;
  return false;
}

/* Fills l; returns when its lag stops holding without a new poll (pair_heartbeat_lag). */
static double measure_link(const struct group_analysis *g, const struct group_analysis *before,
                           struct link_analysis *l, double interval_s, double now_unix) {
  const struct pair_node *replica = &g->nodes[l->replica];
  const struct pair_node *source = l->source_index >= 0 ? &g->nodes[l->source_index] : NULL;
  l->up = pair_link_up(replica, l->source);
  double valid_until = INFINITY;
  l->lag_s = source ? pair_heartbeat_lag(replica, source, g->mariadb->heartbeat_write, interval_s,
                                         now_unix, &valid_until)
                    : NAN;
  const struct replica_status *rep = pair_find_link(replica, l->source);
  double lag = pair_link_lag(rep, l->lag_s, &l->lag_method);
  double delay = rep && rep->sql_delay_seconds > 0 ? rep->sql_delay_seconds : 0;
  l->lag_beyond_delay_s = isnan(lag) ? NAN : lag > delay ? lag - delay : 0;
  l->stalled = pair_stalled(replica, rep, source ? source : replica, g->mariadb->stall_after_s);
  l->transactions_behind = l->domain = NAN;
  l->source_alive = l->source_silent_s = NAN;
  l->ahead = PAIR_AHEAD_UNKNOWN;
  if (source) {
    l->transactions_behind = pair_transactions_behind(replica, source, &l->domain);
    l->source_alive = pair_source_alive(replica, rep, interval_s, &l->source_silent_s);
    /* (Only between nodes that answered: the only links pair_ahead_of_source judges.) */
    if (replica->up && source->up && !domain_shared(g, (size_t)l->source_index))
      l->ahead = pair_ahead_of_source(replica, source, ahead_before(before, g, l));
  }
  count_written_since_break(link_before(before, g, l), source, l);
  l->binlog_horizon = (struct binlog_horizon){NAN, NAN};
  if (source)
    pair_binlog_horizon(replica, rep, source, lag, l->source_written_since_break,
                        source->status ? source->status->memory.read_unix - l->break_seen_unix
                                       : NAN,
                        &l->binlog_horizon);
  return valid_until;
}

/* The errant transactions of every node in every writer domain, and the check
 * no_errant_gtid with the links' judgements. */
static int judge_errant(struct group_analysis *g) {
  size_t n = g->n_nodes;
  struct pair_link_ahead *aheads = calloc(g->n_links ? g->n_links : 1, sizeof(*aheads));
  g->domains = calloc(n ? n : 1, sizeof(*g->domains));
  if (!aheads || !g->domains) {
    free(aheads);
    return -ENOMEM;
  }
  size_t n_aheads = 0;
  for (size_t l = 0; l < g->n_links; l++)
    if (g->links[l].source_index >= 0)
      aheads[n_aheads++] = (struct pair_link_ahead){
          g->links[l].replica, (size_t)g->links[l].source_index, g->links[l].ahead};
  g->n_domains = pair_writer_domains(g->nodes, n, g->domains);
  size_t cells = n * g->n_domains;
  g->errant = calloc(cells ? cells : 1, sizeof(*g->errant));
  for (size_t i = 0; g->errant && i < n; i++)
    for (size_t k = 0; k < g->n_domains; k++)
      g->errant[i * g->n_domains + k] =
          pair_errant_transactions(g->nodes, n, i, g->domains[k], aheads, n_aheads);
  struct check_analysis *check = &g->checks[CHECK_NO_ERRANT_GTID];
  check->ok = pair_check_errant(g->nodes, n, aheads, n_aheads, &check->reason);
  free(aheads);
  return g->errant && (check->ok != 0 || check->reason) ? 0 : -ENOMEM;
}

/* A duration as people round it: "about 40s", "about 25m", "about 5h", "about 3d". */
static void put_about(struct buf *out, double seconds) {
  if (seconds < 120)
    buf_printf(out, "about %.0fs", seconds);
  else if (seconds < 2 * 3600)
    buf_printf(out, "about %.0fm", seconds / 60);
  else if (seconds < 2 * 86400)
    buf_printf(out, "about %.0fh", seconds / 3600);
  else
    buf_printf(out, "about %.0fd", seconds / 86400);
}

/* How long the broken link can stay so, when the source will purge what it needs. */
static void put_horizon(struct buf *out, const struct link_analysis *link,
                        const struct replica_status *rep) {
  double left = link->binlog_horizon.left_s;
  if (isnan(left) || isinf(left))
    return;
  if (left > 0) {
    buf_printf(out, "; %s purges the binlogs it needs in ", link->source);
    put_about(out, left);
    return;
  }
  bool classes[ERROR_CLASS_COUNT];
  replica_error_classes(rep, classes);
  if (!classes[ERROR_BINLOG_PURGED]) /* else its error says so */
    buf_printf(out, "; %s may have purged the binlogs it needs", link->source);
}

/* The first broken or missing expected link of node i, and its worst lag beyond delay. */
static int link_problem(const struct group_analysis *g, size_t i, char **problem,
                        double *worst_lag) {
  const struct pair_node *node = &g->nodes[i];
  struct buf why = BUF_INIT;
  *problem = NULL;
  *worst_lag = NAN;
  for (size_t l = 0; l < g->n_links; l++) {
    const struct link_analysis *link = &g->links[l];
    if (link->replica != i || !link->expected)
      continue;
    const struct replica_status *rep = pair_find_link(node, link->source);
    if (!rep) {
      if (!why.len)
        buf_printf(&why, "no replication from %s (link missing)", link->source);
      continue;
    }
    if (rep->io_state != IO_STATE_YES || !rep->sql_running) {
      if (!why.len) {
        buf_printf(&why, "replication from %s broken: IO %s, SQL %s", link->source,
                   replica_io_state_name(rep->io_state), rep->sql_running ? "yes" : "no");
        if (rep->last_sql_errno > 0)
          buf_printf(&why, " (SQL error %.0f: %s)", rep->last_sql_errno, rep->last_sql_error);
        else if (rep->last_io_errno > 0)
          buf_printf(&why, " (IO error %.0f: %s)", rep->last_io_errno, rep->last_io_error);
        put_horizon(&why, link, rep);
      }
      continue;
    }
    double lag = link->lag_beyond_delay_s;
    if (!isnan(lag) && (isnan(*worst_lag) || lag > *worst_lag))
      *worst_lag = lag;
  }
  if (!why.len) {
    buf_free(&why);
    return 0;
  }
  *problem = buf_steal(&why, NULL); /* NULL (and freed) when it failed */
  return *problem ? 0 : -ENOMEM;
}

/* A node replmon cannot poll, judged by the peers that replicate from it. One whose
 * connection from it is alive shows that it runs and serves its binlog: only replmon's path
 * to it is broken, a warning (orchestrator's UnreachableMaster). Otherwise critical: "down"
 * when a peer confirms it hears nothing from it, "unreachable" when no peer can tell (none
 * replicates from it, or none answers replmon either). */
/* What the peers say of a node: its first link (as a source) whose replica sees it alive,
 * and the first whose replica lost it; NULL when none. */
struct peer_witness {
  const struct link_analysis *alive, *lost;
};

/* Every node's witnesses in one pass over the links (a node at a time would be a pass per
 * node, at every publish). witness has g->n_nodes entries. */
static void find_witnesses(const struct group_analysis *g, struct peer_witness *witness) {
  for (size_t i = 0; i < g->n_nodes; i++)
    witness[i] = (struct peer_witness){NULL, NULL};
  for (size_t l = 0; l < g->n_links; l++) {
    const struct link_analysis *link = &g->links[l];
    if (link->source_index < 0 || (size_t)link->source_index >= g->n_nodes)
      continue;
    struct peer_witness *w = &witness[link->source_index];
    if (link->source_alive == 1 && !w->alive)
      w->alive = link;
    else if (link->source_alive == 0 && !w->lost)
      w->lost = link;
  }
}

static void unpolled_node_health(const struct group_analysis *g, size_t i,
                                 const struct target_result *r, const struct peer_witness *w,
                                 struct node_health *h) {
  const char *error = r->error ? r->error : probe_reason_name(r->reason);
  const struct link_analysis *alive = w->alive, *lost = w->lost;
  struct buf why = BUF_INIT;
  if (alive) {
    const char *peer = g->nodes[alive->replica].name;
    h->state = HEALTH_WARNING;
    buf_printf(&why, "unreachable from replmon, alive per %s: %s (%s", peer, error, peer);
    if (isnan(alive->source_silent_s))
      buf_puts(&why, "'s IO thread from it is connected)");
    else
      buf_printf(&why, " heard from it %.1fs before its last poll)", alive->source_silent_s);
  } else if (lost) {
    const struct pair_node *peer = &g->nodes[lost->replica];
    const struct replica_status *rep = pair_find_link(peer, g->nodes[i].name);
    h->state = HEALTH_CRITICAL;
    buf_printf(&why, "down: %s; %s ", error, peer->name);
    if (!rep)
      buf_puts(&why, "has no replication from it");
    else if (rep->io_state != IO_STATE_YES)
      buf_printf(&why, "lost it too (IO %s)", replica_io_state_name(rep->io_state));
    else
      buf_printf(&why, "heard nothing from it for %.1fs", lost->source_silent_s);
  } else {
    h->state = HEALTH_CRITICAL;
    buf_printf(&why, "unreachable: %s", error);
  }
  h->reason = buf_steal(&why, NULL);
}

static int mariadb_node_health(struct group_analysis *g, size_t i, const struct config *config,
                               const struct peer_witness *witness, struct node_health *h) {
  const struct target_result *r = g->results[i];
  struct buf why = BUF_INIT;
  if (!r) {
    h->state = HEALTH_UNKNOWN;
    h->reason = strdup("not polled yet");
  } else if (!r->success) {
    unpolled_node_health(g, i, r, witness, h);
  } else {
    h->replicating = true;
    if (link_problem(g, i, &h->link_problem, &h->lag_s) != 0)
      return -ENOMEM;
    for (int c = 0; c < CHECK_COUNT && !h->check_problem; c++) {
      if (g->checks[c].ok != 0)
        continue;
      buf_printf(&why, "check %s failed: %s", pair_check_name((enum pair_check)c),
                 g->checks[c].reason ? g->checks[c].reason : "");
      h->check_problem = buf_steal(&why, NULL);
      if (!h->check_problem)
        return -ENOMEM;
    }
    h->state = health_judge_replication(h->link_problem, h->lag_s, h->check_problem,
                                        config->lag_warning_s, config->lag_critical_s, &h->reason);
  }
  return h->reason ? 0 : -ENOMEM;
}

static struct group_analysis *mariadb_group(const struct snapshot *s, size_t c,
                                            const struct group_analysis *before, double now_unix) {
  const struct config *config = s->config;
  const struct mariadb_cluster_config *cl = &config->mariadb[c];
  struct group_analysis *g = group_new(NODE_MARIADB, cl->name, cl->n_nodes, cl->n_nodes);
  if (!g)
    return NULL;
  g->mariadb = cl;
  g->nodes = calloc(cl->n_nodes ? cl->n_nodes : 1, sizeof(*g->nodes));
  int rc = g->nodes ? 0 : -ENOMEM;
  for (size_t i = 0; rc == 0 && i < cl->n_nodes; i++) {
    struct target_result *r = s->results[cl->first_target + i];
    g->results[i] = r ? target_result_ref(r) : NULL;
    g->nodes[i] = (struct pair_node){cl->nodes[i].name, r ? r->data : NULL, r && r->success,
                                     r ? r->finished_unix : NAN};
  }
  if (rc == 0)
    rc = find_links(g);
  double growing = 0; /* the largest lag that grows with the clock */
  for (size_t l = 0; rc == 0 && l < g->n_links; l++) {
    double valid_until = measure_link(g, before, &g->links[l], config->poll_interval_s, now_unix);
    g->refresh_at_unix = fmin(g->refresh_at_unix, valid_until);
    if (valid_until <= now_unix && g->links[l].lag_s > growing)
      growing = g->links[l].lag_s;
  }
  /* A lag that grows with the clock: again a step later. */
  if (g->refresh_at_unix <= now_unix)
    g->refresh_at_unix = analysis_next_refresh(now_unix, config->poll_interval_s, growing);
  for (int k = 0; rc == 0 && k < CHECK_COUNT; k++)
    if (k != CHECK_NO_ERRANT_GTID)
      g->checks[k].ok =
          pair_check((enum pair_check)k, g->nodes, cl->n_nodes, cl->mode == MODE_ACTIVE_PASSIVE,
                     cl->semisync_required, &g->checks[k].reason);
  if (rc == 0)
    rc = judge_errant(g);
  struct peer_witness *witness = calloc(cl->n_nodes ? cl->n_nodes : 1, sizeof(*witness));
  if (rc == 0 && !witness)
    rc = -ENOMEM;
  if (rc == 0)
    find_witnesses(g, witness);
  for (size_t i = 0; rc == 0 && i < cl->n_nodes; i++) {
    struct node_health *h = &g->health[i];
    *h = (struct node_health){.kind = NODE_MARIADB,
                              .cluster = cl->name,
                              .node = cl->nodes[i].name,
                              .lag_s = NAN,
                              .target = cl->first_target + i,
                              .stream_target = -1};
    rc = mariadb_node_health(g, i, config, &witness[i], h);
    set_since(h, before, i, now_unix);
  }
  free(witness);
  if (rc) {
    group_unref(g);
    return NULL;
  }
  return g;
}

/* ---- an XMPP cluster ---- */

/* What an XMPP node's health is judged from, besides its probes' results. */
struct xmpp_context {
  const char *dependency_problem;       /* a database it depends on is critical; NULL when not */
  const struct check_analysis *members; /* the cluster's members_agree check */
  /* The cluster's delivery probe, when this node is one of its two; NULL otherwise. */
  const struct target_result *delivery;
};

/* Raises h to state with the reason in why, unless it already is at least as bad: the
 * reason is the first one found at the worst state. */
static void raise_to(struct node_health *h, enum health_state state, struct buf *why,
                     struct buf *reason) {
  if (health_severity(state) > health_severity(h->state)) {
    h->state = state;
    buf_reset(reason);
    buf_append(reason, why->data ? why->data : "", why->len);
  }
  buf_reset(why);
}

static int xmpp_node_health(const struct target_result *const probes[XMPP_PROBES],
                            const struct xmpp_node_config *n, const struct xmpp_context *ctx,
                            struct node_health *h) {
  const struct target_result *api = probes[XMPP_API], *stream = probes[XMPP_STREAM],
                             *login = probes[XMPP_LOGIN];
  if (!api || (h->stream_target >= 0 && !stream) || (n->login_target >= 0 && !login)) {
    h->state = HEALTH_UNKNOWN;
    h->reason = strdup("not polled yet");
    return h->reason ? 0 : -ENOMEM;
  }
  const struct xmpp_status *x = api->data;
  struct buf why = BUF_INIT, reason = BUF_INIT;
  h->state = HEALTH_OK;
  if (!x->up) {
    buf_printf(&why, "API failing (%s): %s", probe_reason_name(api->reason),
               api->error ? api->error : "");
    raise_to(h, HEALTH_CRITICAL, &why, &reason);
  }
  const struct xmpp_stream_status *st = stream ? stream->data : NULL;
  /* Users log in over c2s: the s2s stream alone failing leaves local chat working. */
  bool only_s2s_failed =
      st && st->endpoints[XMPP_ENDPOINT_S2S].port && !st->endpoints[XMPP_ENDPOINT_S2S].stream_ok &&
      (!st->endpoints[XMPP_ENDPOINT_C2S].port || st->endpoints[XMPP_ENDPOINT_C2S].stream_ok);
  if (stream && !stream->success) {
    buf_printf(&why, "stream probe failing (%s): %s", probe_reason_name(stream->reason),
               stream->error ? stream->error : "");
    raise_to(h, only_s2s_failed ? HEALTH_WARNING : HEALTH_CRITICAL, &why, &reason);
  }
  const struct xmpp_tls_endpoint *s2s = st ? &st->endpoints[XMPP_ENDPOINT_S2S] : NULL;
  if (stream && stream->success && s2s && s2s->port && !s2s->stream_ok) {
    buf_printf(&why, "s2s stream failing: %s", s2s->error ? s2s->error : "");
    raise_to(h, HEALTH_WARNING, &why, &reason);
  }
  if (login && !login->success) {
    buf_printf(&why, "login failing (%s): %s", probe_reason_name(login->reason),
               login->error ? login->error : "");
    raise_to(h, HEALTH_CRITICAL, &why, &reason);
  }
  for (int e = 0; st && !n->tls_insecure_skip_verify && e < XMPP_ENDPOINTS; e++) {
    const struct xmpp_tls_endpoint *ep = &st->endpoints[e];
    if (!ep->handshake_done || ep->verified)
      continue;
    buf_printf(&why, "%s certificate not verified: %s", xmpp_endpoint_name((enum xmpp_endpoint)e),
               ep->tls_problem ? ep->tls_problem : "");
    raise_to(h, HEALTH_WARNING, &why, &reason);
  }
  if (x->up && !api->success) {
    buf_printf(&why, "API partly refused (%s): %s", probe_reason_name(api->reason),
               api->error ? api->error : "");
    raise_to(h, HEALTH_WARNING, &why, &reason);
  }
  if (ctx->dependency_problem && h->state == HEALTH_CRITICAL) {
    /* Logins failing while the database is down: the cause goes with the symptom. */
    buf_printf(&reason, "; %s", ctx->dependency_problem);
  } else if (ctx->dependency_problem) {
    buf_puts(&why, ctx->dependency_problem);
    raise_to(h, HEALTH_WARNING, &why, &reason);
  }
  /* A split cluster before the delivery it breaks: the cause before the symptom. */
  if (n->type == XMPP_EJABBERD && ctx->members->ok == 0) {
    buf_printf(&why, "check members_agree failed: %s", ctx->members->reason);
    raise_to(h, HEALTH_WARNING, &why, &reason);
  }
  if (ctx->delivery && !ctx->delivery->success) {
    buf_printf(&why, "delivery failing (%s): %s", probe_reason_name(ctx->delivery->reason),
               ctx->delivery->error ? ctx->delivery->error : "");
    raise_to(h, HEALTH_WARNING, &why, &reason);
  }
  /* Federation failing leaves local users chatting: a warning, the first remote named. */
  const struct xmpp_login_status *l = login ? login->data : NULL;
  for (size_t i = 0; l && i < l->n_s2s; i++) {
    if (l->s2s[i].success != 0)
      continue;
    buf_printf(&why, "s2s ping to %s failing: %s", l->s2s[i].remote, l->s2s[i].reason);
    raise_to(h, HEALTH_WARNING, &why, &reason);
  }
  if (h->state == HEALTH_OK) {
    if (isnan(x->c2s_sessions))
      buf_puts(&reason, "answering");
    else
      buf_printf(&reason, "answering, %.0f sessions", x->c2s_sessions);
  }
  buf_free(&why);
  h->reason = buf_steal(&reason, NULL);
  return h->reason ? 0 : -ENOMEM;
}

/* The first database n depends on that is critical, as the reason it makes n warning (owned
 * by the caller); NULL when none is, or out of memory (*failed). */
static char *dependency_problem(const struct analysis *a, const struct xmpp_node_config *n,
                                bool *failed) {
  for (size_t d = 0; d < n->n_depends; d++) {
    const struct xmpp_dependency *dep = &n->depends[d];
    const struct node_health *db = &a->groups[dep->cluster]->health[dep->node];
    if (db->state != HEALTH_CRITICAL)
      continue;
    struct buf why = BUF_INIT;
    if (!db->replicating) /* it does not answer replmon, and no peer sees it alive */
      buf_printf(&why, "database %s down: logins and offline messages fail", dep->name);
    else
      buf_printf(&why, "database %s critical (%s): logins and offline messages may fail", dep->name,
                 db->reason);
    char *text = buf_steal(&why, NULL);
    *failed = !text;
    return text;
  }
  return NULL;
}

/* members_agree: every clustered ejabberd node that answered lists the same nodes, as many
 * as the cluster has configured ejabberd nodes (a node that stopped drops out of the others'
 * lists; a split leaves each listing only itself). NaN when none answered. */
static int members_check(const struct xmpp_cluster_config *cl, struct target_result **results,
                         struct check_analysis *check) {
  check->ok = NAN;
  if (!cl->clustered)
    return 0;
  size_t configured = 0, answered = 0;
  const struct xmpp_status *first = NULL;
  bool same = true;
  struct buf views = BUF_INIT;
  for (size_t i = 0; i < cl->n_nodes; i++) {
    if (cl->nodes[i].type != XMPP_EJABBERD)
      continue;
    configured++;
    const struct target_result *api = results[XMPP_PROBES * i + XMPP_API];
    const struct xmpp_status *x = api ? api->data : NULL;
    if (!x || !x->members)
      continue;
    answered++;
    same = same && (!first || strcmp(first->members, x->members) == 0);
    first = first ? first : x;
    buf_printf(&views, "%s%s lists %.0f (%s)", answered > 1 ? ", " : "", cl->nodes[i].name,
               x->cluster_members, x->members);
  }
  if (answered > 0) {
    check->ok = same && first->cluster_members == (double)configured ? 1 : 0;
    buf_printf(&views, "; %zu ejabberd nodes configured", configured);
  }
  if (check->ok == 0) {
    check->reason = buf_steal(&views, NULL);
    return check->reason ? 0 : -ENOMEM;
  }
  buf_free(&views);
  return 0;
}

/* Node i of before when it was judged from the same results and context (a cluster of many
 * nodes is analysed again whenever one of them publishes: the others are copied). */
static const struct node_health *same_inputs(const struct group_analysis *before,
                                             const struct group_analysis *g, size_t i,
                                             const char *dependency_problem) {
  if (!before || before->kind != NODE_XMPP || before->n_nodes != g->n_nodes ||
      strcmp(before->health[i].node, g->health[i].node) != 0)
    return NULL;
  for (size_t k = XMPP_PROBES * i; k < XMPP_PROBES * (i + 1); k++)
    if (before->results[k] != g->results[k])
      return NULL;
  if (before->results[g->n_results - 1] != g->results[g->n_results - 1])
    return NULL; /* the delivery probe */
  const struct node_health *was = &before->health[i];
  bool same_dependency = (!was->dependency_problem && !dependency_problem) ||
                         (was->dependency_problem && dependency_problem &&
                          strcmp(was->dependency_problem, dependency_problem) == 0);
  bool same_members = (isnan(before->xmpp_checks[XMPP_CHECK_MEMBERS_AGREE].ok) &&
                       isnan(g->xmpp_checks[XMPP_CHECK_MEMBERS_AGREE].ok)) ||
                      before->xmpp_checks[XMPP_CHECK_MEMBERS_AGREE].ok ==
                          g->xmpp_checks[XMPP_CHECK_MEMBERS_AGREE].ok;
  return same_dependency && same_members ? was : NULL;
}

static struct group_analysis *xmpp_group(const struct snapshot *s, const struct analysis *a,
                                         size_t c, const struct group_analysis *before,
                                         double now_unix) {
  const struct xmpp_cluster_config *cl = &s->config->xmpp[c];
  struct group_analysis *g =
      group_new(NODE_XMPP, cl->name, cl->n_nodes, XMPP_PROBES * cl->n_nodes + 1);
  if (!g)
    return NULL;
  struct target_result *delivery =
      cl->delivery_target >= 0 ? s->results[cl->delivery_target] : NULL;
  g->results[g->n_results - 1] = delivery ? target_result_ref(delivery) : NULL;
  for (size_t i = 0; i < cl->n_nodes; i++) {
    const struct xmpp_node_config *n = &cl->nodes[i];
    long targets[XMPP_PROBES] = {(long)n->api_target, n->stream_target, n->login_target};
    for (int k = 0; k < XMPP_PROBES; k++) {
      struct target_result *r = targets[k] >= 0 ? s->results[targets[k]] : NULL;
      g->results[XMPP_PROBES * i + (size_t)k] = r ? target_result_ref(r) : NULL;
    }
  }
  int rc = members_check(cl, g->results, &g->xmpp_checks[XMPP_CHECK_MEMBERS_AGREE]);
  for (size_t i = 0; rc == 0 && i < cl->n_nodes; i++) {
    const struct xmpp_node_config *n = &cl->nodes[i];
    struct node_health *h = &g->health[i];
    *h = (struct node_health){.kind = NODE_XMPP,
                              .cluster = cl->name,
                              .node = n->name,
                              .lag_s = NAN,
                              .target = n->api_target,
                              .stream_target = n->stream_target};
    bool failed = false;
    h->dependency_problem = dependency_problem(a, n, &failed);
    if (failed) {
      rc = -ENOMEM;
      break;
    }
    const struct node_health *was = same_inputs(before, g, i, h->dependency_problem);
    if (was) {
      h->state = was->state;
      h->since_unix = was->since_unix;
      h->reason = strdup(was->reason);
      rc = h->reason ? 0 : -ENOMEM;
      continue;
    }
    bool in_delivery = cl->delivery && (cl->delivery_nodes[0] == i || cl->delivery_nodes[1] == i);
    struct xmpp_context ctx = {h->dependency_problem, &g->xmpp_checks[XMPP_CHECK_MEMBERS_AGREE],
                               in_delivery ? delivery : NULL};
    rc = xmpp_node_health((const struct target_result *const *)&g->results[XMPP_PROBES * i], n,
                          &ctx, h);
    set_since(h, before, i, now_unix);
  }
  if (rc) {
    group_unref(g);
    return NULL;
  }
  return g;
}

const char *xmpp_check_name(enum xmpp_check check) {
  return check == XMPP_CHECK_MEMBERS_AGREE ? "members_agree" : "unknown";
}

/* ---- the analysis ---- */

static const struct group_analysis *find_group(const struct analysis *a, enum node_kind kind,
                                               const char *name) {
  for (size_t g = 0; a && g < a->n_groups; g++)
    if (a->groups[g]->kind == kind && strcmp(a->groups[g]->name, name) == 0)
      return a->groups[g];
  return NULL;
}

/* Whether a node of the XMPP cluster depends on a node of MariaDB cluster m. */
static bool depends_on_cluster(const struct xmpp_cluster_config *cl, size_t m) {
  for (size_t i = 0; i < cl->n_nodes; i++)
    for (size_t d = 0; d < cl->nodes[i].n_depends; d++)
      if (cl->nodes[i].depends[d].cluster == m)
        return true;
  return false;
}

double analysis_next_refresh(double now_unix, double interval_s, double lag_s) {
  /* On a grid that every cluster shares, so that one analysis serves all of them. */
  double step = fmax(interval_s / ANALYSIS_REFRESH_STEPS, lag_s / ANALYSIS_REFRESH_RELATIVE);
  double k = floor(now_unix / step) + 1;
  /* (now_unix / step may round up to the grid point that now_unix itself rounds to.) */
  return k * step > now_unix ? k * step : (k + 1) * step;
}

/* Whether group g of prev (same configuration) can be shared by the next analysis. */
static bool group_current(const struct analysis *prev, const struct config *config, size_t g,
                          long changed_group, double now_unix) {
  if (changed_group == -1 || (long)g == changed_group ||
      prev->groups[g]->refresh_at_unix <= now_unix)
    return false;
  if (g < config->n_mariadb)
    return true;
  /* An XMPP cluster shows the MariaDB clusters its nodes depend on. */
  const struct xmpp_cluster_config *cl = &config->xmpp[g - config->n_mariadb];
  for (size_t m = 0; m < config->n_mariadb; m++)
    if (((long)m == changed_group || prev->groups[m]->refresh_at_unix <= now_unix) &&
        depends_on_cluster(cl, m))
      return false;
  return true;
}

struct analysis *analysis_build(const struct analysis *prev, const struct config *prev_config,
                                const struct snapshot *s, long changed_target, double now_unix) {
  const struct config *config = s->config;
  struct analysis *a = calloc(1, sizeof(*a));
  if (!a)
    return NULL;
  atomic_init(&a->refs, 1);
  a->refresh_at_unix = INFINITY;
  a->config = config_ref(s->config);
  size_t n = config->n_mariadb + config->n_xmpp;
  a->groups = calloc(n ? n : 1, sizeof(*a->groups));
  size_t n_nodes = 0;
  for (size_t c = 0; c < config->n_mariadb; c++)
    n_nodes += config->mariadb[c].n_nodes;
  for (size_t c = 0; c < config->n_xmpp; c++)
    n_nodes += config->xmpp[c].n_nodes;
  a->nodes = calloc(n_nodes ? n_nodes : 1, sizeof(*a->nodes));
  if (!a->groups || !a->nodes) {
    analysis_unref(a);
    return NULL;
  }
  bool same_config = prev && prev_config == config && prev->n_groups == n;
  long changed_group = changed_target >= 0 ? (long)config->targets[changed_target].group
                       : changed_target == ANALYSIS_NO_NEW_RESULT ? -2
                                                                  : -1;
  for (size_t g = 0; g < n; g++) {
    bool mariadb = g < config->n_mariadb;
    const struct group_analysis *before =
        same_config ? prev->groups[g]
                    : find_group(prev, mariadb ? NODE_MARIADB : NODE_XMPP,
                                 mariadb ? config->mariadb[g].name
                                         : config->xmpp[g - config->n_mariadb].name);
    struct group_analysis *next;
    if (same_config && group_current(prev, config, g, changed_group, now_unix)) {
      next = prev->groups[g];
      atomic_fetch_add(&next->refs, 1);
    } else {
      next = mariadb ? mariadb_group(s, g, before, now_unix)
                     : xmpp_group(s, a, g - config->n_mariadb, before, now_unix);
    }
    if (!next) {
      analysis_unref(a);
      return NULL;
    }
    a->groups[a->n_groups++] = next;
    a->refresh_at_unix = fmin(a->refresh_at_unix, next->refresh_at_unix);
    for (size_t i = 0; i < next->n_nodes; i++)
      a->nodes[a->n_nodes++] = &next->health[i];
  }
  return a;
}

struct analysis *analysis_ref(struct analysis *a) {
  atomic_fetch_add(&a->refs, 1);
  return a;
}

void analysis_unref(struct analysis *a) {
  if (!a || atomic_fetch_sub(&a->refs, 1) != 1)
    return;
  for (size_t g = 0; g < a->n_groups; g++)
    group_unref(a->groups[g]);
  free(a->groups);
  free(a->nodes);
  config_unref(a->config);
  free(a);
}

const struct node_health *analysis_target_health(const struct analysis *a,
                                                 const struct config *config, size_t t) {
  const struct target *tg = &config->targets[t];
  if (!a || !target_is_node(tg) || tg->group >= a->n_groups)
    return NULL;
  const struct group_analysis *g = a->groups[tg->group];
  return tg->node_index < g->n_nodes ? &g->health[tg->node_index] : NULL;
}

const struct node_health *analysis_find_node(const struct analysis *a, const char *name) {
  for (size_t i = 0; a && i < a->n_nodes; i++)
    if (strcmp(a->nodes[i]->node, name) == 0)
      return a->nodes[i];
  return NULL;
}

static char *copy_text(const char *text, bool *failed) {
  char *copy = text ? strdup(text) : NULL;
  *failed = *failed || (text && !copy);
  return copy;
}

int analysis_copy_health(const struct analysis *a, struct node_health **out, size_t *n) {
  *out = NULL;
  *n = 0;
  struct node_health *list = calloc(a->n_nodes ? a->n_nodes : 1, sizeof(*list));
  if (!list)
    return -ENOMEM;
  bool failed = false;
  for (size_t i = 0; i < a->n_nodes; i++) {
    list[i] = *a->nodes[i];
    list[i].reason = copy_text(a->nodes[i]->reason, &failed);
    list[i].link_problem = copy_text(a->nodes[i]->link_problem, &failed);
    list[i].check_problem = copy_text(a->nodes[i]->check_problem, &failed);
    list[i].dependency_problem = copy_text(a->nodes[i]->dependency_problem, &failed);
  }
  if (failed) {
    health_free(list, a->n_nodes);
    return -ENOMEM;
  }
  *out = list;
  *n = a->n_nodes;
  return 0;
}

void health_free(struct node_health *list, size_t n) {
  for (size_t i = 0; list && i < n; i++)
    node_health_clear(&list[i]);
  free(list);
}
