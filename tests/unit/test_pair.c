/* The pair analysis on hand-built inputs: the GTID position parser, heartbeat lag with clock
 * skew, GTID distance, links, stalls, a source alive per its replica, the binlog horizon,
 * every configuration check (semi-sync included) and the error classes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gtid.h"
#include "pair.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_gtid_parser(void **state) {
  (void)state;
  struct gtid_list l;
  assert_int_equal(gtid_list_parse("1-1-5,2-2-7", &l), 0);
  assert_int_equal(l.n, 2);
  int found;
  assert_true(gtid_list_seq(&l, 2, &found) == 7 && found);
  assert_true(gtid_list_seq(&l, 1, &found) == 5 && found);
  gtid_list_seq(&l, 3, &found);
  assert_false(found);
  gtid_list_clear(&l);
  /* MariaDB wraps long positions over lines with a comma and a newline. */
  assert_int_equal(gtid_list_parse("0-1-100,\n1-1-18446744073709551615, 2-2-3", &l), 0);
  assert_int_equal(l.n, 3);
  assert_true(l.items[1].seq == UINT64_MAX);
  gtid_list_clear(&l);
  assert_int_equal(gtid_list_parse("", &l), 0);
  assert_int_equal(l.n, 0);
  assert_int_equal(gtid_list_parse(NULL, &l), 0);
  static const char *const bad[] = {"1-1",
                                    "1-1-",
                                    "a-1-1",
                                    "1-1-1,",
                                    "1-1-1;2-2-2",
                                    "4294967296-1-1",
                                    "1-1-18446744073709551616",
                                    "-1-1-1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(gtid_list_parse(bad[i], &l), -EINVAL);
    assert_int_equal(l.n, 0);
  }
}

/* A node as the pair sees it, with its own status storage. */
struct fake {
  struct mariadb_status status;
  struct heartbeat_row rows[4];
  struct replica_status link;
  struct pair_node node;
};

static void fake_init(struct fake *f, const char *name, double server_id, double domain) {
  memset(f, 0, sizeof(*f));
  mariadb_status_clear(&f->status);
  f->status.known = true;
  f->status.server_id = server_id;
  f->status.read_only = 0;
  f->status.gtid_domain_id = domain;
  f->status.auto_increment_increment = 2;
  f->status.auto_increment_offset = server_id;
  f->status.log_slave_updates = 1;
  f->status.log_bin = 1;
  f->status.binlog_format = (char *)"ROW"; /* not freed: the fake owns nothing */
  f->status.memory.server_id = server_id;
  f->status.memory.gtid_domain_id = domain;
  f->status.memory.clock_offset_s = 0;
  f->status.heartbeats = f->rows;
  f->status.heartbeat_read = true;
  f->node = (struct pair_node){name, &f->status, true, NAN};
}

/* replmon wrote db1's heartbeats once a second from first to last (its own clock). */
static void wrote(struct fake *f, double first, double last) {
  mariadb_memory_clear(&f->status.memory);
  f->status.memory.server_id = f->status.server_id;
  f->status.memory.clock_offset_s = 3.5;
  for (double t = first; t <= last; t += 1)
    mariadb_memory_note_write(&f->status.memory, t);
}

/* The lag as the analysis sees it at now (valid_until not NULL: when it stops holding). */
static double lag_at(struct fake *replica, struct fake *source, double now, double *valid_until) {
  double until;
  double v = pair_heartbeat_lag(&replica->node, &source->node, true, 1.0, now, &until);
  if (valid_until)
    *valid_until = until;
  return v;
}

/* The lag as the analysis sees it when the replica's poll is published. */
static double lag(struct fake *replica, struct fake *source, bool replmon_writes) {
  double until;
  return pair_heartbeat_lag(&replica->node, &source->node, replmon_writes, 1.0,
                            replica->status.read_unix, &until);
}

static void test_heartbeat_lag_and_skew(void **state) {
  (void)state;
  struct fake db1, db2;
  fake_init(&db1, "db1", 1, 1);
  fake_init(&db2, "db2", 2, 2);
  /* db1's clock runs 3.5 s ahead of replmon's, db2's 120 s behind (and in another zone); the
   * rows db2 holds carry db1's clock. replmon wrote db1's heartbeats at 980, 981, ... 1000. */
  wrote(&db1, 980, 1000);
  db2.status.memory.clock_offset_s = -120;
  /* db2 read at 1000.5 and holds db1's row of 1000.0 (1003.5 on db1's clock): it keeps up. */
  db2.status.read_unix = 1000.5;
  db2.rows[0] = (struct heartbeat_row){1, 1003.5};
  db2.status.n_heartbeats = 1;
  assert_true(lag(&db2, &db1, true) == 0);
  /* The row of 990.0 only, the one of 991.0 written long before the read (ten seconds of
   * MASTER_DELAY): the delay lies between 9.5 and 10.5 s, and 10 s is its middle. */
  db2.rows[0].ts = 993.5;
  assert_true(fabs(lag(&db2, &db1, true) - 10.0) < 1e-9);
  /* The same row read at 1000.9: between 9.9 and 10.9 s. */
  db2.status.read_unix = 1000.9;
  assert_true(fabs(lag(&db2, &db1, true) - 10.4) < 1e-9);
  /* A write made 50 ms before the read that db2 does not have yet: the delay lies between
   * 0.05 and 1.05 s, however likely it is that the row is merely on its way. */
  wrote(&db1, 980, 999);
  mariadb_memory_note_write(&db1.status.memory, 1000.45);
  db2.status.read_unix = 1000.5;
  db2.rows[0].ts = 1002.5; /* 999.0 */
  assert_true(fabs(lag(&db2, &db1, true) - 0.775) < 1e-9);
  /* Its record of the write and the row differ by the INSERT's duration: still that write. */
  wrote(&db1, 980, 1000);
  db2.rows[0].ts = 993.5 - 0.0004;
  assert_true(fabs(lag(&db2, &db1, true) - 10.0) < 1e-9);
  /* A row older than the 16 writes remembered (985 to 1000): the next write is taken one
   * interval later, as the source is written once per poll. */
  db2.rows[0].ts = 973.5; /* 970.0 */
  wrote(&db1, 960, 1000);
  assert_true(fabs(lag(&db2, &db1, true) - 30.0) < 1e-9);
  wrote(&db1, 980, 1000);
  /* db1 last polled at 1000.002. Read at 1001.2, db2 has the write of 1000.0: db1's poll of
   * 1001.0 is merely not published yet. */
  db2.rows[0].ts = 1003.5;
  db1.node.polled_unix = 1000.002;
  db2.status.read_unix = 1001.2;
  assert_true(lag(&db2, &db1, true) == 0);
  /* That holds until db1's poll is late, at 1001.252, unless a poll comes first. */
  double until;
  assert_true(lag_at(&db2, &db1, 1001.25, &until) == 0);
  assert_true(fabs(until - 1001.252) < 1e-9);
  /* From then on, with no read of db2 since, the lag grows with the clock: nothing db1
   * wrote can have reached db2 meanwhile. */
  assert_true(fabs(lag_at(&db2, &db1, 1001.6, &until) - 1.1) < 1e-9);
  assert_true(until == 1001.6);
  assert_true(fabs(lag_at(&db2, &db1, 1003.5, NULL) - 3.0) < 1e-9);
  /* But when db1 wrote again after db2's read (1001.0, after a read at 1000.9), db2 may
   * have that write by now: at 1002.26, when db1 is late, the lag is as of the read until
   * db2's next one, not the age of the write of 1000.0 (which would run ahead of the
   * truth). */
  wrote(&db1, 980, 1001);
  db1.node.polled_unix = 1001.002;
  db2.status.read_unix = 1000.9;
  assert_true(lag_at(&db2, &db1, 1002.26, &until) == 0);
  assert_true(isinf(until));
  wrote(&db1, 980, 1000);
  db1.node.polled_unix = 1000.002;
  db2.status.read_unix = 1001.2;
  /* At 1001.3, that poll is more than an interval and a quarter old: db1 is stuck in a
   * statement (frozen) and wrote nothing since 1000.0, between 0.3 and 1.3 s ago. */
  db2.status.read_unix = 1001.3;
  assert_true(fabs(lag(&db2, &db1, true) - 0.8) < 1e-9);
  /* Its poll fails (the query timeout): the same, growing with reads. */
  db1.node.up = false;
  db1.status.known = false;
  db1.node.polled_unix = 1003.0;
  db2.status.read_unix = 1004.0;
  assert_true(fabs(lag(&db2, &db1, true) - 3.5) < 1e-9);
  assert_true(fabs(lag_at(&db2, &db1, 1004.4, &until) - 3.9) < 1e-9);
  assert_true(until == 1004.4);
  /* A delayed replica still applying what came before the freeze: its delay, as before,
   * until its next read. */
  db2.rows[0].ts = 993.5;
  db2.status.read_unix = 1000.5;
  assert_true(fabs(lag(&db2, &db1, true) - 10.0) < 1e-9);
  assert_true(fabs(lag_at(&db2, &db1, 1001.4, &until) - 10.0) < 1e-9);
  assert_true(isinf(until));
  db2.rows[0].ts = 1003.5;
  db2.status.read_unix = 1004.0;
  /* write: false (pt-heartbeat writes the rows): the age, corrected for the skew. */
  db1.node.up = true;
  db1.status.known = true;
  assert_true(fabs(lag(&db2, &db1, false) - 4.0) < 1e-9);
  /* A row from before replmon's first write (a delayed replica just after start): its age
   * is not the delay, so unknown rather than wrong. */
  wrote(&db1, 1002, 1003);
  db2.status.read_unix = 1003.5;
  assert_true(isnan(lag(&db2, &db1, true)));
  wrote(&db1, 980, 1000);
  /* No row from the source, no offset, or a source that never wrote: unknown. */
  db2.rows[0].server_id = 7;
  assert_true(isnan(lag(&db2, &db1, true)));
  db2.rows[0].server_id = 1;
  db1.status.memory.clock_offset_s = NAN;
  assert_true(isnan(lag(&db2, &db1, true)));
  mariadb_memory_clear(&db1.status.memory);
  db1.status.memory.server_id = 1;
  db1.status.memory.clock_offset_s = 3.5;
  assert_true(isnan(lag(&db2, &db1, true)));
}

static void test_transactions_behind(void **state) {
  (void)state;
  struct fake db1, db2;
  fake_init(&db1, "db1", 1, 1);
  fake_init(&db2, "db2", 2, 2);
  assert_int_equal(gtid_list_parse("1-1-120,2-2-40", &db1.status.binlog_pos), 0);
  assert_int_equal(gtid_list_parse("1-1-100,2-2-40", &db2.status.slave_pos), 0);
  double domain;
  assert_true(pair_transactions_behind(&db2.node, &db1.node, &domain) == 20);
  assert_true(domain == 1);
  gtid_list_clear(&db2.status.slave_pos);
  assert_true(pair_transactions_behind(&db2.node, &db1.node, &domain) == 120);
  db1.status.known = false;
  assert_true(isnan(pair_transactions_behind(&db2.node, &db1.node, &domain)));
  gtid_list_clear(&db1.status.binlog_pos);
}

static void test_links_and_stall(void **state) {
  (void)state;
  struct fake db1, db2;
  fake_init(&db1, "db1", 1, 1);
  fake_init(&db2, "db2", 2, 2);
  assert_true(pair_link_up(&db2.node, "db1") == 0); /* missing entirely: 0, not absent */
  db2.link = (struct replica_status){
      .source = (char *)"db1", .io_state = IO_STATE_YES, .sql_running = true, .progress_unix = 100};
  db2.status.replicas = &db2.link;
  db2.status.n_replicas = 1;
  assert_true(pair_link_up(&db2.node, "db1") == 1);
  assert_ptr_equal(pair_find_link(&db2.node, "db1"), &db2.link);
  db2.link.sql_running = false;
  assert_true(pair_link_up(&db2.node, "db1") == 0);
  db2.status.known = false;
  assert_true(isnan(pair_link_up(&db2.node, "db1")));
  db2.status.known = true;

  /* Stall: IO Yes, no progress for 5 s > 3 s, and db1 wrote what db2 has not received. */
  assert_int_equal(gtid_list_parse("1-1-50", &db1.status.binlog_pos), 0);
  assert_int_equal(gtid_list_parse("1-1-45", &db2.link.gtid_io_pos), 0);
  db2.status.read_unix = 105;
  assert_true(pair_stalled(&db2.node, &db2.link, &db1.node, 3) == 1);
  db2.status.read_unix = 102; /* only 2 s */
  assert_true(pair_stalled(&db2.node, &db2.link, &db1.node, 3) == 0);
  db2.status.read_unix = 105;
  gtid_list_clear(&db2.link.gtid_io_pos);
  assert_int_equal(gtid_list_parse("1-1-50", &db2.link.gtid_io_pos), 0); /* all received: idle */
  assert_true(pair_stalled(&db2.node, &db2.link, &db1.node, 3) == 0);
  gtid_list_clear(&db2.link.gtid_io_pos);
  db2.link.io_state = IO_STATE_CONNECTING; /* not Yes: a broken link, not a stalled one */
  assert_true(pair_stalled(&db2.node, &db2.link, &db1.node, 3) == 0);
  gtid_list_clear(&db1.status.binlog_pos);
}

/* What db2's connection from db1 says of db1, whatever replmon sees of db1. */
static double alive(struct fake *replica, double *silent_s) {
  return pair_source_alive(&replica->node, pair_find_link(&replica->node, "db1"), 1.0, silent_s);
}

static void test_source_alive(void **state) {
  (void)state;
  struct fake db1, db2;
  fake_init(&db1, "db1", 1, 1);
  fake_init(&db2, "db2", 2, 2);
  double silent;
  /* No connection from db1 at all: no evidence either way. */
  assert_true(isnan(alive(&db2, &silent)));
  assert_true(isnan(silent));
  /* Master heartbeats every 10 s: something arrived 9 s before the read, then 13.5 s (10 s
   * and a quarter, plus the poll interval); 13.6 s is too long. */
  db2.link = (struct replica_status){.source = (char *)"db1",
                                     .io_state = IO_STATE_YES,
                                     .sql_running = true,
                                     .heartbeat_period_s = 10,
                                     .progress_unix = 100};
  db2.status.replicas = &db2.link;
  db2.status.n_replicas = 1;
  db2.status.read_unix = 109;
  /* 100 is when replmon first saw the connection, not a move it saw: no evidence yet. */
  assert_true(isnan(alive(&db2, &silent)));
  db2.link.progress_seen = true;
  assert_true(alive(&db2, &silent) == 1);
  assert_true(fabs(silent - 9) < 1e-9);
  db2.status.read_unix = 113.5;
  assert_true(alive(&db2, &silent) == 1);
  db2.status.read_unix = 113.6;
  assert_true(alive(&db2, &silent) == 0);
  assert_true(fabs(silent - 13.6) < 1e-9);
  /* The IO thread lost the source: not alive, however recent the last heartbeat. */
  db2.status.read_unix = 101;
  db2.link.io_state = IO_STATE_CONNECTING;
  assert_true(alive(&db2, &silent) == 0);
  /* Stopped by an IO error, it lost the source too; stopped by an administrator
   * (STOP SLAVE, no error), it says nothing of it. */
  db2.link.io_state = IO_STATE_NO;
  db2.link.last_io_errno = 2003;
  assert_true(alive(&db2, &silent) == 0);
  db2.link.last_io_errno = 0;
  assert_true(isnan(alive(&db2, &silent)));
  db2.link.io_state = IO_STATE_YES;
  /* Heartbeats off (MASTER_HEARTBEAT_PERIOD=0): a quiet source sends nothing, and the IO
   * thread's Yes is all there is. */
  db2.link.heartbeat_period_s = 0;
  db2.status.read_unix = 500;
  assert_true(alive(&db2, &silent) == 1);
  db2.link.heartbeat_period_s = NAN;
  assert_true(alive(&db2, &silent) == 1);
  db2.link.progress_seen = false; /* but not on first sight */
  assert_true(isnan(alive(&db2, &silent)));
  db2.link.progress_seen = true;
  /* db2's own state unknown (its poll failed): nobody can tell. */
  db2.node.up = false;
  db2.status.known = false;
  assert_true(isnan(alive(&db2, &silent)));
}

/* db1 out of replmon's reach while db2 keeps hearing from it: the heartbeat lag of db2 from
 * db1 stops growing as if db1 were frozen, and becomes unknown. */
static void test_lag_of_unreachable_source(void **state) {
  (void)state;
  struct fake db1, db2;
  fake_init(&db1, "db1", 1, 1);
  fake_init(&db2, "db2", 2, 2);
  wrote(&db1, 980, 1000);
  db1.status.memory.read_unix = 1000.0; /* replmon's last good read of db1 */
  db1.node.up = false;
  db1.status.known = false;
  db1.node.polled_unix = 1003.0;
  db2.rows[0] = (struct heartbeat_row){1, 1003.5}; /* db1's write of 1000.0 */
  db2.status.n_heartbeats = 1;
  db2.link = (struct replica_status){.source = (char *)"db1",
                                     .io_state = IO_STATE_YES,
                                     .sql_running = true,
                                     .heartbeat_period_s = 1,
                                     .progress_seen = true};
  db2.status.replicas = &db2.link;
  db2.status.n_replicas = 1;
  db2.status.read_unix = 1004.0;
  /* The last thing from db1 arrived 2.5 s after replmon's last read: a frozen db1 could
   * still have sent it (its next poll was due at 1001, seen by db2's poll up to 1002.5). */
  db2.link.progress_unix = 1002.5;
  assert_true(fabs(lag(&db2, &db1, true) - 3.5) < 1e-9);
  /* 2.6 s after: db1 is alive and only unreachable from replmon. */
  db2.link.progress_unix = 1002.6;
  assert_true(isnan(lag(&db2, &db1, true)));
  /* Then db2 stops hearing from it as well (nothing for 2.4 s > 1.25 + 1): the lag grows
   * again from replmon's last heartbeat, as for a frozen source. */
  db2.status.read_unix = 1005.0;
  assert_true(fabs(lag(&db2, &db1, true) - 4.5) < 1e-9);
  /* Or its IO thread reconnects. */
  db2.status.read_unix = 1004.0;
  db2.link.io_state = IO_STATE_CONNECTING;
  assert_true(fabs(lag(&db2, &db1, true) - 3.5) < 1e-9);
}

static void horizon_is(struct fake *replica, struct fake *source, double lag_s, double written,
                       double left_s, double retention_s) {
  struct binlog_horizon h;
  pair_binlog_horizon(&replica->node, replica->status.n_replicas ? &replica->link : NULL,
                      &source->node, lag_s, written, 600, &h);
  if (isnan(left_s))
    assert_true(isnan(h.left_s));
  else
    assert_true(h.left_s == left_s);
  if (isnan(retention_s))
    assert_true(isnan(h.retention_s));
  else
    assert_true(h.retention_s == retention_s);
}

static void test_binlog_horizon(void **state) {
  (void)state;
  struct fake db1, db2;
  fake_init(&db1, "db1", 1, 1);
  fake_init(&db2, "db2", 2, 2);
  /* db2 reads from db1, which keeps binlogs an hour; db2 received its last at 1000. */
  db1.status.memory.binlog_retention = (struct mariadb_binlog_retention){3600, NAN, 1e6};
  db2.link = (struct replica_status){.source = (char *)"db1",
                                     .io_state = IO_STATE_YES,
                                     .sql_running = true,
                                     .last_io_errno = 0,
                                     .last_sql_errno = 0,
                                     .progress_unix = 1000};
  db2.status.replicas = &db2.link;
  db2.status.n_replicas = 1;
  db2.status.read_unix = 1600;
  horizon_is(&db2, &db1, NAN, NAN, NAN, 3600); /* healthy: no horizon, the retention shown */

  /* Broken (STOP SLAVE) for 600 s: an hour less 10 minutes. */
  db2.link.io_state = IO_STATE_NO;
  db2.link.sql_running = false;
  horizon_is(&db2, &db1, NAN, NAN, 3000, 3600);
  /* The SQL thread stopped earlier than the IO thread: a restarted IO thread fetches from
   * what was applied, 900 s behind. */
  horizon_is(&db2, &db1, 900, NAN, 2700, 3600);
  horizon_is(&db2, &db1, 100, NAN, 3000, 3600);
  /* Only the SQL thread stopped: the IO thread goes on receiving. */
  db2.link.io_state = IO_STATE_YES;
  db2.link.progress_unix = 1600;
  horizon_is(&db2, &db1, 900, NAN, 2700, 3600);
  horizon_is(&db2, &db1, NAN, NAN, NAN, 3600); /* what it applied unknown: no horizon */
  db2.link.io_state = IO_STATE_NO;
  db2.link.progress_unix = 1000;
  /* Past the expiry: 0, never below. */
  db2.status.read_unix = 1000 + 7200;
  horizon_is(&db2, &db1, NAN, NAN, 0, 3600);
  db2.status.read_unix = 1600;

  /* The source never purges by age (expire 0) and has no size limit: +Inf, a known value. */
  db1.status.memory.binlog_retention.expire_s = 0;
  horizon_is(&db2, &db1, NAN, NAN, INFINITY, INFINITY);
  db1.status.memory.binlog_retention.max_total_size_bytes = 0; /* 0: no limit either */
  horizon_is(&db2, &db1, NAN, NAN, INFINITY, INFINITY);

  /* max_binlog_total_size 1000 bytes, 250 written in the 600 s since the break: the limit
   * is reached 2400 s after the break, 1800 s from now, sooner than an hour's expiry. */
  db1.status.memory.binlog_retention.max_total_size_bytes = 1000;
  db1.status.memory.binlog_retention.expire_s = 3600;
  horizon_is(&db2, &db1, NAN, 250, 1800, 2400);
  horizon_is(&db2, &db1, NAN, 100, 3000, 3600); /* 6000 s by size: the expiry first */
  horizon_is(&db2, &db1, NAN, 0, 3000, 3600);   /* nothing written: the expiry */
  horizon_is(&db2, &db1, NAN, 1500, 0, 600);    /* beyond the limit already */
  /* The rate is taken over the time replmon counted the bytes, not the whole break: 250
   * bytes in the last 300 s leave 750 bytes for 900 s. */
  struct binlog_horizon h;
  pair_binlog_horizon(&db2.node, &db2.link, &db1.node, NAN, 250, 300, &h);
  assert_true(h.left_s == 900 && h.retention_s == 1500);
  horizon_is(&db2, &db1, NAN, NAN, NAN, NAN); /* a limit, and writes unknown */
  db1.status.memory.binlog_retention.expire_s = 0;
  horizon_is(&db2, &db1, NAN, 250, 1800, 2400); /* the size bound alone */
  horizon_is(&db2, &db1, NAN, 0, INFINITY, INFINITY);
  db1.status.memory.binlog_retention = (struct mariadb_binlog_retention){3600, NAN, 1e6};

  /* Error 1236: the source has purged what the replica asks for. */
  db2.link.io_state = IO_STATE_CONNECTING;
  db2.link.last_io_errno = 1236;
  horizon_is(&db2, &db1, NAN, NAN, 0, 3600);
  db2.link.last_io_errno = 0;

  /* Unknown: the replica's state, the source's retention, when the link last progressed. */
  db2.status.known = false;
  horizon_is(&db2, &db1, NAN, NAN, NAN, 3600);
  db2.status.known = true;
  db2.link.progress_unix = NAN;
  horizon_is(&db2, &db1, NAN, NAN, NAN, 3600);
  horizon_is(&db2, &db1, 900, NAN, 2700, 3600); /* the heartbeat lag alone says */
  db2.link.progress_unix = 1000;
  db1.status.memory.binlog_retention.expire_s = NAN;
  horizon_is(&db2, &db1, NAN, NAN, NAN, NAN);
  db1.status.memory.binlog_retention.expire_s = 3600;
  db1.node.status = NULL; /* never polled */
  horizon_is(&db2, &db1, NAN, NAN, NAN, NAN);
  db1.node.status = &db1.status;
  /* A missing link has no horizon: there is nothing to resume. */
  db2.status.n_replicas = 0;
  horizon_is(&db2, &db1, NAN, NAN, NAN, 3600);
}

static void check_with(enum pair_check check, struct fake *nodes, size_t n, bool ap,
                       bool semisync_required, double expected, const char *reason_part) {
  struct pair_node list[4];
  for (size_t i = 0; i < n; i++)
    list[i] = nodes[i].node;
  char *reason = NULL;
  double ok = pair_check(check, list, n, ap, semisync_required, &reason);
  if (isnan(expected)) {
    assert_true(isnan(ok));
  } else {
    assert_true(ok == expected);
  }
  if (reason_part) {
    assert_non_null(reason);
    if (!strstr(reason, reason_part))
      fail_msg("%s: reason '%s' lacks '%s'", pair_check_name(check), reason, reason_part);
  } else {
    assert_null(reason);
  }
  free(reason);
}

static void check_is(enum pair_check check, struct fake *nodes, size_t n, bool ap, double expected,
                     const char *reason_part) {
  check_with(check, nodes, n, ap, false, expected, reason_part);
}

static void test_checks(void **state) {
  (void)state;
  struct fake n[3];
  fake_init(&n[0], "db1", 1, 1);
  fake_init(&n[1], "db2", 2, 2);
  for (int c = 0; c < CHECK_COUNT; c++) /* semi-sync is not asked for here: no verdict */
    check_is((enum pair_check)c, n, 2, false, c == CHECK_SEMISYNC_ACTIVE ? NAN : 1, NULL);

  n[1].status.server_id = 1;
  check_is(CHECK_SERVER_ID_UNIQUE, n, 2, false, 0, "both have server_id 1");
  n[1].status.server_id = 2;

  n[1].status.gtid_domain_id = 1;
  check_is(CHECK_GTID_DOMAIN_PER_WRITER, n, 2, false, 0, "share gtid_domain_id 1");
  n[1].status.read_only = 1; /* a read-only node may share the domain */
  check_is(CHECK_GTID_DOMAIN_PER_WRITER, n, 2, true, 1, NULL);
  n[1].status.read_only = 0;
  n[1].status.gtid_domain_id = 2;

  n[1].status.auto_increment_offset = 1;
  check_is(CHECK_AUTO_INCREMENT_SAFE, n, 2, false, 0, "same AUTO_INCREMENT values");
  n[1].status.auto_increment_offset = 3; /* 3 mod 2 == 1 mod 2 */
  check_is(CHECK_AUTO_INCREMENT_SAFE, n, 2, false, 0, "same AUTO_INCREMENT values");
  n[1].status.auto_increment_offset = 2;
  n[0].status.auto_increment_increment = n[1].status.auto_increment_increment = 1;
  check_is(CHECK_AUTO_INCREMENT_SAFE, n, 2, false, 0, "at least 2");
  n[1].status.read_only = 1; /* one writer: nothing can collide */
  check_is(CHECK_AUTO_INCREMENT_SAFE, n, 2, true, 1, NULL);
  n[1].status.read_only = 0;
  n[0].status.auto_increment_increment = n[1].status.auto_increment_increment = 2;
  fake_init(&n[2], "db3", 3, 3); /* a third writer with increment 2 */
  n[2].status.auto_increment_offset = 3;
  check_is(CHECK_AUTO_INCREMENT_SAFE, n, 3, false, 0, "3 writable nodes");

  n[0].status.log_slave_updates = 0;
  check_is(CHECK_LOG_SLAVE_UPDATES_ON, n, 2, false, 0, "db1 has log_slave_updates OFF");
  n[0].status.log_slave_updates = 1;
  n[1].status.binlog_format = (char *)"MIXED";
  check_is(CHECK_BINLOG_FORMAT_ROW, n, 2, false, 0, "db2 has binlog_format MIXED");
  n[1].status.binlog_format = (char *)"ROW";

  check_is(CHECK_WRITERS_AS_INTENDED, n, 2, true, 0, "exactly one");
  n[1].status.read_only = 1;
  check_is(CHECK_WRITERS_AS_INTENDED, n, 2, true, 1, NULL);
  check_is(CHECK_WRITERS_AS_INTENDED, n, 2, false, 0, "1 of 2 have read_only ON");
  n[1].status.read_only = 0;

  /* Only the nodes that answered count; none answering is unknown. */
  n[1].status.known = false;
  n[1].status.server_id = 1;
  check_is(CHECK_SERVER_ID_UNIQUE, n, 2, false, 1, NULL);
  n[0].status.known = false;
  check_is(CHECK_SERVER_ID_UNIQUE, n, 2, false, NAN, NULL);
}

/* Semi-sync on, acknowledged, with one semi-sync replica connected. */
static void semisync_on(struct fake *f) {
  f->status.semisync = (struct mariadb_semisync){.master_enabled = 1,
                                                 .slave_enabled = 1,
                                                 .master_timeout_s = 0.5,
                                                 .master_status = 1,
                                                 .slave_status = 1,
                                                 .master_clients = 1,
                                                 .master_yes_tx = 10,
                                                 .master_no_tx = 0};
}

static void reads_from(struct fake *f, const char *source) {
  f->link = (struct replica_status){
      .source = (char *)source, .io_state = IO_STATE_YES, .sql_running = true};
  f->status.replicas = &f->link;
  f->status.n_replicas = 1;
}

static void semisync_is(struct fake *nodes, size_t n, double expected, const char *reason_part) {
  check_with(CHECK_SEMISYNC_ACTIVE, nodes, n, false, true, expected, reason_part);
}

static void test_semisync_check(void **state) {
  (void)state;
  struct fake n[2];
  fake_init(&n[0], "db1", 1, 1);
  fake_init(&n[1], "db2", 2, 2);
  reads_from(&n[0], "db2");
  reads_from(&n[1], "db1");
  struct mariadb_semisync *db1 = &n[0].status.semisync, *db2 = &n[1].status.semisync;
  semisync_on(&n[0]);
  semisync_on(&n[1]);
  semisync_is(n, 2, 1, NULL);

  /* A pair that does not ask for semi-sync gets no verdict, whatever its state. */
  db1->master_status = 0;
  check_with(CHECK_SEMISYNC_ACTIVE, n, 2, false, false, NAN, NULL);

  /* db1 fell back: what happened, the timeout, the count, and what to look at. */
  db1->master_no_tx = 3;
  semisync_is(n, 2, 0, "db1 fell back to asynchronous replication");
  semisync_is(n, 2, 0, "within rpl_semi_sync_master_timeout (0.5 s)");
  char *first = NULL, *later = NULL; /* the reason stays the same as commits go on */
  struct pair_node list[2] = {n[0].node, n[1].node};
  pair_check(CHECK_SEMISYNC_ACTIVE, list, 2, false, true, &first);
  db1->master_no_tx = 9;
  pair_check(CHECK_SEMISYNC_ACTIVE, list, 2, false, true, &later);
  assert_string_equal(first, later);
  free(first);
  free(later);
  semisync_is(n, 2, 0, "check the replicas' IO threads");
  /* The writer's fall-back is named before the replica that caused it. */
  db2->slave_status = 0;
  n[1].link.io_state = IO_STATE_NO;
  semisync_is(n, 2, 0, "db1 fell back");
  db1->master_status = 1;
  semisync_is(n, 2, 0,
              "db2 acknowledges none of db1's commits: its IO thread reading from db1 is "
              "not running (state no)");
  n[1].link.io_state = IO_STATE_YES; /* running, but started before semi-sync was enabled */
  semisync_is(n, 2, 0, "db2's replication from db1 is not semi-synchronous");
  db2->slave_enabled = 0;
  semisync_is(n, 2, 0, "db2 replicates from db1 but has rpl_semi_sync_slave_enabled OFF");
  semisync_on(&n[1]);

  db1->master_enabled = 0;
  semisync_is(n, 2, 0, "db1 takes writes but has rpl_semi_sync_master_enabled OFF");
  db1->master_enabled = NAN; /* a server without semi-sync */
  semisync_is(n, 2, 0, "rpl_semi_sync_master_enabled unknown");

  /* Active-passive: the read-only db2 need not wait for db1, nor db1 acknowledge db2. */
  n[1].status.read_only = 1;
  db1->master_enabled = 1;
  db2->master_enabled = db2->master_status = 0;
  db1->slave_enabled = db1->slave_status = 0;
  semisync_is(n, 2, 1, NULL);
  n[1].status.read_only = 0;
  semisync_on(&n[0]);
  semisync_on(&n[1]);

  /* A writer nobody reads from has nothing to wait for, and a node that reads from nobody
   * nothing to acknowledge. */
  db2->master_enabled = db2->master_status = 0;
  db1->slave_enabled = db1->slave_status = 0;
  semisync_is(n, 2, 0, "db2 takes writes but has rpl_semi_sync_master_enabled OFF");
  n[0].status.n_replicas = 0; /* db1 no longer reads from db2 */
  semisync_is(n, 2, 1, NULL);
  reads_from(&n[0], "db2");
  reads_from(&n[1], "db1");
  semisync_on(&n[0]);
  semisync_on(&n[1]);

  /* A replica that stopped answering still has its connection: db1 must still wait for it,
   * while its own side is not judged until it answers. */
  n[1].status.known = false;
  db2->slave_enabled = 0;
  semisync_is(n, 2, 1, NULL);
  db1->master_status = 0;
  semisync_is(n, 2, 0, "db1 fell back");
  n[0].status.known = false;
  semisync_is(n, 2, NAN, NULL);
}

static struct pair_node *nodes_of(struct fake *f, size_t n, struct pair_node *list) {
  for (size_t i = 0; i < n; i++)
    list[i] = f[i].node;
  return list;
}

/* A GTID in a writer's domain from another server_id counts on every node that holds it. */
static void test_errant_foreign(void **state) {
  (void)state;
  struct fake f[3];
  struct pair_node nodes[3];
  uint32_t domains[3];
  fake_init(&f[0], "db1", 1, 1);
  fake_init(&f[1], "db2", 2, 2);
  /* Healthy: each server writes in its own domain; domain 0 is from before the domains were
   * set and has no writer, so it is not judged. */
  assert_int_equal(gtid_list_parse("0-1-9,0-2-4,1-1-120,2-2-40", &f[0].status.binlog_state), 0);
  assert_int_equal(gtid_list_parse("0-1-9,0-2-4,1-1-120,2-2-40", &f[1].status.binlog_state), 0);
  assert_int_equal(pair_writer_domains(nodes_of(f, 2, nodes), 2, domains), 2);
  assert_true(domains[0] == 1 && domains[1] == 2);
  for (size_t i = 0; i < 2; i++)
    for (uint32_t d = 0; d <= 2; d++)
      assert_true(d == 0 ? isnan(pair_foreign_gtids(nodes, 2, i, d))
                         : pair_foreign_gtids(nodes, 2, i, d) == 0);

  /* db2 wrote in db1's domain (SET SESSION gtid_domain_id=1); db1 applied it too. */
  gtid_list_clear(&f[0].status.binlog_state);
  gtid_list_clear(&f[1].status.binlog_state);
  assert_int_equal(gtid_list_parse("1-1-120,1-2-121,2-2-40", &f[0].status.binlog_state), 0);
  assert_int_equal(gtid_list_parse("1-1-120,1-2-121,2-2-40", &f[1].status.binlog_state), 0);
  nodes_of(f, 2, nodes);
  assert_true(pair_foreign_gtids(nodes, 2, 0, 1) == 1);
  assert_true(pair_foreign_gtids(nodes, 2, 1, 1) == 1);
  assert_true(pair_foreign_gtids(nodes, 2, 0, 2) == 0);
  /* A third server (a former node) in domain 2 counts as well. */
  gtid_list_clear(&f[1].status.binlog_state);
  assert_int_equal(gtid_list_parse("1-1-120,1-2-121,2-2-40,2-7-3", &f[1].status.binlog_state), 0);
  nodes_of(f, 2, nodes);
  assert_true(pair_foreign_gtids(nodes, 2, 1, 2) == 1);

  /* Active-passive sharing one domain: both servers are its writers. */
  f[1].status.gtid_domain_id = f[1].status.memory.gtid_domain_id = 1;
  nodes_of(f, 2, nodes);
  assert_int_equal(pair_writer_domains(nodes, 2, domains), 1);
  assert_true(pair_foreign_gtids(nodes, 2, 0, 1) == 0);
  f[1].status.gtid_domain_id = f[1].status.memory.gtid_domain_id = 2;

  /* A node that does not answer: its own count is unknown, its identity comes from memory. */
  f[1].status.known = false;
  nodes_of(f, 2, nodes);
  assert_true(isnan(pair_foreign_gtids(nodes, 2, 1, 1)));
  assert_true(pair_foreign_gtids(nodes, 2, 0, 1) == 1);
  f[1].status.known = true;
  /* A node never polled: no domain can be told from an errant one. */
  nodes_of(f, 2, nodes);
  nodes[1].status = NULL;
  assert_int_equal(pair_writer_domains(nodes, 2, domains), 0);
  assert_true(isnan(pair_foreign_gtids(nodes, 2, 0, 1)));
  gtid_list_clear(&f[0].status.binlog_state);
  gtid_list_clear(&f[1].status.binlog_state);
}

/* The replica ahead of its source, judged only when the source was read after the replica. */
static void test_errant_ahead(void **state) {
  (void)state;
  struct fake db1, db2;
  fake_init(&db1, "db1", 1, 1);
  fake_init(&db2, "db2", 2, 2);
  db1.status.read_spread_s = db2.status.read_spread_s = 0.001;
  assert_int_equal(gtid_list_parse("1-1-120,2-2-40", &db1.status.binlog_pos), 0);
  assert_int_equal(gtid_list_parse("1-1-120,2-2-40", &db2.status.slave_pos), 0);

  /* db2 read at 100, db1 (the source) at 100.5: comparable, caught up. */
  db2.status.read_unix = 100;
  db1.status.read_unix = 100.5;
  struct pair_ahead a = pair_ahead_of_source(&db2.node, &db1.node, PAIR_AHEAD_UNKNOWN);
  assert_true(a.by == 0 && a.domain == 1);

  /* A healthy replica that applied more after the source's older read: not judged (the
   * source's binlog grew in between), the last judgement stays. */
  gtid_list_clear(&db2.status.slave_pos);
  assert_int_equal(gtid_list_parse("1-1-125", &db2.status.slave_pos), 0);
  db2.status.read_unix = 101;
  a = pair_ahead_of_source(&db2.node, &db1.node, a);
  assert_true(a.by == 0);
  assert_true(isnan(pair_ahead_of_source(&db2.node, &db1.node, PAIR_AHEAD_UNKNOWN).by));
  /* Reads that overlap (within their spreads) do not order either. */
  db1.status.read_unix = 101.0015;
  assert_true(isnan(pair_ahead_of_source(&db2.node, &db1.node, PAIR_AHEAD_UNKNOWN).by));

  /* Source read later, and its binlog is behind what the replica applied: ahead by 5. */
  db1.status.read_unix = 101.5;
  a = pair_ahead_of_source(&db2.node, &db1.node, a);
  assert_true(a.by == 5);
  assert_true(a.applied.server_id == 1 && a.applied.seq == 125 && a.produced.seq == 120);
  /* Kept while the reads cannot be compared, or the source does not answer. */
  db2.status.read_unix = 102;
  assert_true(pair_ahead_of_source(&db2.node, &db1.node, a).by == 5);
  db2.status.read_unix = 101;
  db1.status.known = false;
  assert_true(pair_ahead_of_source(&db2.node, &db1.node, a).by == 5);
  db1.status.known = true;
  /* The source wrote past it: no longer ahead. */
  gtid_list_clear(&db1.status.binlog_pos);
  assert_int_equal(gtid_list_parse("1-1-126", &db1.status.binlog_pos), 0);
  db1.status.read_unix = 102.5;
  assert_true(pair_ahead_of_source(&db2.node, &db1.node, a).by == 0);
  /* A source that never wrote in its domain: everything applied there is ahead. */
  gtid_list_clear(&db1.status.binlog_pos);
  assert_true(pair_ahead_of_source(&db2.node, &db1.node, a).by == 125);

  /* Both nodes in one domain (two writers there): not judged. */
  db2.status.gtid_domain_id = 1;
  assert_true(isnan(pair_ahead_of_source(&db2.node, &db1.node, a).by));
  db2.status.gtid_domain_id = 2;

  /* The count adds the ahead links in the source's domain to the foreign entries. */
  struct pair_node nodes[2] = {db1.node, db2.node};
  struct pair_link_ahead links[] = {{1, 0, a}};
  assert_true(pair_errant_transactions(nodes, 2, 1, 1, links, 1) == 5);
  assert_true(pair_errant_transactions(nodes, 2, 1, 2, links, 1) == 0);
  assert_true(pair_errant_transactions(nodes, 2, 0, 1, links, 1) == 0);
  links[0].ahead = PAIR_AHEAD_UNKNOWN; /* not judged yet: adds nothing */
  assert_true(pair_errant_transactions(nodes, 2, 1, 1, links, 1) == 0);
  gtid_list_clear(&db2.status.slave_pos);
}

/* no_errant_gtid names the GTIDs, once each, and its reason does not change from poll to poll
 * while they stay. */
static void test_errant_check(void **state) {
  (void)state;
  struct fake f[2];
  struct pair_node nodes[2];
  fake_init(&f[0], "db1", 1, 1);
  fake_init(&f[1], "db2", 2, 2);
  assert_int_equal(gtid_list_parse("1-1-120,2-2-40", &f[0].status.binlog_state), 0);
  assert_int_equal(gtid_list_parse("1-1-120,1-2-121,2-2-40", &f[1].status.binlog_state), 0);
  check_is(
      CHECK_NO_ERRANT_GTID, f, 2, false, 0,
      "errant GTID 1-2-121: server_id 2 wrote in domain 1, which belongs to db1 (server_id 1)");
  /* db1 applied it and wrote more: the same reason. */
  gtid_list_clear(&f[0].status.binlog_state);
  assert_int_equal(gtid_list_parse("1-1-130,1-2-121,2-2-40", &f[0].status.binlog_state), 0);
  char *first = NULL, *second = NULL;
  assert_true(pair_check_errant(nodes_of(f, 2, nodes), 2, NULL, 0, &first) == 0);
  gtid_list_clear(&f[0].status.binlog_state);
  assert_int_equal(gtid_list_parse("1-1-131,1-2-121,2-2-41", &f[0].status.binlog_state), 0);
  assert_true(pair_check_errant(nodes_of(f, 2, nodes), 2, NULL, 0, &second) == 0);
  assert_string_equal(first, second);
  assert_null(strstr(strstr(first, "1-2-121") + 1, "1-2-121")); /* once, though both hold it */
  free(first);
  free(second);

  /* A replica ahead of its source fails it too, naming what it applied. */
  gtid_list_clear(&f[1].status.binlog_state);
  assert_int_equal(gtid_list_parse("1-1-120,2-2-40", &f[1].status.binlog_state), 0);
  gtid_list_clear(&f[0].status.binlog_state);
  assert_int_equal(gtid_list_parse("1-1-120,2-2-40", &f[0].status.binlog_state), 0);
  check_is(CHECK_NO_ERRANT_GTID, f, 2, false, 1, NULL);
  struct pair_link_ahead links[] = {
      {0, 1, {.by = 3, .domain = 2, .applied = {2, 2, 43}, .produced = {2, 2, 40}}}};
  char *reason = NULL;
  assert_true(pair_check_errant(nodes_of(f, 2, nodes), 2, links, 1, &reason) == 0);
  assert_non_null(strstr(reason, "db1 applied 2-2-43, which db2's binlog does not have"));
  free(reason);

  /* Unknown while a node's identity is; NaN when nobody answered. */
  nodes_of(f, 2, nodes);
  nodes[1].status = NULL;
  assert_true(isnan(pair_check_errant(nodes, 2, NULL, 0, &reason)));
  assert_null(reason);
  f[0].status.known = f[1].status.known = false;
  check_is(CHECK_NO_ERRANT_GTID, f, 2, false, NAN, NULL);
  gtid_list_clear(&f[0].status.binlog_state);
  gtid_list_clear(&f[1].status.binlog_state);
}

static void test_error_classes(void **state) {
  (void)state;
  static const struct {
    double io, sql;
    enum error_class expected;
  } cases[] = {{0, 1062, ERROR_DUPLICATE_KEY}, {0, 1032, ERROR_ROW_NOT_FOUND},
               {2003, 0, ERROR_CONNECT},       {2013, 0, ERROR_CONNECT},
               {1045, 0, ERROR_AUTH},          {1236, 0, ERROR_BINLOG_PURGED},
               {0, 1146, ERROR_OTHER}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct replica_status r = {.last_io_errno = cases[i].io, .last_sql_errno = cases[i].sql};
    bool classes[ERROR_CLASS_COUNT];
    replica_error_classes(&r, classes);
    for (int k = 0; k < ERROR_CLASS_COUNT; k++)
      assert_int_equal(classes[k], k == (int)cases[i].expected);
  }
  struct replica_status clean = {.last_io_errno = 0, .last_sql_errno = NAN};
  bool classes[ERROR_CLASS_COUNT];
  replica_error_classes(&clean, classes);
  for (int k = 0; k < ERROR_CLASS_COUNT; k++)
    assert_false(classes[k]);
  assert_string_equal(error_class_name(ERROR_DUPLICATE_KEY), "duplicate_key");
  assert_string_equal(error_class_name(ERROR_BINLOG_PURGED), "binlog_purged");
}

/* Which figure a link's lag comes from: heartbeat, else Master_Slave_time_diff, else
 * Seconds_Behind_Master; a NULL falls through to the next one known. */
static void test_lag_method(void **state) {
  (void)state;
  struct replica_status v10_11 = {.seconds_behind_master = 4, .time_diff_seconds = NAN};
  struct replica_status v11_8 = {
      .seconds_behind_master = 8, .time_diff_seconds = 9, .has_time_diff = true};
  enum lag_method method;

  assert_true(pair_link_lag(&v11_8, 2.5, &method) == 2.5);
  assert_int_equal(method, LAG_HEARTBEAT);
  assert_true(pair_link_lag(&v11_8, NAN, &method) == 9);
  assert_int_equal(method, LAG_TIME_DIFF);
  /* 11.8 reads time_diff 0, not NULL, while the IO thread is stopped: not a lag of 0. */
  v11_8.io_state = IO_STATE_NO;
  v11_8.time_diff_seconds = 0;
  v11_8.seconds_behind_master = NAN;
  assert_true(isnan(pair_link_lag(&v11_8, NAN, &method)));
  assert_int_equal(method, LAG_TIME_DIFF);
  v11_8.io_state = IO_STATE_YES;
  v11_8.time_diff_seconds = 9;
  v11_8.seconds_behind_master = 8;
  assert_true(pair_link_lag(&v10_11, NAN, &method) == 4);
  assert_int_equal(method, LAG_SECONDS_BEHIND_MASTER);
  assert_true(pair_link_lag(&v10_11, 0, &method) == 0);
  assert_int_equal(method, LAG_HEARTBEAT);

  /* 11.8 before its first event: time_diff NULL, Seconds_Behind_Master known. */
  v11_8.time_diff_seconds = NAN;
  assert_true(pair_link_lag(&v11_8, NAN, &method) == 8);
  assert_int_equal(method, LAG_SECONDS_BEHIND_MASTER);
  /* Nothing known: NaN, and the method the server would give stays put. */
  v11_8.seconds_behind_master = NAN;
  assert_true(isnan(pair_link_lag(&v11_8, NAN, &method)));
  assert_int_equal(method, LAG_TIME_DIFF);
  v10_11.seconds_behind_master = NAN;
  assert_true(isnan(pair_link_lag(&v10_11, NAN, &method)));
  assert_int_equal(method, LAG_SECONDS_BEHIND_MASTER);
  /* A zeroed status (has_time_diff false) never reads its 0 as a time_diff. */
  struct replica_status zeroed = {.seconds_behind_master = 3};
  assert_true(pair_link_lag(&zeroed, NAN, &method) == 3);
  /* A missing link: the heartbeat lag if any, else nothing. */
  assert_true(pair_link_lag(NULL, 1, &method) == 1);
  assert_int_equal(method, LAG_HEARTBEAT);
  assert_true(isnan(pair_link_lag(NULL, NAN, NULL)));

  assert_string_equal(lag_method_name(LAG_HEARTBEAT), "heartbeat");
  assert_string_equal(lag_method_name(LAG_TIME_DIFF), "time_diff");
  assert_string_equal(lag_method_name(LAG_SECONDS_BEHIND_MASTER), "seconds_behind_master");
}

static void test_datetime(void **state) {
  (void)state;
  assert_true(mariadb_parse_datetime("1970-01-01 00:00:01.500000") == 1.5);
  assert_true(mariadb_parse_datetime("2026-11-22T08:30:00") == 1795336200);
  assert_true(isnan(mariadb_parse_datetime("2026-11-22")));
  assert_true(isnan(mariadb_parse_datetime("2026-11-22 08:30:00x")));
  assert_true(isnan(mariadb_parse_datetime(NULL)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gtid_parser),
      cmocka_unit_test(test_heartbeat_lag_and_skew),
      cmocka_unit_test(test_transactions_behind),
      cmocka_unit_test(test_links_and_stall),
      cmocka_unit_test(test_source_alive),
      cmocka_unit_test(test_lag_of_unreachable_source),
      cmocka_unit_test(test_binlog_horizon),
      cmocka_unit_test(test_checks),
      cmocka_unit_test(test_semisync_check),
      cmocka_unit_test(test_errant_foreign),
      cmocka_unit_test(test_errant_ahead),
      cmocka_unit_test(test_errant_check),
      cmocka_unit_test(test_error_classes),
      cmocka_unit_test(test_lag_method),
      cmocka_unit_test(test_datetime),
  };
  return cmocka_run_group_tests_name("pair", tests, NULL, NULL);
}
