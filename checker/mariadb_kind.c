/* The MariaDB probe as a probe kind: the connection of mariadb.c, plus what a poll result
 * carries from poll to poll (the node's identity, clock offset, heartbeat writes, progress of
 * each replication connection), replication sources named after the cluster's nodes, and
 * the log lines of replication connections that change. */
#include "log.h"
#include "mariadb.h"

#include "buf.h"

#include <errno.h>
#include <math.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *mariadb_source_name(const struct mariadb_peer *peers, size_t n_peers, const char *host,
                          unsigned port) {
  for (size_t i = 0; i < n_peers; i++)
    if (peers[i].host && peers[i].port == port && strcasecmp(peers[i].host, host) == 0)
      return strdup(peers[i].name);
  struct buf text = BUF_INIT;
  buf_printf(&text, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
  return buf_steal(&text, NULL);
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
static void remember(const struct mariadb_status *before, struct mariadb_status *now) {
  if (before)
    now->memory = before->memory;
  else
    mariadb_memory_clear(&now->memory);
  now->memory.server_id = now->server_id;
  now->memory.gtid_domain_id = now->gtid_domain_id;
  now->memory.clock_offset_s = now->clock_offset_s;
  now->memory.read_unix = now->read_unix;
  now->memory.binlog_retention = now->binlog_retention;
  if (!isnan(now->heartbeat_written_unix))
    mariadb_memory_note_write(&now->memory, now->heartbeat_written_unix);
  for (size_t i = 0; i < now->n_replicas; i++) {
    struct replica_status *r = &now->replicas[i];
    const struct replica_status *old = find_replica(before, r->connection);
    bool still = old && !isnan(old->progress_unix) &&
                 same_number(old->received_heartbeats, r->received_heartbeats) &&
                 same_gtids(&old->gtid_io_pos, &r->gtid_io_pos);
    r->progress_unix = still ? old->progress_unix : now->read_unix;
    /* A change from what a good poll read (a carried unknown status holds the last good
     * poll's arrivals). */
    r->progress_seen = still ? old->progress_seen : old != NULL;
  }
}

/* Names each replication connection's source after the cluster's nodes. 0 or -ENOMEM. */
static int resolve_sources(const struct mariadb_settings *settings, struct mariadb_status *status) {
  for (size_t i = 0; i < status->n_replicas; i++) {
    struct replica_status *r = &status->replicas[i];
    free(r->source);
    r->source =
        mariadb_source_name(settings->peers, settings->n_peers, r->master_host, r->master_port);
    if (!r->source)
      return -ENOMEM;
  }
  return 0;
}

/* ---- the operations ---- */

static int library_init(void) {
  return mysql_library_init(0, NULL, NULL) == 0 ? 0 : -EIO;
}

static void library_end(void) {
  mysql_library_end();
}

static void thread_init(void) {
  mysql_thread_init();
}

static void thread_end(void) {
  mysql_thread_end();
}

static bool same_text(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_tls(const struct mariadb_tls *a, const struct mariadb_tls *b) {
  return a->enabled == b->enabled && same_text(a->ca_file, b->ca_file) &&
         same_text(a->cert_file, b->cert_file) && same_text(a->key_file, b->key_file) &&
         a->verify_server_cert == b->verify_server_cert;
}

/* The connection's own settings; the peers are read at every poll. */
static bool same_settings(const void *a_settings, const void *b_settings) {
  const struct mariadb_target *a = &((const struct mariadb_settings *)a_settings)->target;
  const struct mariadb_target *b = &((const struct mariadb_settings *)b_settings)->target;
  return same_text(a->host, b->host) && a->port == b->port && same_text(a->socket, b->socket) &&
         same_text(a->user, b->user) && same_text(a->password, b->password) &&
         same_text(a->heartbeat_table, b->heartbeat_table) &&
         a->heartbeat_write == b->heartbeat_write && same_tls(&a->tls, &b->tls);
}

static void *open_probe(const void *settings, const struct probe_timeouts *timeouts) {
  struct mariadb_target target = ((const struct mariadb_settings *)settings)->target;
  target.connect_timeout_s = timeouts->connect_s;
  target.query_timeout_s = timeouts->query_s;
  return mariadb_probe_new(&target);
}

static void close_probe(void *conn) {
  mariadb_probe_free(conn);
}

static void *data_new(void) {
  struct mariadb_status *s = calloc(1, sizeof(*s));
  if (s)
    mariadb_status_clear(s);
  return s;
}

static void data_free(void *data) {
  if (data)
    mariadb_status_clear(data);
  free(data);
}

/* The timeouts were given to the connection when it was opened. */
static int poll_probe(void *conn, const void *settings, const struct probe_timeouts *timeouts,
                      const void *last, void *data, struct probe_error *err) {
  (void)timeouts;
  struct mariadb_status *out = data;
  int rc = mariadb_probe_poll(conn, out, err);
  if (rc == 0 && resolve_sources(settings, out) != 0) {
    probe_error_set(err, REASON_QUERY, "out of memory");
    rc = -ENOMEM;
  }
  if (rc == 0)
    remember(last, out);
  else if (mariadb_status_carry_unknown(last, out) != 0)
    return -ENOMEM;
  return rc;
}

/* Logs each replication connection whose threads or errors changed since the last good
 * poll, with MariaDB's error texts: they belong in the log, never in a label. */
static void log_changes(const struct probe_names *who, const void *last, const void *data) {
  const struct mariadb_status *before = last, *now = data;
  if (!now->known || !before || !before->known)
    return;
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
              who->cluster, "node", who->node, "connection", r->connection, "source", r->source,
              "io", replica_io_state_name(r->io_state), "sql", r->sql_running ? "yes" : "no",
              "last_io_errno", io_errno, "last_io_error", r->last_io_error, "last_sql_errno",
              sql_errno, "last_sql_error", r->last_sql_error);
  }
  for (size_t i = 0; i < before->n_replicas; i++) {
    const struct replica_status *old = &before->replicas[i];
    if (!find_replica(now, old->connection))
      log_event(LOG_WARN, "replication connection disappeared", "cluster", who->cluster, "node",
                who->node, "connection", old->connection, "source", old->source);
  }
}

/* A result names its replication sources after the cluster's nodes: after a reload that
 * changed them, a copy with the names of the new list. */
static int rebase(const void *data, const void *settings, void **copy) {
  const struct mariadb_status *from = data;
  const struct mariadb_settings *s = settings;
  *copy = NULL;
  bool same = true;
  for (size_t i = 0; same && i < from->n_replicas; i++) {
    const struct replica_status *r = &from->replicas[i];
    char *name = mariadb_source_name(s->peers, s->n_peers, r->master_host, r->master_port);
    if (!name)
      return -ENOMEM;
    same = r->source && strcmp(name, r->source) == 0;
    free(name);
  }
  if (same)
    return 0;
  struct mariadb_status *c = data_new();
  if (!c || mariadb_status_copy(from, c) != 0 || resolve_sources(s, c) != 0) {
    data_free(c);
    return -ENOMEM;
  }
  *copy = c;
  return 0;
}

/* No connection (refused, or no TLS session as configured). Refused credentials do not back
 * off: the server answered at once, and a password an admin fixes is to be seen at the
 * next poll. */
static bool backs_off(enum probe_reason reason) {
  return reason == REASON_CONNECT || reason == REASON_TLS;
}

static bool needs_person(enum probe_reason reason) {
  return reason == REASON_PRIVILEGE || reason == REASON_AUTH || reason == REASON_TLS;
}

static const enum probe_reason reasons[] = {REASON_CONNECT,   REASON_AUTH,  REASON_TIMEOUT,
                                            REASON_PRIVILEGE, REASON_QUERY, REASON_TLS};

const struct probe_ops mariadb_probe_ops = {
    .name = "mariadb",
    .reasons = reasons,
    .n_reasons = sizeof(reasons) / sizeof(reasons[0]),
    .library_init = library_init,
    .library_end = library_end,
    .thread_init = thread_init,
    .thread_end = thread_end,
    .same_settings = same_settings,
    .open = open_probe,
    .close = close_probe,
    .data_new = data_new,
    .data_free = data_free,
    .poll = poll_probe,
    .log_changes = log_changes,
    .rebase = rebase,
    .backs_off = backs_off,
    .needs_person = needs_person,
};
