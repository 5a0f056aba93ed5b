#include "snapshot.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct snapshot_store {
  pthread_mutex_t lock; /* guards current and generation; held only for a swap */
  struct snapshot *current;
  unsigned long generation;
};

struct target_result *target_result_new(void) {
  struct target_result *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  atomic_init(&r->refs, 1);
  r->reason = REASON_NONE;
  r->mariadb.server_id = r->mariadb.read_only = NAN;
  xmpp_status_reset(&r->xmpp);
  xmpp_stream_status_reset(&r->stream);
  return r;
}

struct target_result *target_result_ref(struct target_result *result) {
  atomic_fetch_add(&result->refs, 1);
  return result;
}

void target_result_unref(struct target_result *result) {
  if (!result || atomic_fetch_sub(&result->refs, 1) != 1)
    return;
  mariadb_status_clear(&result->mariadb);
  xmpp_status_reset(&result->xmpp);
  xmpp_stream_status_reset(&result->stream);
  free(result->error);
  free(result);
}

struct health_board *health_board_new(size_t n) {
  struct health_board *b = calloc(1, sizeof(*b));
  if (!b)
    return NULL;
  b->entries = calloc(n ? n : 1, sizeof(*b->entries));
  if (!b->entries) {
    free(b);
    return NULL;
  }
  atomic_init(&b->refs, 1);
  b->n = n;
  return b;
}

void health_board_unref(struct health_board *b) {
  if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
    return;
  for (size_t i = 0; i < b->n; i++) {
    free(b->entries[i].cluster);
    free(b->entries[i].node);
  }
  free(b->entries);
  free(b);
}

const struct board_entry *health_board_find(const struct health_board *b, const char *cluster,
                                            const char *node, size_t hint) {
  for (size_t k = 0; b && k < b->n; k++) {
    size_t i = (hint + k) % b->n;
    if (b->entries[i].node && strcmp(b->entries[i].node, node) == 0 &&
        strcmp(b->entries[i].cluster, cluster) == 0)
      return &b->entries[i];
  }
  return NULL;
}

static struct health_board *board_ref(struct health_board *b) {
  atomic_fetch_add(&b->refs, 1);
  return b;
}

struct snapshot *snapshot_new_single(struct config *config, size_t index,
                                     struct target_result *result) {
  struct snapshot *s = calloc(1, sizeof(*s) + config->n_targets * sizeof(s->results[0]));
  if (!s)
    return NULL;
  atomic_init(&s->refs, 1);
  s->config = config_ref(config);
  s->n_targets = config->n_targets;
  s->only_target = (long)index;
  s->results[index] = result;
  return s;
}

static struct snapshot *snapshot_alloc(struct config *config, unsigned long generation) {
  struct snapshot *s = calloc(1, sizeof(*s) + config->n_targets * sizeof(s->results[0]));
  if (!s)
    return NULL;
  atomic_init(&s->refs, 1);
  s->generation = generation;
  s->config = config_ref(config);
  s->n_targets = config->n_targets;
  s->only_target = -1;
  return s;
}

struct snapshot *snapshot_ref(struct snapshot *snapshot) {
  atomic_fetch_add(&snapshot->refs, 1);
  return snapshot;
}

void snapshot_unref(struct snapshot *snapshot) {
  if (!snapshot || atomic_fetch_sub(&snapshot->refs, 1) != 1)
    return;
  for (size_t i = 0; i < snapshot->n_targets; i++)
    target_result_unref(snapshot->results[i]);
  health_board_unref(snapshot->board);
  config_unref(snapshot->config);
  free(snapshot);
}

struct snapshot_store *snapshot_store_new(struct config *config) {
  struct snapshot_store *store = calloc(1, sizeof(*store));
  if (!store)
    return NULL;
  pthread_mutex_init(&store->lock, NULL);
  store->current = snapshot_alloc(config, 0);
  if (!store->current) {
    pthread_mutex_destroy(&store->lock);
    free(store);
    return NULL;
  }
  return store;
}

void snapshot_store_free(struct snapshot_store *store) {
  if (!store)
    return;
  snapshot_unref(store->current);
  pthread_mutex_destroy(&store->lock);
  free(store);
}

struct snapshot *snapshot_store_acquire(struct snapshot_store *store) {
  pthread_mutex_lock(&store->lock);
  struct snapshot *s = snapshot_ref(store->current);
  pthread_mutex_unlock(&store->lock);
  return s;
}

unsigned long snapshot_store_generation(struct snapshot_store *store) {
  pthread_mutex_lock(&store->lock);
  unsigned long generation = store->generation;
  pthread_mutex_unlock(&store->lock);
  return generation;
}

/* Swaps in next (built from current under the lock) and returns the old snapshot, whose
 * reference the caller drops outside the lock. */
static struct snapshot *swap_locked(struct snapshot_store *store, struct snapshot *next) {
  struct snapshot *old = store->current;
  store->current = next;
  return old;
}

int snapshot_store_publish(struct snapshot_store *store, const struct config *config, size_t index,
                           struct target_result *result) {
  pthread_mutex_lock(&store->lock);
  struct snapshot *cur = store->current;
  if (cur->config != config || index >= cur->n_targets) {
    pthread_mutex_unlock(&store->lock);
    target_result_unref(result);
    return -ESTALE;
  }
  struct snapshot *next = snapshot_alloc(cur->config, store->generation + 1);
  if (!next) {
    pthread_mutex_unlock(&store->lock);
    target_result_unref(result);
    return -ENOMEM;
  }
  for (size_t i = 0; i < cur->n_targets; i++)
    next->results[i] = i == index        ? result
                       : cur->results[i] ? target_result_ref(cur->results[i])
                                         : NULL;
  next->board = cur->board ? board_ref(cur->board) : NULL;
  store->generation++;
  struct snapshot *old = swap_locked(store, next);
  pthread_mutex_unlock(&store->lock);
  snapshot_unref(old);
  return 0;
}

static bool same_text(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A MariaDB result names its replication sources by the nodes of its cluster: it is only
 * carried into a configuration whose cluster has the same nodes at the same addresses. */
static bool same_nodes(const struct mariadb_cluster_config *a,
                       const struct mariadb_cluster_config *b) {
  if (a->n_nodes != b->n_nodes)
    return false;
  for (size_t i = 0; i < a->n_nodes; i++)
    if (strcmp(a->nodes[i].name, b->nodes[i].name) != 0 ||
        !same_text(a->nodes[i].host, b->nodes[i].host) || a->nodes[i].port != b->nodes[i].port ||
        !same_text(a->nodes[i].socket, b->nodes[i].socket))
      return false;
  return true;
}

static bool same_target(const struct target *a, const struct target *b) {
  return a->kind == b->kind && strcmp(a->cluster, b->cluster) == 0 && strcmp(a->name, b->name) == 0;
}

/* The result to carry from old to a target of the new config: the same one, or, for a
 * MariaDB node whose cluster's node list changed, a copy whose replication sources are named
 * after the new list. NULL when out of memory. */
static struct target_result *carry(struct target_result *r, const struct target *old,
                                   const struct target *now) {
  if (now->kind != TARGET_MARIADB || same_nodes(old->mariadb_cluster, now->mariadb_cluster))
    return target_result_ref(r);
  struct target_result *c = target_result_new();
  if (!c)
    return NULL;
  mariadb_status_clear(&c->mariadb);
  c->success = r->success;
  c->reason = r->reason;
  c->error = r->error ? strdup(r->error) : NULL;
  c->finished_unix = r->finished_unix;
  c->duration_s = r->duration_s;
  c->last_success_unix = r->last_success_unix;
  c->state_since_unix = r->state_since_unix;
  memcpy(c->errors_total, r->errors_total, sizeof(c->errors_total));
  bool failed = (r->error && !c->error) || mariadb_status_copy(&r->mariadb, &c->mariadb) != 0;
  for (size_t i = 0; !failed && i < c->mariadb.n_replicas; i++) {
    struct replica_status *rep = &c->mariadb.replicas[i];
    free(rep->source);
    rep->source = config_source_name(now->mariadb_cluster, rep->master_host, rep->master_port);
    failed = !rep->source;
  }
  if (failed) {
    target_result_unref(c);
    return NULL;
  }
  return c;
}

int snapshot_store_install(struct snapshot_store *store, struct config *config) {
  pthread_mutex_lock(&store->lock);
  struct snapshot *cur = store->current;
  struct snapshot *next = snapshot_alloc(config, store->generation + 1);
  if (!next) {
    pthread_mutex_unlock(&store->lock);
    return -ENOMEM;
  }
  for (size_t i = 0; i < config->n_targets; i++) {
    for (size_t j = 0; j < cur->n_targets; j++) {
      if (cur->results[j] && same_target(&config->targets[i], &cur->config->targets[j])) {
        next->results[i] = carry(cur->results[j], &cur->config->targets[j], &config->targets[i]);
        break;
      }
    }
  }
  next->board = cur->board ? board_ref(cur->board) : NULL;
  store->generation++;
  struct snapshot *old = swap_locked(store, next);
  pthread_mutex_unlock(&store->lock);
  snapshot_unref(old);
  return 0;
}

void snapshot_store_set_board(struct snapshot_store *store, struct health_board *board) {
  pthread_mutex_lock(&store->lock);
  struct snapshot *cur = store->current;
  struct snapshot *next = snapshot_alloc(cur->config, store->generation + 1);
  if (!next) {
    pthread_mutex_unlock(&store->lock);
    health_board_unref(board);
    return;
  }
  for (size_t i = 0; i < cur->n_targets; i++)
    next->results[i] = cur->results[i] ? target_result_ref(cur->results[i]) : NULL;
  next->board = board;
  store->generation++;
  struct snapshot *old = swap_locked(store, next);
  pthread_mutex_unlock(&store->lock);
  snapshot_unref(old);
}
