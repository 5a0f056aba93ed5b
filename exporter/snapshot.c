#include "snapshot.h"
#include "analysis.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Writers (pollers publishing, a reload installing) take publish_lock for the whole update,
 * analysis included, so that each builds on the snapshot the one before it made; readers
 * take only lock, held for a swap or a reference. */
struct snapshot_store {
  pthread_mutex_t publish_lock;
  pthread_mutex_t lock; /* guards current and generation */
  struct snapshot *current;
  unsigned long generation;
  double (*now_unix)(void *ctx);
  void *clock_ctx;
};

static double real_time(void *ctx) {
  (void)ctx;
  return clock_unix_seconds();
}

struct target_result *target_result_new(const struct probe_ops *ops) {
  struct target_result *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  atomic_init(&r->refs, 1);
  r->ops = ops;
  r->reason = REASON_NONE;
  r->data = ops->data_new();
  if (!r->data) {
    free(r);
    return NULL;
  }
  return r;
}

struct target_result *target_result_ref(struct target_result *result) {
  atomic_fetch_add(&result->refs, 1);
  return result;
}

void target_result_unref(struct target_result *result) {
  if (!result || atomic_fetch_sub(&result->refs, 1) != 1)
    return;
  result->ops->data_free(result->data);
  free(result->error);
  free(result);
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
  analysis_unref(snapshot->analysis);
  config_unref(snapshot->config);
  free(snapshot);
}

struct snapshot_store *snapshot_store_new(struct config *config) {
  struct snapshot_store *store = calloc(1, sizeof(*store));
  if (!store)
    return NULL;
  pthread_mutex_init(&store->publish_lock, NULL);
  pthread_mutex_init(&store->lock, NULL);
  store->now_unix = real_time;
  store->current = snapshot_alloc(config, 0);
  if (store->current)
    store->current->analysis = analysis_build(NULL, NULL, store->current, -1, real_time(NULL));
  if (!store->current || !store->current->analysis) {
    snapshot_unref(store->current);
    pthread_mutex_destroy(&store->lock);
    pthread_mutex_destroy(&store->publish_lock);
    free(store);
    return NULL;
  }
  return store;
}

void snapshot_store_set_clock(struct snapshot_store *store, double (*now_unix)(void *ctx),
                              void *ctx) {
  store->now_unix = now_unix;
  store->clock_ctx = ctx;
  /* The first analysis dates the never-polled states: again, on this clock. */
  struct analysis *a = analysis_build(NULL, NULL, store->current, -1, now_unix(ctx));
  if (a) {
    analysis_unref(store->current->analysis);
    store->current->analysis = a;
  }
}

void snapshot_store_free(struct snapshot_store *store) {
  if (!store)
    return;
  snapshot_unref(store->current);
  pthread_mutex_destroy(&store->lock);
  pthread_mutex_destroy(&store->publish_lock);
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

/* Analyses next (whose results the caller filled from the current snapshot), swaps it in
 * and drops the old snapshot. Called with publish_lock held; takes over next. */
static int swap_in(struct snapshot_store *store, struct snapshot *next, long changed_target) {
  struct snapshot *cur = store->current; /* stable: only writers change it */
  next->analysis = analysis_build(cur->analysis, cur->config, next, changed_target,
                                  store->now_unix(store->clock_ctx));
  if (!next->analysis) {
    snapshot_unref(next);
    return -ENOMEM;
  }
  pthread_mutex_lock(&store->lock);
  store->current = next;
  store->generation = next->generation;
  pthread_mutex_unlock(&store->lock);
  snapshot_unref(cur);
  return 0;
}

int snapshot_store_publish(struct snapshot_store *store, const struct config *config, size_t index,
                           struct target_result *result) {
  pthread_mutex_lock(&store->publish_lock);
  struct snapshot *cur = store->current;
  if (cur->config != config || index >= cur->n_targets) {
    pthread_mutex_unlock(&store->publish_lock);
    target_result_unref(result);
    return -ESTALE;
  }
  struct snapshot *next = snapshot_alloc(cur->config, store->generation + 1);
  if (!next) {
    pthread_mutex_unlock(&store->publish_lock);
    target_result_unref(result);
    return -ENOMEM;
  }
  for (size_t i = 0; i < cur->n_targets; i++)
    next->results[i] = i == index        ? result
                       : cur->results[i] ? target_result_ref(cur->results[i])
                                         : NULL;
  int rc = swap_in(store, next, (long)index);
  pthread_mutex_unlock(&store->publish_lock);
  return rc;
}

double snapshot_store_refresh_at(struct snapshot_store *store) {
  struct snapshot *s = snapshot_store_acquire(store);
  double at = s->analysis ? s->analysis->refresh_at_unix : INFINITY;
  snapshot_unref(s);
  return at;
}

int snapshot_store_refresh(struct snapshot_store *store) {
  /* Most wakes find nothing due: no need to wait for a publish in progress to say so. */
  if (snapshot_store_refresh_at(store) > store->now_unix(store->clock_ctx))
    return 0;
  pthread_mutex_lock(&store->publish_lock);
  struct snapshot *cur = store->current;
  int rc = 0;
  if (cur->analysis && cur->analysis->refresh_at_unix <= store->now_unix(store->clock_ctx)) {
    struct snapshot *next = snapshot_alloc(cur->config, store->generation + 1);
    if (!next) {
      rc = -ENOMEM;
    } else {
      for (size_t i = 0; i < cur->n_targets; i++)
        next->results[i] = cur->results[i] ? target_result_ref(cur->results[i]) : NULL;
      rc = swap_in(store, next, ANALYSIS_NO_NEW_RESULT);
    }
  }
  pthread_mutex_unlock(&store->publish_lock);
  return rc;
}

static bool same_target(const struct target *a, const struct target *b) {
  return a->kind == b->kind && strcmp(a->cluster, b->cluster) == 0 && strcmp(a->name, b->name) == 0;
}

/* The result to carry from the old configuration to target now of the new one: the same, or
 * a copy whose data the kind re-derived for the new settings (a MariaDB node whose cluster's
 * nodes changed names its replication sources after the new list). NULL when out of memory. */
static struct target_result *carry(struct target_result *r, const struct target *now) {
  void *data = NULL;
  if (!r->ops->rebase)
    return target_result_ref(r);
  if (r->ops->rebase(r->data, now->settings, &data) != 0)
    return NULL;
  if (!data)
    return target_result_ref(r);
  struct target_result *c = calloc(1, sizeof(*c));
  if (!c) {
    r->ops->data_free(data);
    return NULL;
  }
  *c = (struct target_result){.ops = r->ops,
                              .success = r->success,
                              .reason = r->reason,
                              .error = r->error ? strdup(r->error) : NULL,
                              .finished_unix = r->finished_unix,
                              .duration_s = r->duration_s,
                              .last_success_unix = r->last_success_unix,
                              .state_since_unix = r->state_since_unix,
                              .data = data};
  atomic_init(&c->refs, 1);
  memcpy(c->errors_total, r->errors_total, sizeof(c->errors_total));
  if (r->error && !c->error) {
    target_result_unref(c);
    return NULL;
  }
  return c;
}

int snapshot_store_install(struct snapshot_store *store, struct config *config) {
  pthread_mutex_lock(&store->publish_lock);
  struct snapshot *cur = store->current;
  struct snapshot *next = snapshot_alloc(config, store->generation + 1);
  if (!next) {
    pthread_mutex_unlock(&store->publish_lock);
    return -ENOMEM;
  }
  for (size_t i = 0; i < config->n_targets; i++) {
    for (size_t j = 0; j < cur->n_targets; j++) {
      if (cur->results[j] && same_target(&config->targets[i], &cur->config->targets[j])) {
        next->results[i] = carry(cur->results[j], &config->targets[i]);
        break;
      }
    }
  }
  int rc = swap_in(store, next, -1);
  pthread_mutex_unlock(&store->publish_lock);
  return rc;
}
