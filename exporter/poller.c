#include "poller.h"
#include "ejabberd.h"
#include "http_client.h"
#include "log.h"
#include "mariadb.h"
#include "openfire.h"
#include "prosody.h"
#include "xmpp_stream.h"

#include <errno.h>
#include <math.h>
#include <mysql.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BACKOFF_CAP_SECONDS 5.0
#define VERSION_REFRESH_POLLS 300 /* ejabberd's version is asked for now and then, not always */

struct poller {
  pthread_t thread;
  bool started;
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
  unsigned long polls;
  /* The connection of the kind being polled (the others stay NULL). */
  struct mariadb_probe *mariadb;
  struct http_client *http;
};

struct pollers {
  size_t n;
  struct poller **items;
};

double poller_backoff_seconds(double poll_interval_s, unsigned failures) {
  double cap = poll_interval_s > BACKOFF_CAP_SECONDS ? poll_interval_s : BACKOFF_CAP_SECONDS;
  double delay = poll_interval_s;
  for (unsigned i = 1; i < failures && delay < cap; i++)
    delay *= 2;
  return delay < cap ? delay : cap;
}

/* Sleeps until the monotonic time deadline or until stopped; returns false when stopped.
 * Takes up a reloaded configuration on the way. */
static bool sleep_until(struct poller *p, double deadline) {
  struct timespec ts;
  ts.tv_sec = (time_t)deadline;
  ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
  pthread_mutex_lock(&p->lock);
  while (p->running) {
    if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT)
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

/* The configured node of the same cluster whose address is host:port, else "host:port". */
static int resolve_source(const struct mariadb_cluster_config *cluster,
                          struct replica_status *replica) {
  free(replica->source);
  replica->source = config_source_name(cluster, replica->master_host, replica->master_port);
  return replica->source ? 0 : -ENOMEM;
}

/* Logs a failure when it starts or changes, and the recovery with how long the failure
 * lasted; repeats only at debug level. */
static void log_transition(const struct poller *p, const struct target_result *prev,
                           const struct target_result *next) {
  const struct target *t = p->target;
  bool was_ok = prev && prev->success;
  if (next->success) {
    if (prev && !was_ok) {
      char down_for[32];
      snprintf(down_for, sizeof(down_for), "%.1fs", next->finished_unix - prev->state_since_unix);
      log_event(LOG_INFO, "target answers again", "kind", target_kind_name(t->kind), "cluster",
                t->cluster, "node", t->name, "failed_for", down_for);
    }
    return;
  }
  bool same = prev && !was_ok && prev->reason == next->reason && prev->error && next->error &&
              strcmp(prev->error, next->error) == 0;
  enum log_level level = same ? LOG_DEBUG
                         : next->reason == REASON_PRIVILEGE || next->reason == REASON_AUTH ||
                                 (next->reason == REASON_TLS && t->kind == TARGET_MARIADB)
                             ? LOG_ERROR
                             : LOG_WARN;
  log_event(level, "probe failed", "kind", target_kind_name(t->kind), "cluster", t->cluster, "node",
            t->name, "reason", probe_reason_name(next->reason), "err",
            next->error ? next->error : "out of memory");
}

static const struct replica_status *find_replica(const struct mariadb_status *status,
                                                 const char *connection) {
  for (size_t i = 0; status && i < status->n_replicas; i++)
    if (strcmp(status->replicas[i].connection, connection) == 0)
      return &status->replicas[i];
  return NULL;
}

static bool same_number(double a, double b) {
  return a == b || (isnan(a) && isnan(b));
}

/* Logs each replication connection whose threads or errors changed since the last good
 * poll, with MariaDB's error texts: they belong in the log, never in a label. */
static void log_replica_changes(const struct poller *p, const struct mariadb_status *before,
                                const struct mariadb_status *now) {
  if (!now->known || !before || !before->known)
    return;
  const struct target *t = p->target;
  for (size_t i = 0; i < now->n_replicas; i++) {
    const struct replica_status *r = &now->replicas[i];
    const struct replica_status *old = find_replica(before, r->connection);
    if (old && old->io_state == r->io_state && old->sql_running == r->sql_running &&
        same_number(old->last_io_errno, r->last_io_errno) &&
        same_number(old->last_sql_errno, r->last_sql_errno))
      continue;
    bool healthy = r->io_state == IO_STATE_YES && r->sql_running;
    char io_errno[24], sql_errno[24];
    snprintf(io_errno, sizeof(io_errno), "%.0f", r->last_io_errno);
    snprintf(sql_errno, sizeof(sql_errno), "%.0f", r->last_sql_errno);
    log_event(healthy ? LOG_INFO : LOG_WARN,
              old ? "replication connection changed" : "replication connection appeared", "cluster",
              t->cluster, "node", t->name, "connection", r->connection, "source", r->source, "io",
              replica_io_state_name(r->io_state), "sql", r->sql_running ? "yes" : "no",
              "last_io_errno", io_errno, "last_io_error", r->last_io_error, "last_sql_errno",
              sql_errno, "last_sql_error", r->last_sql_error);
  }
  for (size_t i = 0; i < before->n_replicas; i++) {
    const struct replica_status *old = &before->replicas[i];
    if (!find_replica(now, old->connection))
      log_event(LOG_WARN, "replication connection disappeared", "cluster", t->cluster, "node",
                t->name, "connection", old->connection, "source", old->source);
  }
}

/* Opens the kind's connection object (no I/O yet). Returns 0 or -ENOMEM. */
static int open_probe(struct poller *p, const struct config *config) {
  const struct target *t = p->target;
  if (t->kind == TARGET_MARIADB) {
    const struct mariadb_node_config *node = t->mariadb_node;
    const struct mariadb_tls_config *tls = &t->mariadb_cluster->tls;
    struct mariadb_target where = {
        .host = node->host,
        .port = node->port,
        .socket = node->socket,
        .user = t->mariadb_cluster->user,
        .password = t->mariadb_cluster->password,
        .connect_timeout_s = config->connect_timeout_s,
        .query_timeout_s = config->query_timeout_s,
        .heartbeat_table = t->mariadb_cluster->heartbeat_table,
        .heartbeat_write = t->mariadb_cluster->heartbeat_write,
    };
    where.tls.enabled = tls->enabled;
    where.tls.ca_file = tls->ca_file;
    where.tls.cert_file = tls->cert_file;
    where.tls.key_file = tls->key_file;
    where.tls.verify_server_cert = tls->verify_server_cert;
    p->mariadb = mariadb_probe_new(&where);
    return p->mariadb ? 0 : -ENOMEM;
  }
  if (t->kind == TARGET_XMPP) {
    const struct xmpp_node_config *n = t->xmpp_node;
    struct http_client_options options = {
        .connect_timeout_s = config->connect_timeout_s,
        .total_timeout_s = config->query_timeout_s,
        .basic_user = n->basic_user,
        .password = n->password,
        .raw_authorization = n->secret,
    };
    p->http = http_client_new(&options);
    return p->http ? 0 : -ENOMEM;
  }
  return 0; /* the stream probe opens a new connection every time, as a client would */
}

static void close_probe(struct poller *p) {
  mariadb_probe_free(p->mariadb);
  http_client_free(p->http);
  p->mariadb = NULL;
  p->http = NULL;
}

/* Whether the failure says nothing could be reached (refused, credentials refused or, for
 * MariaDB, no TLS session as configured): the next tries then back off. */
static bool unreachable(enum target_kind kind, enum probe_reason reason) {
  return reason == REASON_CONNECT || reason == REASON_AUTH ||
         (reason == REASON_TLS && kind == TARGET_MARIADB);
}

/* The (configured name of the) node a replication connection reads from. */
static int resolve_sources(const struct mariadb_cluster_config *cluster,
                           struct mariadb_status *status) {
  for (size_t i = 0; i < status->n_replicas; i++) {
    int rc = resolve_source(cluster, &status->replicas[i]);
    if (rc)
      return rc;
  }
  return 0;
}

static bool same_gtids(const struct gtid_list *a, const struct gtid_list *b) {
  if (a->n != b->n)
    return false;
  for (size_t i = 0; i < a->n; i++)
    if (a->items[i].domain != b->items[i].domain || a->items[i].seq != b->items[i].seq)
      return false;
  return true;
}

/* Carries what the other nodes' analysis needs from poll to poll: the node's identity, clock
 * offset and heartbeat writes, and when each replication connection last made progress. */
static void remember(const struct target_result *last, struct mariadb_status *now) {
  const struct mariadb_status *before = last ? &last->mariadb : NULL;
  now->memory.server_id = now->server_id;
  now->memory.gtid_domain_id = now->gtid_domain_id;
  now->memory.clock_offset_s = now->clock_offset_s;
  now->memory.heartbeat_write[0] = before ? before->memory.heartbeat_write[0] : NAN;
  now->memory.heartbeat_write[1] = before ? before->memory.heartbeat_write[1] : NAN;
  now->memory.first_heartbeat_write = before ? before->memory.first_heartbeat_write : NAN;
  if (!isnan(now->heartbeat_written_unix)) {
    now->memory.heartbeat_write[1] = now->memory.heartbeat_write[0];
    now->memory.heartbeat_write[0] = now->heartbeat_written_unix;
    if (isnan(now->memory.first_heartbeat_write))
      now->memory.first_heartbeat_write = now->heartbeat_written_unix;
  }
  for (size_t i = 0; i < now->n_replicas; i++) {
    struct replica_status *r = &now->replicas[i];
    const struct replica_status *old = before ? find_replica(before, r->connection) : NULL;
    bool still = old && !isnan(old->progress_unix) &&
                 same_number(old->received_heartbeats, r->received_heartbeats) &&
                 same_gtids(&old->gtid_io_pos, &r->gtid_io_pos);
    r->progress_unix = still ? old->progress_unix : now->read_unix;
  }
}

/* Runs one probe of the target and fills r's kind-specific part. */
static int probe_once(struct poller *p, const struct config *config, struct target_result *r,
                      struct probe_error *err) {
  const struct target *t = p->target;
  const struct target_result *last = p->last;
  int rc;
  switch (t->kind) {
  case TARGET_MARIADB:
    rc = mariadb_probe_poll(p->mariadb, &r->mariadb, err);
    if (rc == 0 && resolve_sources(t->mariadb_cluster, &r->mariadb) != 0) {
      probe_error_set(err, REASON_QUERY, "out of memory");
      rc = -ENOMEM;
    }
    if (rc == 0)
      remember(last, &r->mariadb);
    if (rc != 0 && mariadb_status_carry_unknown(last ? &last->mariadb : NULL, &r->mariadb) != 0)
      return -ENOMEM;
    return rc;
  case TARGET_XMPP: {
    const struct xmpp_node_config *n = t->xmpp_node;
    switch (n->type) {
    case XMPP_EJABBERD: {
      bool known = last && last->xmpp.version;
      bool want_version = !known || p->polls % VERSION_REFRESH_POLLS == 0;
      rc = ejabberd_poll(p->http, n->api_url, want_version, &r->xmpp, err);
      if (!r->xmpp.version && known)
        r->xmpp.version = strdup(last->xmpp.version);
      return rc;
    }
    case XMPP_PROSODY:
      return prosody_poll(p->http, n->api_url, &r->xmpp, err);
    case XMPP_OPENFIRE:
      return openfire_poll(p->http, n->api_url, &r->xmpp, err);
    }
    return -EINVAL;
  }
  case TARGET_XMPP_STREAM: {
    const struct xmpp_node_config *n = t->xmpp_node;
    struct xmpp_stream_target where = {
        .host = n->c2s_host,
        .port = n->c2s_port,
        .domain = n->domain,
        .connect_timeout_s = config->connect_timeout_s,
        .timeout_s = config->query_timeout_s,
    };
    return xmpp_stream_probe(&where, &r->stream, err);
  }
  }
  return -EINVAL;
}

/* Polls once and builds the result. Returns NULL when out of memory. */
static struct target_result *poll_once(struct poller *p, const struct config *config,
                                       enum probe_reason *reason) {
  struct target_result *r = target_result_new();
  if (!r)
    return NULL;
  const struct target_result *last = p->last;
  if (last) {
    memcpy(r->errors_total, last->errors_total, sizeof(r->errors_total));
    r->last_success_unix = last->last_success_unix;
  }
  struct probe_error err = {REASON_NONE, NULL};
  double started = clock_monotonic_seconds();
  int rc = probe_once(p, config, r, &err);
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

static void *poll_loop(void *arg) {
  struct poller *p = arg;
  mysql_thread_init();
  if (open_probe(p, p->config) != 0) {
    log_event(LOG_ERROR, "out of memory: target not polled", "node", p->target->name);
    mysql_thread_end();
    return NULL;
  }
  double next = clock_monotonic_seconds();
  while (sleep_until(p, next)) {
    const struct config *config = p->config;
    double started = clock_monotonic_seconds();
    enum probe_reason reason = REASON_NONE;
    struct target_result *result = poll_once(p, config, &reason);
    p->polls++;
    if (!result) {
      log_event(LOG_ERROR, "out of memory: poll result dropped", "node", p->target->name);
    } else {
      log_transition(p, p->last, result);
      if (p->target->kind == TARGET_MARIADB)
        log_replica_changes(p, p->last ? &p->last->mariadb : NULL, &result->mariadb);
      target_result_unref(p->last);
      p->last = target_result_ref(result);
      snapshot_store_publish(p->store, config, p->index, result);
    }
    /* Polls keep a fixed rhythm; a poll that overran skips the slots it missed. */
    double now = clock_monotonic_seconds();
    next += config->poll_interval_s;
    if (next < now)
      next = now + config->poll_interval_s - fmod(now - next, config->poll_interval_s);
    if (unreachable(p->target->kind, reason)) {
      p->connect_failures++;
      double retry = started + poller_backoff_seconds(config->poll_interval_s, p->connect_failures);
      if (retry > next)
        next = retry;
    } else {
      p->connect_failures = 0;
    }
  }
  close_probe(p);
  mysql_thread_end();
  return NULL;
}

static struct poller *poller_new(struct config *config, size_t index, struct snapshot_store *store,
                                 const struct snapshot *carried) {
  struct poller *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
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

static struct pollers *set_new(size_t n) {
  struct pollers *set = calloc(1, sizeof(*set));
  if (set)
    set->items = calloc(n ? n : 1, sizeof(*set->items));
  if (set && !set->items) {
    free(set);
    set = NULL;
  }
  return set;
}

int pollers_start(struct config *config, struct snapshot_store *store, struct pollers **out) {
  *out = NULL;
  struct pollers *set = set_new(config->n_targets);
  if (!set)
    return -ENOMEM;
  struct snapshot *carried = snapshot_store_acquire(store);
  int rc = 0;
  for (size_t i = 0; i < config->n_targets && rc == 0; i++) {
    struct poller *p = poller_new(config, i, store, carried);
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

static bool same_text(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_tls(const struct mariadb_tls_config *a, const struct mariadb_tls_config *b) {
  return a->enabled == b->enabled && same_text(a->ca_file, b->ca_file) &&
         same_text(a->cert_file, b->cert_file) && same_text(a->key_file, b->key_file) &&
         a->verify_server_cert == b->verify_server_cert;
}

/* Whether a poller of old_t can go on for new_t: same target, same way to reach it. */
static bool same_probe(const struct config *oc, const struct target *o, const struct config *nc,
                       const struct target *n) {
  if (o->kind != n->kind || strcmp(o->cluster, n->cluster) != 0 || strcmp(o->name, n->name) != 0 ||
      oc->connect_timeout_s != nc->connect_timeout_s || oc->query_timeout_s != nc->query_timeout_s)
    return false;
  switch (n->kind) {
  case TARGET_MARIADB: {
    const struct mariadb_node_config *a = o->mariadb_node, *b = n->mariadb_node;
    const struct mariadb_cluster_config *ca = o->mariadb_cluster, *cb = n->mariadb_cluster;
    return same_text(a->host, b->host) && a->port == b->port && same_text(a->socket, b->socket) &&
           same_text(ca->user, cb->user) && same_text(ca->password, cb->password) &&
           same_text(ca->heartbeat_table, cb->heartbeat_table) &&
           ca->heartbeat_write == cb->heartbeat_write && same_tls(&ca->tls, &cb->tls);
  }
  case TARGET_XMPP: {
    const struct xmpp_node_config *a = o->xmpp_node, *b = n->xmpp_node;
    return a->type == b->type && same_text(a->api_url, b->api_url) &&
           same_text(a->basic_user, b->basic_user) && same_text(a->password, b->password) &&
           same_text(a->secret, b->secret);
  }
  case TARGET_XMPP_STREAM:
    return true; /* the stream probe reads its address from the configuration at each poll */
  }
  return false;
}

int pollers_reload(struct pollers **set_io, struct config *config, struct snapshot_store *store) {
  struct pollers *old = *set_io;
  if (!old)
    return -EINVAL; /* nothing started yet: there is nothing to reload */
  struct pollers *next = set_new(config->n_targets);
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
    p = poller_new(config, i, store, carried);
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
  mysql_thread_init();
  struct target_result *r = NULL;
  enum probe_reason reason;
  if (open_probe(&p, &bounded) == 0)
    r = poll_once(&p, &bounded, &reason);
  close_probe(&p);
  mysql_thread_end();
  return r;
}
