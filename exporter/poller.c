#include "poller.h"
#include "log.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_CAP_SECONDS 5.0

struct poller {
  pthread_t thread;
  bool started;
  struct poller_clock clock;
  pthread_mutex_t lock; /* guards running and pending; the condvar wakes the sleeping thread */
  pthread_cond_t wake;
  bool running;
  struct config *pending; /* a reloaded configuration to switch to before the next poll */
  size_t pending_index;
  /* Owned by the thread once it runs. */
  struct config *config; /* a reference */
  size_t index;
  const struct target *target; /* &config->targets[index] */
  struct snapshot_store *store;
  struct target_result *last; /* the last published result, a reference of our own */
  unsigned connect_failures;
  void *conn; /* the kind's connection state (NULL for a kind that keeps none) */
};

struct pollers {
  size_t n;
  struct poller **items;
  struct poller_clock clock;
};

double poller_backoff_seconds(double poll_interval_s, unsigned failures) {
  double cap = poll_interval_s > BACKOFF_CAP_SECONDS ? poll_interval_s : BACKOFF_CAP_SECONDS;
  double delay = poll_interval_s;
  for (unsigned i = 1; i < failures && delay < cap; i++)
    delay *= 2;
  return delay < cap ? delay : cap;
}

static double real_now(void *ctx) {
  (void)ctx;
  return clock_monotonic_seconds();
}

static int real_wait(void *ctx, pthread_cond_t *wake, pthread_mutex_t *lock, double deadline) {
  (void)ctx;
  struct timespec ts = timespec_from_seconds(deadline);
  return pthread_cond_timedwait(wake, lock, &ts);
}

static const struct poller_clock real_clock = {real_now, real_wait, NULL};

static double now(const struct poller *p) {
  return p->clock.now(p->clock.ctx);
}

/* Sleeps until the monotonic time deadline or until stopped; returns false when stopped.
 * Takes up a reloaded configuration on the way. */
static bool sleep_until(struct poller *p, double deadline) {
  pthread_mutex_lock(&p->lock);
  while (p->running) {
    if (p->clock.wait(p->clock.ctx, &p->wake, &p->lock, deadline) == ETIMEDOUT)
      break;
  }
  bool running = p->running;
  struct config *old = NULL;
  if (p->pending) {
    old = p->config;
    p->config = p->pending;
    p->index = p->pending_index;
    p->target = &p->config->targets[p->index];
    p->pending = NULL;
  }
  pthread_mutex_unlock(&p->lock);
  config_unref(old);
  return running;
}

/* Logs a failure when it starts or changes, and the recovery once, with how long the failure
 * lasted and its last reason; repeats only at debug level. */
static void log_transition(const struct target *t, const struct target_result *prev,
                           const struct target_result *next) {
  bool was_ok = prev && prev->success;
  if (next->success) {
    if (prev && !was_ok) {
      char down_for[32];
      snprintf(down_for, sizeof(down_for), "%.1fs", next->finished_unix - prev->state_since_unix);
      log_event(LOG_INFO, "target answers again", "kind", t->ops->name, "cluster", t->cluster,
                "node", t->name, "failed_for", down_for, "reason", probe_reason_name(prev->reason));
    }
    return;
  }
  bool same = prev && !was_ok && prev->reason == next->reason && prev->error && next->error &&
              strcmp(prev->error, next->error) == 0;
  enum log_level level = same                                 ? LOG_DEBUG
                         : t->ops->needs_person(next->reason) ? LOG_ERROR
                                                              : LOG_WARN;
  log_event(level, "probe failed", "kind", t->ops->name, "cluster", t->cluster, "node", t->name,
            "reason", probe_reason_name(next->reason), "err",
            next->error ? next->error : "out of memory");
}

static struct probe_timeouts timeouts_of(const struct config *config) {
  return (struct probe_timeouts){config->connect_timeout_s, config->query_timeout_s};
}

/* Opens the kind's connection state (no I/O yet). Returns 0 or -ENOMEM. */
static int open_probe(struct poller *p, const struct config *config) {
  const struct probe_ops *ops = p->target->ops;
  if (!ops->open)
    return 0;
  struct probe_timeouts timeouts = timeouts_of(config);
  p->conn = ops->open(p->target->settings, &timeouts);
  return p->conn ? 0 : -ENOMEM;
}

static void close_probe(struct poller *p) {
  if (p->target->ops->close)
    p->target->ops->close(p->conn);
  p->conn = NULL;
}

/* Polls once and builds the result. Returns NULL when out of memory. */
static struct target_result *poll_once(struct poller *p, const struct config *config,
                                       enum probe_reason *reason) {
  const struct target *t = p->target;
  struct target_result *r = target_result_new(t->ops);
  if (!r)
    return NULL;
  const struct target_result *last = p->last;
  if (last) {
    memcpy(r->errors_total, last->errors_total, sizeof(r->errors_total));
    r->last_success_unix = last->last_success_unix;
  }
  struct probe_error err = {REASON_NONE, NULL};
  struct probe_timeouts timeouts = timeouts_of(config);
  double started = clock_monotonic_seconds();
  int rc = t->ops->poll(p->conn, t->settings, &timeouts, last ? last->data : NULL, r->data, &err);
  /* Rounded (to the millisecond and microsecond) so that /metrics shows short numbers. */
  r->finished_unix = round(clock_unix_seconds() * 1e3) / 1e3;
  r->duration_s = round((clock_monotonic_seconds() - started) * 1e6) / 1e6;
  if (rc == -ENOMEM && err.reason == REASON_NONE) {
    target_result_unref(r);
    return NULL;
  }
  r->state_since_unix =
      last && last->success == (rc == 0) ? last->state_since_unix : r->finished_unix;
  *reason = REASON_NONE;
  if (rc == 0) {
    r->success = true;
    r->last_success_unix = r->finished_unix;
  } else {
    r->reason = err.reason >= 0 ? err.reason : REASON_PARSE;
    r->errors_total[r->reason] += 1;
    r->error = err.message;
    err.message = NULL;
    *reason = r->reason;
  }
  probe_error_clear(&err);
  return r;
}

/* When the poll that started at started (and ended at ended) is followed by the next one:
 * polls keep a fixed rhythm from next, a poll that overran skips the slots it missed, and
 * an unreachable target backs off. */
static double next_poll(struct poller *p, double next, double started, double ended,
                        double interval, enum probe_reason reason) {
  next += interval;
  if (next < ended)
    next = ended + interval - fmod(ended - next, interval);
  if (reason != REASON_NONE && p->target->ops->backs_off(reason)) {
    p->connect_failures++;
    double retry = started + poller_backoff_seconds(interval, p->connect_failures);
    if (retry > next)
      next = retry;
  } else {
    p->connect_failures = 0;
  }
  return next;
}

static void *poll_loop(void *arg) {
  struct poller *p = arg;
  const struct probe_ops *ops = p->target->ops; /* a reload keeps the kind */
  if (ops->thread_init)
    ops->thread_init();
  if (open_probe(p, p->config) != 0) {
    log_event(LOG_ERROR, "out of memory: target not polled", "node", p->target->name);
    if (ops->thread_end)
      ops->thread_end();
    return NULL;
  }
  /* The first poll waits for the target's phase; the fixed rhythm keeps it. */
  double next = now(p) + p->target->phase * p->config->poll_interval_s;
  while (sleep_until(p, next)) {
    const struct config *config = p->config;
    const struct target *t = p->target;
    double started = now(p);
    enum probe_reason reason = REASON_NONE;
    struct target_result *result = poll_once(p, config, &reason);
    if (!result) {
      log_event(LOG_ERROR, "out of memory: poll result dropped", "node", t->name);
    } else {
      log_transition(t, p->last, result);
      if (ops->log_changes) {
        struct probe_names who = {t->cluster, t->name};
        ops->log_changes(&who, p->last ? p->last->data : NULL, result->data);
      }
      target_result_unref(p->last);
      p->last = target_result_ref(result);
      snapshot_store_publish(p->store, config, p->index, result);
    }
    next = next_poll(p, next, started, now(p), config->poll_interval_s, reason);
  }
  close_probe(p);
  if (ops->thread_end)
    ops->thread_end();
  return NULL;
}

static struct poller *poller_new(struct config *config, size_t index, struct snapshot_store *store,
                                 const struct snapshot *carried, const struct poller_clock *clock) {
  struct poller *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  p->clock = *clock;
  pthread_mutex_init(&p->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&p->wake, &attr);
  pthread_condattr_destroy(&attr);
  p->running = true;
  p->config = config_ref(config);
  p->index = index;
  p->target = &config->targets[index];
  p->store = store;
  if (carried->config == config && carried->results[index])
    p->last = target_result_ref(carried->results[index]);
  return p;
}

static int poller_start(struct poller *p) {
  /* Small stacks: a poller needs little, and hundreds of them must stay cheap. */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int rc = pthread_create(&p->thread, &attr, poll_loop, p);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    log_event(LOG_ERROR, "cannot start a poller thread", "node", p->target->name, "err",
              strerror(rc));
    return -rc;
  }
  p->started = true;
  return 0;
}

static void poller_signal_stop(struct poller *p) {
  pthread_mutex_lock(&p->lock);
  p->running = false;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
}

static void poller_join_free(struct poller *p) {
  if (p->started)
    pthread_join(p->thread, NULL);
  target_result_unref(p->last);
  config_unref(p->pending);
  config_unref(p->config);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->lock);
  free(p);
}

static struct pollers *set_new(size_t n, const struct poller_clock *clock) {
  struct pollers *set = calloc(1, sizeof(*set));
  if (set)
    set->items = calloc(n ? n : 1, sizeof(*set->items));
  if (set && !set->items) {
    free(set);
    set = NULL;
  }
  if (set)
    set->clock = *clock;
  return set;
}

int pollers_start_clocked(struct config *config, struct snapshot_store *store,
                          const struct poller_clock *clock, struct pollers **out) {
  *out = NULL;
  struct pollers *set = set_new(config->n_targets, clock ? clock : &real_clock);
  if (!set)
    return -ENOMEM;
  struct snapshot *carried = snapshot_store_acquire(store);
  int rc = 0;
  for (size_t i = 0; i < config->n_targets && rc == 0; i++) {
    struct poller *p = poller_new(config, i, store, carried, &set->clock);
    if (!p) {
      rc = -ENOMEM;
      break;
    }
    set->items[set->n++] = p;
    rc = poller_start(p);
  }
  snapshot_unref(carried);
  if (rc) {
    pollers_stop(set);
    return rc;
  }
  *out = set;
  return 0;
}

int pollers_start(struct config *config, struct snapshot_store *store, struct pollers **out) {
  return pollers_start_clocked(config, store, NULL, out);
}

/* Whether a poller of target o can go on for target n: same target, same kind, same
 * timeouts, and settings its kind can go on with. */
static bool same_probe(const struct config *oc, const struct target *o, const struct config *nc,
                       const struct target *n) {
  return o->ops == n->ops && strcmp(o->cluster, n->cluster) == 0 && strcmp(o->name, n->name) == 0 &&
         oc->connect_timeout_s == nc->connect_timeout_s &&
         oc->query_timeout_s == nc->query_timeout_s &&
         n->ops->same_settings(o->settings, n->settings);
}

int pollers_reload(struct pollers **set_io, struct config *config, struct snapshot_store *store) {
  struct pollers *old = *set_io;
  if (!old)
    return -EINVAL; /* nothing started yet: there is nothing to reload */
  struct pollers *next = set_new(config->n_targets, &old->clock);
  if (!next)
    return -ENOMEM;
  bool *kept = calloc(old->n ? old->n : 1, sizeof(*kept));
  if (!kept) {
    free(next->items);
    free(next);
    return -ENOMEM;
  }
  struct snapshot *carried = snapshot_store_acquire(store);
  size_t adopted = 0, started = 0;
  int rc = 0;
  for (size_t i = 0; i < config->n_targets; i++) {
    struct poller *p = NULL;
    for (size_t j = 0; j < old->n && !p; j++) {
      struct poller *q = old->items[j];
      if (kept[j])
        continue;
      /* Under its lock: the thread may be taking up an earlier reload right now. */
      pthread_mutex_lock(&q->lock);
      const struct config *qc = q->pending ? q->pending : q->config;
      size_t qi = q->pending ? q->pending_index : q->index;
      bool same = same_probe(qc, &qc->targets[qi], config, &config->targets[i]);
      pthread_mutex_unlock(&q->lock);
      if (same) {
        kept[j] = true;
        p = q;
      }
    }
    if (p) {
      /* Running on: it takes the new configuration before its next poll. */
      pthread_mutex_lock(&p->lock);
      config_unref(p->pending);
      p->pending = config_ref(config);
      p->pending_index = i;
      pthread_mutex_unlock(&p->lock);
      next->items[next->n++] = p;
      adopted++;
      continue;
    }
    p = poller_new(config, i, store, carried, &next->clock);
    if (!p || poller_start(p) != 0) {
      if (p)
        poller_join_free(p);
      rc = -ENOMEM;
      continue;
    }
    next->items[next->n++] = p;
    started++;
  }
  snapshot_unref(carried);
  /* The others go: stop them all first, then wait, so that frozen nodes wait in parallel. */
  size_t stopped = 0;
  for (size_t j = 0; j < old->n; j++)
    if (!kept[j])
      poller_signal_stop(old->items[j]);
  for (size_t j = 0; j < old->n; j++) {
    if (!kept[j]) {
      poller_join_free(old->items[j]);
      stopped++;
    }
  }
  free(kept);
  free(old->items);
  free(old);
  *set_io = next;
  char counts[96];
  snprintf(counts, sizeof(counts), "%zu kept, %zu started, %zu stopped", adopted, started, stopped);
  log_event(LOG_INFO, "pollers reloaded", "targets", counts);
  return rc;
}

void pollers_stop(struct pollers *set) {
  if (!set)
    return;
  for (size_t i = 0; i < set->n; i++)
    poller_signal_stop(set->items[i]);
  for (size_t i = 0; i < set->n; i++)
    poller_join_free(set->items[i]);
  free(set->items);
  free(set);
}

struct target_result *poller_probe_once(const struct config *config, size_t index,
                                        double timeout_s) {
  /* The configuration with timeouts cut to fit: everything else is the daemon's own. */
  struct config bounded = *config;
  if (bounded.connect_timeout_s > timeout_s / 3)
    bounded.connect_timeout_s = timeout_s / 3;
  if (bounded.query_timeout_s > timeout_s / 3)
    bounded.query_timeout_s = timeout_s / 3;
  struct poller p = {.config = &bounded, .index = index, .target = &config->targets[index]};
  const struct probe_ops *ops = p.target->ops;
  if (ops->thread_init)
    ops->thread_init();
  struct target_result *r = NULL;
  enum probe_reason reason;
  if (open_probe(&p, &bounded) == 0)
    r = poll_once(&p, &bounded, &reason);
  close_probe(&p);
  if (ops->thread_end)
    ops->thread_end();
  return r;
}
