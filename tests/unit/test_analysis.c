/* The analysis of a snapshot beyond the pair: a node replmon cannot poll, unreachable or down
 * as its peer sees it, an XMPP node whose database is down, ejabberd's view of its own
 * cluster (members_agree), a delayed replica's lag, /health?max_lag= judging a node again,
 * the binlog horizon carried from one analysis to the next, the lag figure of a link without
 * a heartbeat table, and a failing s2s ping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analysis.h"
#include "helpers.h"

#include <math.h>
#include <string.h>

static const char yaml[] = "mariadb:\n"
                           "  - cluster: chatdb\n"
                           "    user: u\n"
                           "    nodes:\n"
                           "      - {name: db1, address: 'h:1'}\n"
                           "      - {name: db2, address: 'h:2'}\n"
                           "xmpp:\n"
                           "  - cluster: chat\n"
                           "    clustered: true\n"
                           "    nodes:\n"
                           "      - {name: ej1, type: ejabberd, api_url: 'http://h:1/api',"
                           " depends_on: [db1]}\n"
                           "      - {name: ej2, type: ejabberd, api_url: 'http://h:2/api',"
                           " depends_on: [db2]}\n";

enum { DB1, DB2, EJ1, EJ2 };

static struct target_result *db_down(void) {
  struct target_result *r = mariadb_result();
  r->reason = REASON_CONNECT;
  r->error = strdup("Can't connect");
  return r;
}

/* A healthy node of the pair: both threads of its link from the other node run. */
static struct target_result *db_up(const char *source, double id) {
  struct target_result *r = mariadb_result();
  r->success = true;
  struct mariadb_status *m = MARIADB(r);
  m->known = true;
  m->server_id = m->gtid_domain_id = m->auto_increment_offset = id;
  m->read_only = 0;
  m->auto_increment_increment = 2;
  m->log_bin = m->log_slave_updates = 1;
  m->binlog_format = strdup("ROW");
  struct replica_status *rep = add_replica(r, "", source);
  rep->io_state = IO_STATE_YES;
  rep->sql_running = true;
  return r;
}

/* db2 as it is when db1 is down: its IO thread from db1 reconnects. */
static struct target_result *db2_lost_db1(void) {
  struct target_result *r = db_up("db1", 2);
  MARIADB(r)->replicas[0].io_state = IO_STATE_CONNECTING;
  return r;
}

/* db2 read at 100 s, having last heard from db1 at heard_unix, db1 sending master heartbeats
 * every second. */
static struct target_result *db2_heard_db1(double heard_unix) {
  struct target_result *r = db_up("db1", 2);
  MARIADB(r)->read_unix = 100;
  MARIADB(r)->replicas[0].heartbeat_period_s = 1;
  MARIADB(r)->replicas[0].progress_unix = heard_unix;
  MARIADB(r)->replicas[0].progress_seen = true;
  return r;
}

/* An ejabberd API that answered, listing members (NULL: list_cluster not answered). */
static struct target_result *ejabberd(const char *members, double count) {
  struct target_result *r = xmpp_result();
  r->success = true;
  XMPP(r)->up = true;
  XMPP(r)->c2s_sessions = 3;
  if (members) {
    XMPP(r)->members = strdup(members);
    XMPP(r)->cluster_members = count;
  }
  return r;
}

static const struct node_health *health(struct snapshot_store *store, struct config *config,
                                        size_t target, struct snapshot **held) {
  snapshot_unref(*held);
  *held = snapshot_store_acquire(store);
  return analysis_target_health((*held)->analysis, config, target);
}

static double members_agree(const struct snapshot *s) {
  return s->analysis->groups[1]->xmpp_checks[XMPP_CHECK_MEMBERS_AGREE].ok;
}

static void test_database_down_makes_xmpp_warning(void **state) {
  (void)state;
  struct config *config = config_from_yaml(yaml);
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *s = NULL;
  assert_int_equal(snapshot_store_publish(store, config, DB1, db_up("db2", 1)), 0);
  assert_int_equal(snapshot_store_publish(store, config, DB2, db_up("db1", 2)), 0);
  assert_int_equal(snapshot_store_publish(store, config, EJ1, ejabberd("a,b", 2)), 0);
  assert_int_equal(snapshot_store_publish(store, config, EJ2, ejabberd("a,b", 2)), 0);
  const struct node_health *h = health(store, config, EJ1, &s);
  assert_int_equal(h->state, HEALTH_OK);
  assert_string_equal(h->reason, "answering, 3 sessions");

  /* db1 stops answering, and db2 lost it too: ej1 (on db1) is warning in the very
   * snapshot; ej2's database only has a broken link. */
  assert_int_equal(snapshot_store_publish(store, config, DB2, db2_lost_db1()), 0);
  assert_int_equal(snapshot_store_publish(store, config, DB1, db_down()), 0);
  h = health(store, config, EJ1, &s);
  assert_int_equal(h->state, HEALTH_WARNING);
  assert_string_equal(h->reason, "database db1 down: logins and offline messages fail");
  h = analysis_target_health(s->analysis, config, EJ2);
  assert_int_equal(h->state, HEALTH_WARNING);
  assert_string_equal(h->reason, "database db2 critical (replication from db1 broken: IO "
                                 "connecting, SQL yes): logins and offline messages may fail");

  /* ej1 cannot log users in meanwhile: critical, with the database named as the cause. */
  struct target_result *login_failing = xmpp_result();
  login_failing->reason = REASON_HTTP;
  login_failing->error = strdup("timeout");
  XMPP(login_failing)->up = false;
  assert_int_equal(snapshot_store_publish(store, config, EJ1, login_failing), 0);
  h = health(store, config, EJ1, &s);
  assert_int_equal(h->state, HEALTH_CRITICAL);
  assert_string_equal(h->reason, "API failing (http): timeout; database db1 down: logins and "
                                 "offline messages fail");
  assert_int_equal(snapshot_store_publish(store, config, EJ1, ejabberd("a,b", 2)), 0);

  /* db1 back: ej1 ok again. */
  assert_int_equal(snapshot_store_publish(store, config, DB1, db_up("db2", 1)), 0);
  h = health(store, config, EJ1, &s);
  assert_int_equal(h->state, HEALTH_OK);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

static void test_unreachable_versus_down(void **state) {
  (void)state;
  struct config *config = config_from_yaml(yaml);
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *s = NULL;
  assert_int_equal(snapshot_store_publish(store, config, DB1, db_up("db2", 1)), 0);
  assert_int_equal(snapshot_store_publish(store, config, DB2, db2_heard_db1(99.6)), 0);
  assert_int_equal(snapshot_store_publish(store, config, EJ1, ejabberd("a,b", 2)), 0);
  assert_int_equal(snapshot_store_publish(store, config, EJ2, ejabberd("a,b", 2)), 0);

  /* replmon loses db1 while db2 still hears from it: db1 serves, only replmon's path to it
   * is broken. A warning (/health answers 200), and ej1 on db1 is not affected. */
  assert_int_equal(snapshot_store_publish(store, config, DB1, db_down()), 0);
  const struct node_health *h = health(store, config, DB1, &s);
  assert_int_equal(h->state, HEALTH_WARNING);
  assert_string_equal(h->reason, "unreachable from replmon, alive per db2: Can't connect (db2 "
                                 "heard from it 0.4s before its last poll)");
  assert_true(s->analysis->groups[0]->links[1].source_alive == 1);
  assert_int_equal(analysis_target_health(s->analysis, config, EJ1)->state, HEALTH_OK);
  assert_int_equal(analysis_target_health(s->analysis, config, DB2)->state, HEALTH_OK);

  /* db2 heard nothing from db1 for 10 s, with a heartbeat every second: down. */
  assert_int_equal(snapshot_store_publish(store, config, DB2, db2_heard_db1(90)), 0);
  h = health(store, config, DB1, &s);
  assert_int_equal(h->state, HEALTH_CRITICAL);
  assert_string_equal(h->reason, "down: Can't connect; db2 heard nothing from it for 10.0s");
  assert_true(s->analysis->groups[0]->links[1].source_alive == 0);
  assert_int_equal(analysis_target_health(s->analysis, config, EJ1)->state, HEALTH_WARNING);

  /* Its IO thread lost db1: down. */
  assert_int_equal(snapshot_store_publish(store, config, DB2, db2_lost_db1()), 0);
  h = health(store, config, DB1, &s);
  assert_int_equal(h->state, HEALTH_CRITICAL);
  assert_string_equal(h->reason, "down: Can't connect; db2 lost it too (IO connecting)");

  /* replmon reaches neither: no peer can tell, both critical. */
  assert_int_equal(snapshot_store_publish(store, config, DB2, db_down()), 0);
  h = health(store, config, DB1, &s);
  assert_int_equal(h->state, HEALTH_CRITICAL);
  assert_string_equal(h->reason, "unreachable: Can't connect");
  assert_true(isnan(s->analysis->groups[0]->links[1].source_alive));
  assert_int_equal(analysis_target_health(s->analysis, config, DB2)->state, HEALTH_CRITICAL);
  assert_int_equal(analysis_target_health(s->analysis, config, EJ1)->state, HEALTH_WARNING);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

static void test_members_agree(void **state) {
  (void)state;
  struct config *config = config_from_yaml(yaml);
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *s = NULL;
  assert_int_equal(snapshot_store_publish(store, config, EJ1, ejabberd("a@h,b@h", 2)), 0);
  health(store, config, EJ1, &s);
  assert_true(members_agree(s) == 1); /* ej2 not polled yet: ej1 lists both */
  assert_int_equal(snapshot_store_publish(store, config, EJ2, ejabberd("a@h,b@h", 2)), 0);
  health(store, config, EJ1, &s);
  assert_true(members_agree(s) == 1);

  /* A split: each node lists only itself. Both are warning, with the views named. */
  assert_int_equal(snapshot_store_publish(store, config, EJ1, ejabberd("a@h", 1)), 0);
  assert_int_equal(snapshot_store_publish(store, config, EJ2, ejabberd("b@h", 1)), 0);
  const struct node_health *h = health(store, config, EJ2, &s);
  assert_true(members_agree(s) == 0);
  assert_int_equal(h->state, HEALTH_WARNING);
  assert_string_equal(h->reason, "check members_agree failed: ej1 lists 1 (a@h), ej2 lists 1 "
                                 "(b@h); 2 ejabberd nodes configured");

  /* Node 2 stopped: node 1 lists only itself. */
  struct target_result *gone = xmpp_result();
  gone->reason = REASON_CONNECT;
  gone->error = strdup("refused");
  assert_int_equal(snapshot_store_publish(store, config, EJ2, gone), 0);
  health(store, config, EJ1, &s);
  assert_true(members_agree(s) == 0);

  /* No node answered list_cluster: unknown. */
  assert_int_equal(snapshot_store_publish(store, config, EJ1, ejabberd(NULL, NAN)), 0);
  health(store, config, EJ1, &s);
  assert_true(isnan(members_agree(s)));
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

/* A delayed replica is judged by what it trails beyond its SQL_Delay (Seconds_Behind_Master
 * here: the pair has no heartbeat table), and is critical once that reaches lag_critical. */
static void test_delay_is_not_lag(void **state) {
  (void)state;
  struct config *config = config_from_yaml("global: {lag_warning: 3s, lag_critical: 5s}\n"
                                           "mariadb:\n"
                                           "  - cluster: chatdb\n"
                                           "    user: u\n"
                                           "    nodes:\n"
                                           "      - {name: db1, address: 'h:1'}\n"
                                           "      - {name: db2, address: 'h:2'}\n");
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *s = NULL;
  assert_int_equal(snapshot_store_publish(store, config, DB1, db_up("db2", 1)), 0);
  static const struct {
    double behind, delay, beyond;
    enum health_state state;
  } cases[] = {
      {9, 10, 0, HEALTH_OK},       /* keeps its delay: Seconds_Behind_Master counts it */
      {14, 10, 4, HEALTH_WARNING}, /* 4 s beyond it */
      {17, 10, 7, HEALTH_CRITICAL}, {7, 0, 7, HEALTH_CRITICAL}, /* no delay: the lag itself */
      {7, NAN, 7, HEALTH_CRITICAL},
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    struct target_result *r = db_up("db1", 2);
    MARIADB(r)->replicas[0].seconds_behind_master = cases[k].behind;
    MARIADB(r)->replicas[0].sql_delay_seconds = cases[k].delay;
    assert_int_equal(snapshot_store_publish(store, config, DB2, r), 0);
    const struct node_health *h = health(store, config, DB2, &s);
    assert_int_equal(h->state, cases[k].state);
    assert_true(h->lag_s == cases[k].beyond);
    const struct group_analysis *g = s->analysis->groups[0];
    for (size_t l = 0; l < g->n_links; l++)
      if (g->links[l].replica == 1)
        assert_true(g->links[l].lag_beyond_delay_s == cases[k].beyond);
  }
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

static void test_max_lag_judges_again(void **state) {
  (void)state;
  struct node_health h = {.kind = NODE_MARIADB, .replicating = true, .lag_s = 3};
  enum health_state st;
  char *reason = NULL;
  assert_int_equal(health_with_max_lag(&h, 5, 2, &st, &reason), 0);
  assert_int_equal(st, HEALTH_CRITICAL);
  assert_string_equal(reason, "lag 3.0s >= 2.0s");
  free(reason);
  assert_int_equal(health_with_max_lag(&h, 5, 10, &st, &reason), 0);
  assert_int_equal(st, HEALTH_OK);
  assert_string_equal(reason, "replicating, lag 3.0s");
  free(reason);
  h.link_problem = "replication from db2 broken: IO no, SQL yes";
  assert_int_equal(health_with_max_lag(&h, 5, 10, &st, &reason), 0);
  assert_int_equal(st, HEALTH_CRITICAL);
  assert_string_equal(reason, h.link_problem);
  free(reason);
}

/* A stream probe result whose c2s stream worked, with the c2s certificate's verdict
 * (problem NULL: verified), and an s2s stream that worked or failed. */
static struct target_result *stream_with(const char *c2s_problem, bool s2s_ok) {
  struct target_result *r = stream_result();
  struct xmpp_stream_status *st = STREAM(r);
  st->known = true;
  st->endpoints[XMPP_ENDPOINT_C2S] =
      (struct xmpp_tls_endpoint){.port = 5222,
                                 .stream_ok = true,
                                 .handshake_done = true,
                                 .verified = !c2s_problem,
                                 .tls_problem = c2s_problem ? strdup(c2s_problem) : NULL,
                                 .leaf_expiry_unix = 2e9,
                                 .earliest_expiry_unix = 2e9};
  st->endpoints[XMPP_ENDPOINT_S2S] = (struct xmpp_tls_endpoint){
      .port = 5269,
      .stream_ok = s2s_ok,
      .handshake_done = s2s_ok,
      .verified = s2s_ok,
      .error = s2s_ok ? NULL : strdup("connect to h:5269: Connection refused"),
      .leaf_expiry_unix = NAN,
      .earliest_expiry_unix = NAN};
  r->success = true; /* the poll is the c2s stream's */
  return r;
}

/* A certificate that is not verified makes the node warning with the reason, unless
 * tls.insecure_skip_verify; the s2s stream alone failing is a warning too (local users
 * still chat); c2s failing stays critical. */
static void test_certificates_make_xmpp_warning(void **state) {
  (void)state;
  static const char text[] = "xmpp:\n  - cluster: c\n    nodes:\n"
                             "      - {name: x, type: prosody, api_url: 'http://h/m', "
                             "c2s_address: h, s2s_address: h, domain: d}\n"
                             "      - {name: y, type: prosody, api_url: 'http://h/m', "
                             "c2s_address: h, s2s_address: h, domain: d, "
                             "tls: {insecure_skip_verify: true}}\n";
  enum { X_API, Y_API, X_STREAM, Y_STREAM };
  struct config *config = config_from_yaml(text);
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *s = NULL;
  for (int i = X_API; i <= Y_API; i++) {
    struct target_result *api = xmpp_result();
    api->success = XMPP(api)->up = true;
    XMPP(api)->c2s_sessions = 1;
    assert_int_equal(snapshot_store_publish(store, config, (size_t)i, api), 0);
  }
  assert_int_equal(snapshot_store_publish(store, config, X_STREAM, stream_with(NULL, true)), 0);
  assert_int_equal(snapshot_store_publish(store, config, Y_STREAM, stream_with("wrong name", true)),
                   0);
  const struct node_health *h = health(store, config, X_API, &s);
  assert_int_equal(h->state, HEALTH_OK);
  /* Skipping verification on y: its wrong name is shown, not judged. */
  h = analysis_target_health(s->analysis, config, Y_API);
  assert_int_equal(h->state, HEALTH_OK);

  assert_int_equal(snapshot_store_publish(store, config, X_STREAM, stream_with("wrong name", true)),
                   0);
  h = health(store, config, X_API, &s);
  assert_int_equal(h->state, HEALTH_WARNING);
  assert_string_equal(h->reason, "c2s certificate not verified: wrong name");

  assert_int_equal(snapshot_store_publish(store, config, X_STREAM, stream_with(NULL, false)), 0);
  h = health(store, config, X_API, &s);
  assert_int_equal(h->state, HEALTH_WARNING);
  assert_string_equal(h->reason, "s2s stream failing: connect to h:5269: Connection refused");

  struct target_result *c2s_down = stream_with(NULL, true);
  c2s_down->success = false;
  c2s_down->reason = REASON_CONNECT;
  c2s_down->error = strdup("connect to h:5222: Connection refused");
  STREAM(c2s_down)->endpoints[XMPP_ENDPOINT_C2S].stream_ok = false;
  assert_int_equal(snapshot_store_publish(store, config, X_STREAM, c2s_down), 0);
  h = health(store, config, X_API, &s);
  assert_int_equal(h->state, HEALTH_CRITICAL);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

static void test_bad_dependency(void **state) {
  (void)state;
  char path[] = "/tmp/replmon-test-analysis-XXXXXX";
  int fd = mkstemp(path);
  static const char text[] = "xmpp:\n  - cluster: c\n    nodes:\n"
                             "      - {name: x, type: prosody, api_url: 'http://h/m', "
                             "depends_on: [db9]}\n";
  assert_true(write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
  close(fd);
  struct config *config = NULL;
  char *error = NULL;
  assert_int_not_equal(config_load(path, &config, &error), 0);
  char expected[256];
  snprintf(expected, sizeof(expected),
           "%s:4:70: depends_on: 'db9' is not a MariaDB node of this configuration", path);
  assert_string_equal(error, expected);
  free(error);
  unlink(path);
}

/* Without a heartbeat table a node is judged by Master_Slave_time_diff where its server has
 * it (11.6+), else by Seconds_Behind_Master; each link says which. */
static void test_lag_without_heartbeat(void **state) {
  (void)state;
  struct config *config = config_from_yaml(yaml);
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *s = NULL;
  struct target_result *db1 = db_up("db2", 1); /* MariaDB 11.8 */
  MARIADB(db1)->replicas[0].has_time_diff = true;
  MARIADB(db1)->replicas[0].time_diff_seconds = 9;
  MARIADB(db1)->replicas[0].seconds_behind_master = 8;
  struct target_result *db2 = db_up("db1", 2); /* MariaDB 10.11 */
  MARIADB(db2)->replicas[0].seconds_behind_master = 4;
  assert_int_equal(snapshot_store_publish(store, config, DB1, db1), 0);
  assert_int_equal(snapshot_store_publish(store, config, DB2, db2), 0);

  const struct node_health *h = health(store, config, DB1, &s);
  assert_true(h->lag_s == 9);
  assert_string_equal(h->reason, "lag 9.0s >= 5.0s");
  assert_true(analysis_target_health(s->analysis, config, DB2)->lag_s == 4);
  const struct group_analysis *g = s->analysis->groups[0];
  assert_int_equal(g->n_links, 2);
  for (size_t l = 0; l < g->n_links; l++)
    assert_int_equal(g->links[l].lag_method,
                     g->links[l].replica == 0 ? LAG_TIME_DIFF : LAG_SECONDS_BEHIND_MASTER);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

/* db1 as a source keeping binlogs expire_s or max_bytes, having written bytes so far when
 * read at read_unix. */
static struct target_result *db1_writing(double expire_s, double max_bytes, double bytes,
                                         double read_unix) {
  struct target_result *r = db_up("db2", 1);
  MARIADB(r)->memory.binlog_retention =
      (struct mariadb_binlog_retention){expire_s, max_bytes, bytes};
  MARIADB(r)->read_unix = MARIADB(r)->memory.read_unix = read_unix;
  return r;
}

/* db2, read at 1600, with its link from db1 stopped since 1000 (or running). */
static struct target_result *db2_reading(bool running) {
  struct target_result *r = db_up("db1", 2);
  MARIADB(r)->read_unix = 1600;
  struct replica_status *rep = &MARIADB(r)->replicas[0];
  rep->progress_unix = 1000;
  rep->last_io_errno = rep->last_sql_errno = 0;
  if (!running) {
    rep->io_state = IO_STATE_NO;
    rep->sql_running = false;
  }
  return r;
}

static const struct link_analysis *db2_from_db1(const struct snapshot *s) {
  const struct group_analysis *g = s->analysis->groups[0];
  for (size_t l = 0; l < g->n_links; l++)
    if (g->links[l].replica == 1 && strcmp(g->links[l].source, "db1") == 0)
      return &g->links[l];
  fail();
  return NULL;
}

/* What the source wrote since the break is added up from one analysis to the next (the
 * size bound of the horizon), and the broken link's reason says when the binlogs go. */
static void test_binlog_horizon_across_analyses(void **state) {
  (void)state;
  struct config *config = config_from_yaml(yaml);
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *s = NULL;
  assert_int_equal(snapshot_store_publish(store, config, DB1, db1_writing(7200, 1000, 5000, 1000)),
                   0);
  assert_int_equal(snapshot_store_publish(store, config, DB2, db2_reading(false)), 0);
  const struct node_health *h = health(store, config, DB2, &s);
  const struct link_analysis *l = db2_from_db1(s);
  assert_true(l->source_written_since_break == 0); /* the break as first seen */
  assert_true(l->binlog_horizon.left_s == 6600);   /* nothing written: the age bound */
  assert_string_equal(h->reason, "replication from db1 broken: IO no, SQL no; db1 purges the "
                                 "binlogs it needs in about 110m");

  /* 250 bytes in the 600 s replmon has watched the break: the 1000-byte limit fills in
   * another 1800 s. */
  assert_int_equal(snapshot_store_publish(store, config, DB1, db1_writing(7200, 1000, 5250, 1600)),
                   0);
  h = health(store, config, DB2, &s);
  l = db2_from_db1(s);
  assert_true(l->source_written_since_break == 250);
  assert_true(l->binlog_horizon.left_s == 1800);
  assert_true(l->binlog_horizon.retention_s == 2400);
  assert_non_null(strstr(h->reason, "db1 purges the binlogs it needs in about 30m"));

  /* db1 restarted: its counter starts again from 0, and what it wrote since counts on. */
  assert_int_equal(snapshot_store_publish(store, config, DB1, db1_writing(7200, 1000, 50, 1700)),
                   0);
  health(store, config, DB2, &s);
  assert_true(db2_from_db1(s)->source_written_since_break == 300);

  /* db2 does not answer for a while: the count is kept, not started again. */
  assert_int_equal(snapshot_store_publish(store, config, DB2, db_down()), 0);
  health(store, config, DB2, &s);
  assert_true(isnan(db2_from_db1(s)->binlog_horizon.left_s)); /* db2's state unknown */
  assert_int_equal(snapshot_store_publish(store, config, DB2, db2_reading(false)), 0);
  health(store, config, DB2, &s);
  assert_true(db2_from_db1(s)->source_written_since_break == 300);

  /* The link runs again: nothing counted, no horizon, no word of it. */
  assert_int_equal(snapshot_store_publish(store, config, DB2, db2_reading(true)), 0);
  h = health(store, config, DB2, &s);
  l = db2_from_db1(s);
  assert_true(isnan(l->source_written_since_break));
  assert_true(isnan(l->binlog_horizon.left_s));
  assert_true(l->binlog_horizon.retention_s == 7200);
  assert_null(strstr(h->reason, "purge"));
  /* Broken again: counted from this break, not the last one. */
  assert_int_equal(snapshot_store_publish(store, config, DB2, db2_reading(false)), 0);
  health(store, config, DB2, &s);
  assert_true(db2_from_db1(s)->source_written_since_break == 0);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

/* A node of the pair read at read_unix with these GTID positions and binlog state. */
static struct target_result *db_read(const char *source, double id, double read_unix,
                                     const char *binlog_pos, const char *slave_pos,
                                     const char *binlog_state) {
  struct target_result *r = db_up(source, id);
  struct mariadb_status *m = MARIADB(r);
  m->read_unix = read_unix;
  m->read_spread_s = 0.001;
  assert_int_equal(gtid_list_parse(binlog_pos, &m->binlog_pos), 0);
  assert_int_equal(gtid_list_parse(slave_pos, &m->slave_pos), 0);
  assert_int_equal(gtid_list_parse(binlog_state, &m->binlog_state), 0);
  return r;
}

/* db2's errant transactions in domain 1 and the check, after a publish. */
static double errant_db2_domain1(struct snapshot_store *store, struct snapshot **held, double *ok) {
  snapshot_unref(*held);
  *held = snapshot_store_acquire(store);
  const struct group_analysis *g = (*held)->analysis->groups[0];
  assert_int_equal(g->n_domains, 2);
  assert_true(g->domains[0] == 1 && g->domains[1] == 2);
  assert_true(g->errant[0 * 2 + 0] == 0 && g->errant[0 * 2 + 1] == 0); /* db1 */
  assert_true(g->errant[1 * 2 + 1] == 0);                              /* db2, domain 2 */
  *ok = g->checks[CHECK_NO_ERRANT_GTID].ok;
  return g->errant[1 * 2 + 0];
}

/* db2 applied more in db1's domain than db1 wrote: judged when db1's read comes after db2's,
 * and that judgement kept through db2's next publish (no flapping); a foreign server_id in
 * db2's binlog state adds to it. */
static void test_errant_judged_across_publishes(void **state) {
  (void)state;
  struct config *config = config_from_yaml(yaml);
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *held = NULL;
  double ok;
  const char *state_ok = "1-1-10,2-2-5";
  assert_int_equal(
      snapshot_store_publish(store, config, DB1,
                             db_read("db2", 1, 100, "1-1-10,2-2-5", "2-2-5", state_ok)),
      0);
  /* db2 read after db1: its 1-1-15 cannot be compared with db1's older read. */
  assert_int_equal(
      snapshot_store_publish(store, config, DB2,
                             db_read("db1", 2, 100.5, "1-1-10,2-2-5", "1-1-15", state_ok)),
      0);
  assert_true(errant_db2_domain1(store, &held, &ok) == 0);
  assert_true(ok == 1);
  /* db1 read again later, still at 1-1-10: db2 is 5 ahead of its source. */
  assert_int_equal(
      snapshot_store_publish(store, config, DB1,
                             db_read("db2", 1, 101, "1-1-10,2-2-5", "2-2-5", state_ok)),
      0);
  assert_true(errant_db2_domain1(store, &held, &ok) == 5);
  assert_true(ok == 0);
  const char *reason = held->analysis->groups[0]->checks[CHECK_NO_ERRANT_GTID].reason;
  assert_non_null(strstr(reason, "db2 applied 1-1-15, which db1's binlog does not have"));
  /* db2 publishes again (read later than db1): the judgement stays. */
  assert_int_equal(
      snapshot_store_publish(store, config, DB2,
                             db_read("db1", 2, 101.5, "1-1-10,2-2-5", "1-1-15", state_ok)),
      0);
  assert_true(errant_db2_domain1(store, &held, &ok) == 5);
  assert_true(ok == 0);
  /* A GTID of server_id 2 in domain 1 in db2's state: one more. */
  assert_int_equal(snapshot_store_publish(
                       store, config, DB2,
                       db_read("db1", 2, 102, "1-2-11,2-2-5", "1-1-15", "1-1-10,1-2-11,2-2-5")),
                   0);
  assert_true(errant_db2_domain1(store, &held, &ok) == 6);
  /* db1 wrote past what db2 applied, and the foreign entry is cleaned up: 0 again. */
  assert_int_equal(
      snapshot_store_publish(store, config, DB2,
                             db_read("db1", 2, 102.2, "1-1-10,2-2-5", "1-1-15", state_ok)),
      0);
  assert_int_equal(
      snapshot_store_publish(store, config, DB1,
                             db_read("db2", 1, 103, "1-1-16,2-2-5", "2-2-5", state_ok)),
      0);
  assert_true(errant_db2_domain1(store, &held, &ok) == 0);
  assert_true(ok == 1);
  snapshot_unref(held);
  snapshot_store_free(store);
  config_unref(config);
}

/* A reader may keep an analysis after its snapshot and configuration are gone (the
 * state-change log keeps the last one across a reload): the names in it stay valid. */
static void test_analysis_outlives_its_config(void **state) {
  (void)state;
  struct config *config = config_from_yaml(yaml);
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *s = snapshot_store_acquire(store);
  struct analysis *kept = analysis_ref(s->analysis);
  snapshot_unref(s);
  struct config *next = config_from_yaml(yaml);
  assert_int_equal(snapshot_store_install(store, next), 0);
  config_unref(config); /* the store dropped its own at install: only the analysis holds it */
  snapshot_store_free(store);
  config_unref(next);
  assert_string_equal(kept->nodes[0]->node, "db1"); /* valgrind: no read of freed memory */
  assert_string_equal(kept->groups[1]->name, "chat");
  analysis_unref(kept);
}

/* A logged-in probe's result: logged in with the s2s pings given as (remote, success,
 * reason), or not logged in (n pings unknown) when logged_in is false. */
static struct target_result *login_result(bool logged_in, size_t n, const char *const *remotes,
                                          const double *success, const char *const *reasons) {
  struct target_result *r = target_result_new(&xmpp_login_probe_ops);
  struct xmpp_login_status *l = r->data;
  r->success = l->logged_in = logged_in;
  if (!logged_in) {
    r->reason = REASON_AUTH;
    r->error = strdup("the server refused the account's credentials");
  }
  l->s2s = calloc(n, sizeof(*l->s2s));
  l->n_s2s = n;
  for (size_t i = 0; i < n; i++) {
    snprintf(l->s2s[i].remote, sizeof(l->s2s[i].remote), "%s", remotes[i]);
    l->s2s[i].success = logged_in ? success[i] : NAN;
    l->s2s[i].rtt_s = NAN;
    snprintf(l->s2s[i].reason, sizeof(l->s2s[i].reason), "%s", reasons[i]);
  }
  return r;
}

/* A failing s2s ping makes its node warning with the remote and the stanza error named;
 * while the account is not logged in the pings are unknown and only the login speaks. */
static void test_s2s_ping_warning(void **state) {
  (void)state;
  setenv("REPLMON_TEST_PROBE_PW", "pw", 1);
  struct config *config = config_from_yaml(
      "xmpp:\n"
      "  - cluster: chat\n"
      "    nodes:\n"
      "      - {name: ej1, type: ejabberd, api_url: 'http://h:1/api', c2s_address: 'h:5222',"
      " domain: one.test, probe_account: {jid: m@one.test, password_env: REPLMON_TEST_PROBE_PW},"
      " s2s_ping: [two.test, three.test]}\n");
  enum { API, STREAM, LOGIN };
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *s = NULL;
  struct target_result *stream = stream_result();
  stream->success = true;
  STREAM(stream)->known = true;
  assert_int_equal(snapshot_store_publish(store, config, API, ejabberd(NULL, NAN)), 0);
  assert_int_equal(snapshot_store_publish(store, config, STREAM, stream), 0);
  static const char *const remotes[] = {"two.test", "three.test"};
  static const char *const none[] = {"", ""};
  static const double both[] = {1, 1};
  assert_int_equal(
      snapshot_store_publish(store, config, LOGIN, login_result(true, 2, remotes, both, none)), 0);
  const struct node_health *h = health(store, config, API, &s);
  assert_int_equal(h->state, HEALTH_OK);

  static const double second_fails[] = {1, 0};
  static const char *const timeout[] = {"", "wait/remote-server-timeout"};
  assert_int_equal(snapshot_store_publish(store, config, LOGIN,
                                          login_result(true, 2, remotes, second_fails, timeout)),
                   0);
  h = health(store, config, API, &s);
  assert_int_equal(h->state, HEALTH_WARNING);
  assert_string_equal(h->reason, "s2s ping to three.test failing: wait/remote-server-timeout");

  assert_int_equal(
      snapshot_store_publish(store, config, LOGIN, login_result(false, 2, remotes, both, none)), 0);
  h = health(store, config, API, &s);
  assert_int_equal(h->state, HEALTH_CRITICAL);
  assert_string_equal(h->reason, "login failing (auth): the server refused the account's "
                                 "credentials");
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

static double test_clock(void *ctx) {
  return *(const double *)ctx;
}

/* A node of a pair with a heartbeat table, polled at polled_unix: db1 remembers its writes
 * from 91 to last_write (its clock is replmon's); db2 holds db1's row of applied_unix. */
static struct target_result *hb_node(const char *source, double id, double polled_unix,
                                     double last_write, double applied_unix) {
  struct target_result *r = db_up(source, id);
  r->finished_unix = polled_unix;
  struct mariadb_status *m = MARIADB(r);
  m->read_unix = polled_unix;
  m->memory.server_id = id;
  m->memory.clock_offset_s = 0;
  for (double w = 91; w <= last_write; w++)
    mariadb_memory_note_write(&m->memory, w);
  if (!isnan(applied_unix)) {
    m->heartbeat_read = true;
    m->heartbeats = calloc(1, sizeof(*m->heartbeats));
    assert_non_null(m->heartbeats);
    m->heartbeats[0] = (struct heartbeat_row){1, applied_unix};
    m->n_heartbeats = 1;
  }
  return r;
}

/* db1 freezes after its poll of 100.0: with no poll of either node since, the analysis goes
 * out of date when db1's next poll is late (an interval and a quarter), and from then on db2's
 * lag grows with the clock, a refresh step at a time; the XMPP cluster on the pair follows,
 * while another pair and an XMPP cluster on it are left as they were. */
static void test_frozen_source_lag_grows_between_polls(void **state) {
  (void)state;
  struct config *config =
      config_from_yaml("mariadb:\n"
                       "  - cluster: chatdb\n"
                       "    user: u\n"
                       "    heartbeat: {table: replmon.hb}\n"
                       "    nodes:\n"
                       "      - {name: db1, address: 'h:1'}\n"
                       "      - {name: db2, address: 'h:2'}\n"
                       "  - cluster: otherdb\n"
                       "    user: u\n"
                       "    heartbeat: {table: replmon.hb}\n"
                       "    nodes:\n"
                       "      - {name: db3, address: 'h:3'}\n"
                       "      - {name: db4, address: 'h:4'}\n"
                       "xmpp:\n"
                       "  - cluster: chat\n"
                       "    nodes:\n"
                       "      - {name: ej1, type: ejabberd, api_url: 'http://h:1/api',"
                       " depends_on: [db1]}\n"
                       "  - cluster: otherchat\n"
                       "    nodes:\n"
                       "      - {name: ej3, type: ejabberd, api_url: 'http://h:3/api',"
                       " depends_on: [db3]}\n");
  enum { DB3 = 2, DB4, EJ1_HERE, EJ3 };
  assert_non_null(config->mariadb[0].heartbeat_table);
  double now = 100.0;
  struct snapshot_store *store = snapshot_store_new(config);
  snapshot_store_set_clock(store, test_clock, &now);
  assert_int_equal(snapshot_store_publish(store, config, DB1, hb_node("db2", 1, 100.0, 100, NAN)),
                   0);
  assert_int_equal(snapshot_store_publish(store, config, DB3, hb_node("db4", 1, 100.0, 100, NAN)),
                   0);
  now = 100.5;
  assert_int_equal(snapshot_store_publish(store, config, DB2, hb_node("db1", 2, 100.5, 0, 100.0)),
                   0);
  assert_int_equal(snapshot_store_publish(store, config, EJ1_HERE, ejabberd(NULL, NAN)), 0);
  assert_int_equal(snapshot_store_publish(store, config, EJ3, ejabberd(NULL, NAN)), 0);
  struct snapshot *s = snapshot_store_acquire(store);
  assert_true(db2_from_db1(s)->lag_s == 0);
  assert_true(fabs(snapshot_store_refresh_at(store) - 101.25) < 1e-9);
  snapshot_unref(s);

  /* Not yet out of date: nothing is published. */
  unsigned long generation = snapshot_store_generation(store);
  now = 101.2;
  assert_int_equal(snapshot_store_refresh(store), 0);
  assert_int_equal(snapshot_store_generation(store), generation);

  /* db1's poll is late: the lag is the time since its last write less half an interval. */
  now = 101.3;
  assert_int_equal(snapshot_store_refresh(store), 0);
  assert_int_equal(snapshot_store_generation(store), generation + 1);
  s = snapshot_store_acquire(store);
  assert_true(fabs(db2_from_db1(s)->lag_s - 0.8) < 1e-9);
  /* Again at the next point of the shared grid. */
  double step = 1.0 / ANALYSIS_REFRESH_STEPS, at = s->analysis->refresh_at_unix;
  assert_true(at > 101.3 && at <= 101.3 + step + 1e-9);
  assert_true(fabs(at / step - round(at / step)) < 1e-6);
  const struct group_analysis *before[4];
  memcpy(before, s->analysis->groups, sizeof(before));
  snapshot_unref(s);
  now = 103.6;
  assert_int_equal(snapshot_store_refresh(store), 0);
  s = snapshot_store_acquire(store);
  assert_true(fabs(db2_from_db1(s)->lag_s - 3.1) < 1e-9);
  /* The XMPP cluster that depends on the pair was analysed again with it; the other pair
   * and the XMPP cluster on it were not. */
  assert_ptr_not_equal(s->analysis->groups[0], before[0]);
  assert_ptr_equal(s->analysis->groups[1], before[1]);
  assert_ptr_not_equal(s->analysis->groups[2], before[2]);
  assert_ptr_equal(s->analysis->groups[3], before[3]);
  snapshot_unref(s);

  /* db1 answers again, having written at 104.0: only db2's next read can tell the lag, and
   * until then nothing goes out of date by itself. */
  now = 104.0;
  assert_int_equal(snapshot_store_publish(store, config, DB1, hb_node("db2", 1, 104.0, 104, NAN)),
                   0);
  s = snapshot_store_acquire(store);
  assert_true(db2_from_db1(s)->lag_s == 0);
  assert_true(isinf(s->analysis->groups[0]->refresh_at_unix));
  snapshot_unref(s);
  now = 104.5;
  assert_int_equal(snapshot_store_publish(store, config, DB2, hb_node("db1", 2, 104.5, 0, 104.0)),
                   0);
  s = snapshot_store_acquire(store);
  assert_true(db2_from_db1(s)->lag_s == 0);
  assert_true(fabs(s->analysis->groups[0]->refresh_at_unix - 105.25) < 1e-9);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_database_down_makes_xmpp_warning),
      cmocka_unit_test(test_certificates_make_xmpp_warning),
      cmocka_unit_test(test_unreachable_versus_down),
      cmocka_unit_test(test_members_agree),
      cmocka_unit_test(test_delay_is_not_lag),
      cmocka_unit_test(test_max_lag_judges_again),
      cmocka_unit_test(test_bad_dependency),
      cmocka_unit_test(test_binlog_horizon_across_analyses),
      cmocka_unit_test(test_lag_without_heartbeat),
      cmocka_unit_test(test_errant_judged_across_publishes),
      cmocka_unit_test(test_analysis_outlives_its_config),
      cmocka_unit_test(test_s2s_ping_warning),
      cmocka_unit_test(test_frozen_source_lag_grows_between_polls),
  };
  return cmocka_run_group_tests_name("analysis", tests, NULL, NULL);
}
