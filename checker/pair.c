#include "pair.h"
#include "buf.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool known(const struct pair_node *node) {
  return node->status && node->status->known;
}

/* The newest heartbeat row of server_id in status, on the writer's clock; NaN if none. */
static double newest_heartbeat(const struct mariadb_status *status, double server_id) {
  double newest = NAN;
  for (size_t i = 0; i < status->n_heartbeats; i++)
    if (status->heartbeats[i].server_id == server_id &&
        (isnan(newest) || status->heartbeats[i].ts > newest))
      newest = status->heartbeats[i].ts;
  return newest;
}

/* The clocks agree to a fraction of a millisecond at best: no point in showing more. */
static double milliseconds(double seconds) {
  return round(seconds * 1000) / 1000;
}

/* The write the replica applied and the one that followed it, from the source's memory, on
 * replmon's clock. A row and replmon's record of its write differ by less than half the write
 * interval (by the INSERT's duration and the offset's error), while two writes lie about one
 * interval apart: *applied is the remembered write within half an interval of received (else
 * received itself), *next the oldest one later than that, NaN when there is none. When every
 * remembered write is later and the memory is full, the one that followed may have been
 * forgotten: it is then taken one interval after the applied one (the source is written once
 * per poll). */
static void bracket(const struct mariadb_memory *m, double received, double interval_s,
                    double *applied, double *next) {
  const double *w = m->heartbeat_write;
  size_t i = 0;
  *applied = received;
  *next = NAN;
  for (; i < MARIADB_HEARTBEAT_WRITES && !isnan(w[i]) && w[i] > received + interval_s / 2; i++)
    *next = w[i]; /* newest first: the last one is the oldest */
  if (i < MARIADB_HEARTBEAT_WRITES && !isnan(w[i]) && w[i] >= received - interval_s / 2)
    *applied = w[i];
  if (i == MARIADB_HEARTBEAT_WRITES)
    *next = fmin(*next, *applied + interval_s);
}

/* A source replmon cannot poll that the replica keeps hearing from: its connection from the
 * source is alive and received something later than a frozen source's last events can
 * arrive. Those left it before its poll after the last good one would have read it, at most
 * an interval after that read, and the replica's poll that shows them comes at most an
 * interval later still. */
static bool heard_since_lost(const struct pair_node *replica, const struct pair_node *source,
                             double interval_s) {
  const struct replica_status *link = pair_find_link(replica, source->name);
  double silent_s;
  return !source->up && link && pair_source_alive(replica, link, interval_s, &silent_s) == 1 &&
         link->progress_unix >
             source->status->memory.read_unix + 2 * interval_s * (1 + PAIR_STALE_MARGIN);
}

double pair_heartbeat_lag(const struct pair_node *replica, const struct pair_node *source,
                          bool replmon_writes, double interval_s, double now_unix,
                          double *valid_until_unix) {
  *valid_until_unix = INFINITY;
  if (!known(replica) || !replica->status->heartbeat_read || !source->status)
    return NAN;
  if (heard_since_lost(replica, source, interval_s))
    return NAN;
  const struct mariadb_memory *src = &source->status->memory;
  double written = newest_heartbeat(replica->status, src->server_id);
  if (isnan(written) || isnan(src->clock_offset_s))
    return NAN;
  /* Both sides on replmon's clock: the row's time on the source's clock minus the source's
   * offset; the replica's read time is already replmon's. */
  double received = written - src->clock_offset_s;
  double read = replica->status->read_unix;
  if (!replmon_writes)
    return milliseconds(fmax(0, read - received));
  /* The source never wrote one (read-only): no heartbeat to measure by. And a row older than
   * this process's first heartbeat says how long ago someone wrote it, not how far behind the
   * replica is (say, a delayed replica just after replmon started). */
  if (isnan(src->first_heartbeat_write) || received < src->first_heartbeat_write - interval_s / 2)
    return NAN;
  double applied, next;
  bracket(src, received, interval_s, &applied, &next);
  /* The replica had applied the write at applied and not the one at next, written before
   * the read: the source's state it shows is from between the two, so its delay lies between
   * read - next and read - applied. The middle is within half an interval of the truth. */
  if (next < read)
    return milliseconds(read - (applied + next) / 2);
  bool late_at_read = read - source->polled_unix > interval_s * (1 + PAIR_STALE_MARGIN);
  if (!isnan(next)) {
    /* It had the newest heartbeat written before the read, and the source wrote again
     * since, which the replica may have received by now: as of the read, less than an
     * interval behind, unless the source was failing or late then. */
    if (!source->up || late_at_read)
      return milliseconds(fmax(0, read - applied - interval_s / 2));
    return 0;
  }
  /* It had the newest heartbeat the source wrote. A source that fails, or whose poll is late
   * (stuck in a statement: frozen), stopped between that write and the next one it should
   * have made an interval later: at now the replica has received nothing for between
   * now - applied - interval and now - applied, and the result is the middle. The same
   * holds later than the replica's read, as nothing the source wrote can have reached it. */
  double stale_at = source->polled_unix + interval_s * (1 + PAIR_STALE_MARGIN);
  if (!source->up || late_at_read || now_unix > stale_at) {
    *valid_until_unix = now_unix;
    return milliseconds(fmax(0, fmax(now_unix, read) - applied - interval_s / 2));
  }
  /* Otherwise less than an interval behind, until the source's next poll is late. */
  if (!isnan(stale_at))
    *valid_until_unix = stale_at;
  return 0;
}

double pair_transactions_behind(const struct pair_node *replica, const struct pair_node *source,
                                double *domain) {
  *domain = NAN;
  if (!known(replica) || !known(source) || isnan(source->status->gtid_domain_id))
    return NAN;
  uint32_t d = (uint32_t)source->status->gtid_domain_id;
  *domain = d;
  int found_source, found_replica;
  uint64_t produced = gtid_list_seq(&source->status->binlog_pos, d, &found_source);
  uint64_t applied = gtid_list_seq(&replica->status->slave_pos, d, &found_replica);
  if (!found_source)
    return 0; /* the source never wrote in its domain: nothing to apply */
  return produced > applied ? (double)(produced - applied) : 0;
}

const struct replica_status *pair_find_link(const struct pair_node *replica, const char *source) {
  if (!replica->status)
    return NULL;
  for (size_t i = 0; i < replica->status->n_replicas; i++) {
    const struct replica_status *r = &replica->status->replicas[i];
    if (r->source && strcmp(r->source, source) == 0)
      return r;
  }
  return NULL;
}

double pair_link_up(const struct pair_node *replica, const char *source) {
  if (!known(replica))
    return NAN;
  const struct replica_status *r = pair_find_link(replica, source);
  return r && r->io_state == IO_STATE_YES && r->sql_running ? 1 : 0;
}

double pair_source_alive(const struct pair_node *replica, const struct replica_status *link,
                         double interval_s, double *silent_s) {
  *silent_s = NAN;
  if (!replica->up || !known(replica))
    return NAN;
  if (!link)
    return NAN;
  if (!isnan(link->progress_unix))
    *silent_s = fmax(0, replica->status->read_unix - link->progress_unix);
  if (link->io_state != IO_STATE_YES)
    return link->io_state == IO_STATE_NO && !(link->last_io_errno > 0) ? NAN : 0;
  double period = link->heartbeat_period_s;
  if (isnan(period) || period <= 0)
    return link->progress_seen ? 1 : NAN;
  if (*silent_s > period * (1 + PAIR_STALE_MARGIN) + interval_s)
    return 0;
  return link->progress_seen ? 1 : NAN; /* no arrival seen yet since replmon started */
}

const char *lag_method_name(enum lag_method method) {
  static const char *const names[LAG_METHOD_COUNT] = {"heartbeat", "time_diff",
                                                      "seconds_behind_master"};
  return method >= 0 && method < LAG_METHOD_COUNT ? names[method] : "unknown";
}

double pair_link_lag(const struct replica_status *rep, double heartbeat_lag_s,
                     enum lag_method *method) {
  enum lag_method chosen;
  double lag;
  if (!isnan(heartbeat_lag_s)) {
    chosen = LAG_HEARTBEAT;
    lag = heartbeat_lag_s;
  } else if (rep && rep->has_time_diff && !isnan(rep->time_diff_seconds) &&
             rep->io_state == IO_STATE_YES) {
    /* (11.8 reads 0, not NULL, while the IO thread is stopped.) */
    chosen = LAG_TIME_DIFF;
    lag = rep->time_diff_seconds;
  } else if (rep && !isnan(rep->seconds_behind_master)) {
    chosen = LAG_SECONDS_BEHIND_MASTER;
    lag = rep->seconds_behind_master;
  } else {
    chosen = rep && rep->has_time_diff ? LAG_TIME_DIFF : LAG_SECONDS_BEHIND_MASTER;
    lag = NAN;
  }
  if (method)
    *method = chosen;
  return lag;
}

double pair_stalled(const struct pair_node *replica, const struct replica_status *link,
                    const struct pair_node *source, double stall_after_s) {
  if (!known(replica) || !link)
    return NAN;
  if (link->io_state != IO_STATE_YES || isnan(link->progress_unix) ||
      replica->status->read_unix - link->progress_unix <= stall_after_s)
    return 0;
  if (!known(source) || isnan(source->status->gtid_domain_id))
    return 0; /* a source that does not answer is not advancing as far as we know */
  uint32_t d = (uint32_t)source->status->gtid_domain_id;
  int found_source, found_replica;
  uint64_t produced = gtid_list_seq(&source->status->binlog_pos, d, &found_source);
  uint64_t received = gtid_list_seq(&link->gtid_io_pos, d, &found_replica);
  return found_source && produced > received ? 1 : 0;
}

/* MariaDB's ER_MASTER_FATAL_ERROR_READING_BINLOG, which the IO thread reports when the
 * source purged the binlog holding the position (or GTID state) it asks for. */
#define ER_BINLOG_PURGED 1236

void pair_binlog_horizon(const struct pair_node *replica, const struct replica_status *link,
                         const struct pair_node *source, double lag_s, double written_since_break,
                         double written_for_s, struct binlog_horizon *out) {
  out->left_s = out->retention_s = NAN;
  if (!source->status)
    return;
  const struct mariadb_binlog_retention *r = &source->status->memory.binlog_retention;
  double age_bound = r->expire_s > 0 ? r->expire_s : r->expire_s == 0 ? INFINITY : NAN;
  out->retention_s = age_bound;
  if (!known(replica) || !link || (link->io_state == IO_STATE_YES && link->sql_running))
    return;
  if (link->last_io_errno == ER_BINLOG_PURGED) {
    out->left_s = 0;
    return;
  }
  /* While the IO thread receives, its progress says nothing of what the replica applied. */
  double received_age =
      link->io_state == IO_STATE_YES ? NAN : replica->status->read_unix - link->progress_unix;
  double broken_for = fmax(received_age, lag_s); /* NaN only when both are */
  if (isnan(broken_for)) {
    if (r->max_total_size_bytes > 0)
      out->retention_s = NAN; /* the size bound depends on it */
    return;
  }
  if (r->max_total_size_bytes > 0) {
    /* The rest of the limit fills at the rate written since replmon saw the break; nothing
     * written yet: not in sight. */
    double size_bound = NAN;
    if (written_since_break == 0)
      size_bound = INFINITY;
    else if (written_since_break > 0 && written_for_s > 0)
      size_bound = broken_for + fmax(0, r->max_total_size_bytes - written_since_break) /
                                    (written_since_break / written_for_s);
    out->retention_s = isnan(size_bound) ? NAN : fmin(age_bound, size_bound);
  }
  if (!isnan(out->retention_s) && !isnan(broken_for))
    out->left_s = fmax(0, out->retention_s - broken_for);
}

const char *pair_check_name(enum pair_check check) {
  static const char *const names[CHECK_COUNT] = {
      "server_id_unique",  "gtid_domain_per_writer", "auto_increment_safe", "log_slave_updates_on",
      "binlog_format_row", "writers_as_intended",    "semisync_active",     "no_errant_gtid"};
  return check >= 0 && check < CHECK_COUNT ? names[check] : "unknown";
}

static bool writable(const struct pair_node *node) {
  return known(node) && node->status->read_only == 0;
}

static double server_id_of(const struct mariadb_status *s) {
  return s->server_id;
}

static double domain_of(const struct mariadb_status *s) {
  return s->gtid_domain_id;
}

/* Two known nodes (writers only, if writers_only) with equal value; false if none. */
static bool same_value(const struct pair_node *nodes, size_t n,
                       double (*field)(const struct mariadb_status *), bool writers_only, size_t *a,
                       size_t *b) {
  for (size_t i = 0; i < n; i++) {
    for (size_t j = i + 1; j < n; j++) {
      if (!known(&nodes[i]) || !known(&nodes[j]) ||
          (writers_only && (!writable(&nodes[i]) || !writable(&nodes[j]))))
        continue;
      double x = field(nodes[i].status);
      double y = field(nodes[j].status);
      if (!isnan(x) && x == y) {
        *a = i;
        *b = j;
        return true;
      }
    }
  }
  return false;
}

static double check_auto_increment(const struct pair_node *nodes, size_t n, struct buf *why) {
  size_t writers = 0;
  for (size_t i = 0; i < n; i++)
    writers += writable(&nodes[i]);
  for (size_t i = 0; i < n; i++) {
    if (!writable(&nodes[i]))
      continue;
    double inc = nodes[i].status->auto_increment_increment;
    if (writers > 1 && !(inc >= (double)writers)) {
      buf_printf(why,
                 "%s has auto_increment_increment %.0f with %zu writable nodes: set it to at "
                 "least %zu on every node",
                 nodes[i].name, inc, writers, writers);
      return 0;
    }
    for (size_t j = i + 1; j < n; j++) {
      if (!writable(&nodes[j]))
        continue;
      double inc_j = nodes[j].status->auto_increment_increment;
      double step = inc < inc_j ? inc : inc_j;
      double oi = fmod(nodes[i].status->auto_increment_offset, step);
      double oj = fmod(nodes[j].status->auto_increment_offset, step);
      if (inc != inc_j || oi == oj) {
        buf_printf(why,
                   "%s and %s generate the same AUTO_INCREMENT values (increment %.0f/%.0f, "
                   "offset %.0f/%.0f): give both the same increment and distinct offsets",
                   nodes[i].name, nodes[j].name, inc, inc_j, nodes[i].status->auto_increment_offset,
                   nodes[j].status->auto_increment_offset);
        return 0;
      }
    }
  }
  return 1;
}

/* Whether another node has a replication connection reading from node i, as its last poll
 * that answered saw it: a replica that stopped answering still counts. */
static bool has_replica(const struct pair_node *nodes, size_t n, size_t i) {
  for (size_t j = 0; j < n; j++)
    if (j != i && pair_find_link(&nodes[j], nodes[i].name))
      return true;
  return false;
}

static const char *on_off(double value) {
  return value == 1 ? "ON" : value == 0 ? "OFF" : "unknown";
}

/* The source side of semi-sync on one writer that has a replica: 0 with *why when it is not
 * on or fell back to asynchronous commits. */
static double semisync_source_ok(const struct pair_node *writer, struct buf *why) {
  const struct mariadb_semisync *ss = &writer->status->semisync;
  if (ss->master_enabled != 1) {
    buf_printf(why,
               "%s takes writes but has rpl_semi_sync_master_enabled %s, so its commits wait "
               "for no replica: SET GLOBAL rpl_semi_sync_master_enabled=ON, and in its server "
               "config",
               writer->name, on_off(ss->master_enabled));
    return 0;
  }
  if (ss->master_status == 1)
    return 1;
  buf_printf(why,
             "%s fell back to asynchronous replication (Rpl_semi_sync_master_status %s): no "
             "replica acknowledged its commits within rpl_semi_sync_master_timeout",
             writer->name, on_off(ss->master_status));
  if (!isnan(ss->master_timeout_s))
    buf_printf(why, " (%g s)", ss->master_timeout_s);
  /* No count of the commits made meanwhile: the reason must stay the same while the
   * fall-back lasts, or the state-change log repeats it at every commit (it is a metric). */
  buf_puts(why, ", so they no longer wait for one");
  buf_puts(why, "; it returns to semi-sync by itself once a replica has caught up: check the "
                "replicas' IO threads");
  return 0;
}

/* The replica side of semi-sync on replica's connection from writer. */
static double semisync_replica_ok(const struct pair_node *replica, const struct pair_node *writer,
                                  const struct replica_status *link, struct buf *why) {
  const struct mariadb_semisync *ss = &replica->status->semisync;
  if (ss->slave_enabled != 1) {
    buf_printf(why,
               "%s replicates from %s but has rpl_semi_sync_slave_enabled %s, so it acknowledges "
               "nothing: SET GLOBAL rpl_semi_sync_slave_enabled=ON (and in its server config), "
               "then restart its IO thread (STOP SLAVE IO_THREAD; START SLAVE IO_THREAD)",
               replica->name, writer->name, on_off(ss->slave_enabled));
    return 0;
  }
  if (ss->slave_status == 1)
    return 1;
  if (link->io_state != IO_STATE_YES)
    buf_printf(why,
               "%s acknowledges none of %s's commits: its IO thread reading from %s is not "
               "running (state %s)",
               replica->name, writer->name, writer->name, replica_io_state_name(link->io_state));
  else
    buf_printf(why,
               "%s's replication from %s is not semi-synchronous (Rpl_semi_sync_slave_status "
               "%s): its IO thread connected before semi-sync was enabled; restart it (STOP "
               "SLAVE IO_THREAD; START SLAVE IO_THREAD)",
               replica->name, writer->name, on_off(ss->slave_status));
  return 0;
}

/* Every writer with a replica waits for it, and every replica of a writer acknowledges. The
 * writers are judged first: a fall-back is what the admin must learn of. */
static double check_semisync(const struct pair_node *nodes, size_t n, struct buf *why) {
  for (size_t i = 0; i < n; i++)
    if (writable(&nodes[i]) && has_replica(nodes, n, i) && !semisync_source_ok(&nodes[i], why))
      return 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; known(&nodes[i]) && j < n; j++) {
      const struct replica_status *link =
          j != i && writable(&nodes[j]) ? pair_find_link(&nodes[i], nodes[j].name) : NULL;
      if (link && !semisync_replica_ok(&nodes[i], &nodes[j], link, why))
        return 0;
    }
  }
  return 1;
}

double pair_check(enum pair_check check, const struct pair_node *nodes, size_t n,
                  bool active_passive, bool semisync_required, char **reason) {
  if (check == CHECK_NO_ERRANT_GTID)
    return pair_check_errant(nodes, n, NULL, 0, reason);
  *reason = NULL;
  if (check == CHECK_SEMISYNC_ACTIVE && !semisync_required)
    return NAN;
  size_t answered = 0, writers = 0;
  for (size_t i = 0; i < n; i++) {
    answered += known(&nodes[i]);
    writers += writable(&nodes[i]);
  }
  if (answered == 0)
    return NAN;
  struct buf why = BUF_INIT;
  double ok = 1;
  size_t a, b;
  switch (check) {
  case CHECK_SERVER_ID_UNIQUE:
    if (same_value(nodes, n, server_id_of, false, &a, &b)) {
      buf_printf(&why,
                 "%s and %s both have server_id %.0f: replication skips the events of its "
                 "own server_id, so give every node its own",
                 nodes[a].name, nodes[b].name, nodes[a].status->server_id);
      ok = 0;
    }
    break;
  case CHECK_GTID_DOMAIN_PER_WRITER:
    if (same_value(nodes, n, domain_of, true, &a, &b)) {
      buf_printf(&why,
                 "writable nodes %s and %s share gtid_domain_id %.0f: give each writer its "
                 "own domain (SET GLOBAL gtid_domain_id and in the server config)",
                 nodes[a].name, nodes[b].name, nodes[a].status->gtid_domain_id);
      ok = 0;
    }
    break;
  case CHECK_AUTO_INCREMENT_SAFE:
    ok = check_auto_increment(nodes, n, &why);
    break;
  case CHECK_LOG_SLAVE_UPDATES_ON:
  case CHECK_BINLOG_FORMAT_ROW:
    for (size_t i = 0; i < n && ok; i++) {
      if (!known(&nodes[i]))
        continue;
      const struct mariadb_status *s = nodes[i].status;
      if (check == CHECK_LOG_SLAVE_UPDATES_ON && s->log_slave_updates != 1) {
        buf_printf(&why,
                   "%s has log_slave_updates OFF: replicated changes are missing from its "
                   "binlog, so a node reading from it loses them",
                   nodes[i].name);
        ok = 0;
      } else if (check == CHECK_BINLOG_FORMAT_ROW &&
                 (!s->binlog_format || strcasecmp(s->binlog_format, "ROW") != 0)) {
        buf_printf(&why, "%s has binlog_format %s: use ROW so both masters apply the same rows",
                   nodes[i].name, s->binlog_format ? s->binlog_format : "unknown");
        ok = 0;
      }
    }
    break;
  case CHECK_WRITERS_AS_INTENDED:
    if (active_passive && writers != 1) {
      buf_printf(&why,
                 "mode active-passive expects exactly one node with read_only OFF; %zu "
                 "have it",
                 writers);
      ok = 0;
    } else if (!active_passive && writers != answered) {
      buf_printf(&why,
                 "mode multi-master expects every node writable; %zu of %zu have "
                 "read_only ON",
                 answered - writers, answered);
      ok = 0;
    }
    break;
  case CHECK_SEMISYNC_ACTIVE:
    ok = check_semisync(nodes, n, &why);
    break;
  case CHECK_NO_ERRANT_GTID: /* pair_check_errant */
  case CHECK_COUNT:
    break;
  }
  if (!ok) {
    *reason = buf_steal(&why, NULL);
  }
  buf_free(&why);
  return ok;
}

/* ---- errant transactions ---- */

/* Node's server_id and gtid_domain_id: from its poll, else from its memory. */
static bool identity(const struct pair_node *node, uint32_t *server_id, uint32_t *domain) {
  const struct mariadb_status *s = node->status;
  if (!s)
    return false;
  double id = s->known ? s->server_id : s->memory.server_id;
  double d = s->known ? s->gtid_domain_id : s->memory.gtid_domain_id;
  if (isnan(id) || isnan(d))
    return false;
  *server_id = (uint32_t)id;
  *domain = (uint32_t)d;
  return true;
}

static bool identities_known(const struct pair_node *nodes, size_t n) {
  uint32_t id, d;
  for (size_t i = 0; i < n; i++)
    if (!identity(&nodes[i], &id, &d))
      return false;
  return n > 0;
}

/* Whether domain is some node's, and whether server_id is one of those nodes'. */
static void domain_writers(const struct pair_node *nodes, size_t n, uint32_t domain,
                           uint32_t server_id, bool *has_writer, bool *is_writer) {
  *has_writer = *is_writer = false;
  for (size_t i = 0; i < n; i++) {
    uint32_t id, d;
    if (identity(&nodes[i], &id, &d) && d == domain) {
      *has_writer = true;
      *is_writer = *is_writer || id == server_id;
    }
  }
}

size_t pair_writer_domains(const struct pair_node *nodes, size_t n, uint32_t *domains) {
  if (!identities_known(nodes, n))
    return 0;
  size_t count = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t id = 0, d = 0;
    identity(&nodes[i], &id, &d);
    bool listed = false;
    for (size_t k = 0; k < count && !listed; k++)
      listed = domains[k] == d;
    if (!listed)
      domains[count++] = d;
  }
  return count;
}

/* Whether entry of a binlog state was written by none of its domain's writers. */
static bool foreign(const struct pair_node *nodes, size_t n, const struct gtid *entry) {
  bool has_writer, is_writer;
  domain_writers(nodes, n, entry->domain, entry->server_id, &has_writer, &is_writer);
  return has_writer && !is_writer;
}

double pair_foreign_gtids(const struct pair_node *nodes, size_t n, size_t i, uint32_t domain) {
  bool has_writer, is_writer;
  domain_writers(nodes, n, domain, 0, &has_writer, &is_writer);
  if (i >= n || !known(&nodes[i]) || !identities_known(nodes, n) || !has_writer)
    return NAN;
  const struct gtid_list *state = &nodes[i].status->binlog_state;
  double count = 0;
  for (size_t k = 0; k < state->n; k++)
    count += state->items[k].domain == domain && foreign(nodes, n, &state->items[k]);
  return count;
}

static const struct gtid *find_gtid(const struct gtid_list *list, uint32_t domain) {
  for (size_t k = 0; k < list->n; k++)
    if (list->items[k].domain == domain)
      return &list->items[k];
  return NULL;
}

static double spread(const struct mariadb_status *s) {
  return isnan(s->read_spread_s) ? 0 : s->read_spread_s;
}

struct pair_ahead pair_ahead_of_source(const struct pair_node *replica,
                                       const struct pair_node *source, struct pair_ahead before) {
  if (!known(replica) || !known(source) || isnan(source->status->gtid_domain_id))
    return before;
  const struct mariadb_status *r = replica->status, *s = source->status;
  if (r->gtid_domain_id == s->gtid_domain_id)
    return PAIR_AHEAD_UNKNOWN; /* both write there: the source's last GTID may be older */
  if (!(s->read_unix - spread(s) > r->read_unix + spread(r)))
    return before; /* not read after the replica: its binlog may have been shorter */
  uint32_t d = (uint32_t)s->gtid_domain_id;
  const struct gtid *applied = find_gtid(&r->slave_pos, d);
  const struct gtid *produced = find_gtid(&s->binlog_pos, d);
  struct pair_ahead now = {.by = 0, .domain = d};
  now.applied = applied ? *applied : (struct gtid){d, 0, 0};
  now.produced = produced ? *produced : (struct gtid){d, 0, 0};
  if (now.applied.seq > now.produced.seq)
    now.by = (double)(now.applied.seq - now.produced.seq);
  return now;
}

double pair_errant_transactions(const struct pair_node *nodes, size_t n, size_t i, uint32_t domain,
                                const struct pair_link_ahead *links, size_t n_links) {
  double count = pair_foreign_gtids(nodes, n, i, domain);
  for (size_t l = 0; !isnan(count) && l < n_links; l++)
    if (links[l].replica == i && links[l].ahead.domain == domain && links[l].ahead.by > 0)
      count += links[l].ahead.by;
  return count;
}

static bool same_gtid(const struct gtid *a, const struct gtid *b) {
  return a->domain == b->domain && a->server_id == b->server_id && a->seq == b->seq;
}

/* Whether entry k of node i's state was already met at an earlier node or entry. */
static bool met_before(const struct pair_node *nodes, size_t i, size_t k) {
  const struct gtid *entry = &nodes[i].status->binlog_state.items[k];
  for (size_t j = 0; j <= i; j++) {
    if (!known(&nodes[j]))
      continue;
    const struct gtid_list *state = &nodes[j].status->binlog_state;
    for (size_t m = 0; m < (j == i ? k : state->n); m++)
      if (same_gtid(&state->items[m], entry))
        return true;
  }
  return false;
}

/* "db1 (server_id 1)", or "db1 and db2 (server_id 1, 2)": the writers of domain. */
static void describe_writers(const struct pair_node *nodes, size_t n, uint32_t domain,
                             struct buf *out) {
  struct buf names = BUF_INIT, ids = BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    uint32_t id, d;
    if (!identity(&nodes[i], &id, &d) || d != domain)
      continue;
    buf_printf(&names, "%s%s", names.len ? " and " : "", nodes[i].name);
    buf_printf(&ids, "%s%u", ids.len ? ", " : "", id);
  }
  buf_printf(out, "%s (server_id %s)", names.data ? names.data : "", ids.data ? ids.data : "");
  out->failed = out->failed || names.failed || ids.failed;
  buf_free(&names);
  buf_free(&ids);
}

double pair_check_errant(const struct pair_node *nodes, size_t n,
                         const struct pair_link_ahead *links, size_t n_links, char **reason) {
  *reason = NULL;
  size_t answered = 0;
  for (size_t i = 0; i < n; i++)
    answered += known(&nodes[i]);
  if (answered == 0 || !identities_known(nodes, n))
    return NAN;
  struct buf why = BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    if (!known(&nodes[i]))
      continue;
    const struct gtid_list *state = &nodes[i].status->binlog_state;
    for (size_t k = 0; k < state->n; k++) {
      const struct gtid *e = &state->items[k];
      if (!foreign(nodes, n, e) || met_before(nodes, i, k))
        continue;
      buf_printf(&why, "%s%u-%u-%llu: server_id %u wrote in domain %u, which belongs to ",
                 why.len ? "; errant GTID " : "errant GTID ", e->domain, e->server_id,
                 (unsigned long long)e->seq, e->server_id, e->domain);
      describe_writers(nodes, n, e->domain, &why);
    }
  }
  for (size_t l = 0; l < n_links; l++) {
    const struct pair_ahead *a = &links[l].ahead;
    if (!(a->by > 0) || links[l].replica >= n || links[l].source >= n)
      continue;
    buf_printf(&why,
               "%s%s applied %u-%u-%llu, which %s's binlog does not have (a replica ahead "
               "of its source)",
               why.len ? "; " : "", nodes[links[l].replica].name, a->applied.domain,
               a->applied.server_id, (unsigned long long)a->applied.seq,
               nodes[links[l].source].name);
  }
  if (!why.len) {
    buf_free(&why);
    return 1;
  }
  buf_puts(&why, ": a transaction was written on the wrong node; compare the data, then clean "
                 "up the GTID state (README, Errant transactions)");
  *reason = buf_steal(&why, NULL);
  return 0;
}

const char *error_class_name(enum error_class error_class) {
  static const char *const names[ERROR_CLASS_COUNT] = {"duplicate_key", "row_not_found", "connect",
                                                       "auth",          "binlog_purged", "other"};
  return error_class >= 0 && error_class < ERROR_CLASS_COUNT ? names[error_class] : "other";
}

static void classify(double errnum, bool classes[ERROR_CLASS_COUNT]) {
  if (isnan(errnum) || errnum == 0)
    return;
  switch ((long)errnum) {
  case 1062:
    classes[ERROR_DUPLICATE_KEY] = true;
    break;
  case 1032:
    classes[ERROR_ROW_NOT_FOUND] = true;
    break;
  case 2003:
  case 2013:
    classes[ERROR_CONNECT] = true;
    break;
  case 1045:
    classes[ERROR_AUTH] = true;
    break;
  case ER_BINLOG_PURGED:
    classes[ERROR_BINLOG_PURGED] = true;
    break;
  default:
    classes[ERROR_OTHER] = true;
  }
}

void replica_error_classes(const struct replica_status *replica, bool classes[ERROR_CLASS_COUNT]) {
  memset(classes, 0, ERROR_CLASS_COUNT * sizeof(bool));
  classify(replica->last_io_errno, classes);
  classify(replica->last_sql_errno, classes);
}
