/* The /metrics body against a golden file: family grouping, HELP and TYPE, label escaping,
 * NaN for unknown values, and the series of a node that stopped answering. Set
 * REPLMON_UPDATE_GOLDEN=1 to rewrite the golden file after an intended change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"
#include "render.h"

#include <math.h>

static const struct build_info build = {"1.2.3", "abc123"};

static const char yaml[] = "mariadb:\n"
                           "  - cluster: chatdb\n"
                           "    user: monitor\n"
                           "    semisync: required\n"
                           "    nodes:\n"
                           "      - {name: db1, address: '127.0.0.1:3306'}\n"
                           "      - {name: db2, address: '127.0.0.1:3307'}\n"
                           "      - {name: db3, address: '127.0.0.1:3308'}\n"
                           "  - cluster: \"odd \\\"quoted\\\" \\\\ cluster\\nname\"\n"
                           "    user: monitor\n"
                           "    nodes:\n"
                           "      - {name: never, socket: /run/x.sock}\n";

/* The states' since-when is when each result was published: a fixed time here. */
static double fixed_clock(void *ctx) {
  (void)ctx;
  return 1700000000.5;
}

static struct snapshot *example_snapshot(struct snapshot_store **store_out, struct config **cfg) {
  struct config *config = config_from_yaml(yaml);
  struct snapshot_store *store = snapshot_store_new(config);
  assert_non_null(store);
  snapshot_store_set_clock(store, fixed_clock, NULL);

  /* db1: healthy, default connection from db2 and a named one from elsewhere. */
  struct target_result *db1 = mariadb_result();
  db1->success = true;
  db1->duration_s = 0.000512;
  db1->last_success_unix = 1700000000.25;
  MARIADB(db1)->known = true;
  MARIADB(db1)->server_id = 1;
  MARIADB(db1)->read_only = 0;
  /* Semi-sync fell back: it waited for db2 once and then committed without it. */
  MARIADB(db1)->semisync = (struct mariadb_semisync){.master_enabled = 1,
                                                     .slave_enabled = 1,
                                                     .master_timeout_s = 0.5,
                                                     .master_status = 0,
                                                     .slave_status = 1,
                                                     .master_clients = 0,
                                                     .master_yes_tx = 1203,
                                                     .master_no_tx = 7};
  /* Binlogs kept a week: the retention of the links reading from db1. */
  MARIADB(db1)->memory.binlog_retention = (struct mariadb_binlog_retention){604800, NAN, 4096};
  struct replica_status *a = add_replica(db1, "", "db2");
  a->io_state = IO_STATE_YES;
  a->sql_running = true;
  a->seconds_behind_master = 0;
  a->sql_delay_seconds = 0;
  a->last_io_errno = a->last_sql_errno = 0;
  a->relay_log_space_bytes = 930;
  a->retried_transactions = 2;
  a->received_heartbeats = 41;
  a->progress_seen = true; /* heartbeats arrive: db2 is alive per db1 */
  a->has_time_diff = true; /* db1 runs MariaDB 11.6+, db2 an older one */
  a->time_diff_seconds = 1;
  struct replica_status *b = add_replica(db1, "from \"backup\"\\dc", "10.9.9.9:3306");
  b->io_state = IO_STATE_CONNECTING;
  b->sql_running = true;
  b->seconds_behind_master = NAN; /* NULL while the IO thread reconnects */
  b->sql_delay_seconds = 10;
  b->last_io_errno = 2013;
  b->last_sql_errno = 0;
  b->relay_log_space_bytes = 1.5e9;
  b->retried_transactions = 0;
  b->received_heartbeats = 0;
  b->has_time_diff = true;
  b->time_diff_seconds = NAN;
  assert_int_equal(snapshot_store_publish(store, config, 0, db1), 0);

  /* db2: answered once, now refused: its connection stays with unknown values. */
  struct target_result *db2 = mariadb_result();
  db2->success = false;
  db2->reason = REASON_PRIVILEGE;
  db2->error = strdup("SHOW ALL SLAVES STATUS: denied");
  db2->duration_s = 0.25;
  db2->last_success_unix = 1699999990;
  db2->errors_total[REASON_PRIVILEGE] = 3;
  db2->errors_total[REASON_TIMEOUT] = 1;
  add_replica(db2, "", "db1");
  /* It never purges binlogs by age (known from its last good poll). */
  MARIADB(db2)->memory.binlog_retention = (struct mariadb_binlog_retention){0, NAN, NAN};
  assert_int_equal(snapshot_store_publish(store, config, 1, db2), 0);

  /* db3 and the odd cluster's node were never polled. */
  *store_out = store;
  *cfg = config;
  return snapshot_store_acquire(store);
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  rewind(f);
  char *data = malloc((size_t)size + 1);
  if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
    free(data);
    data = NULL;
  }
  fclose(f);
  if (data)
    data[size] = '\0';
  *len = (size_t)size;
  return data;
}

/* Compares out with the golden file (rewritten first when REPLMON_UPDATE_GOLDEN is set). */
static void expect_golden(const struct buf *out, const char *golden) {
  if (getenv("REPLMON_UPDATE_GOLDEN")) {
    FILE *f = fopen(golden, "wb");
    assert_non_null(f);
    fwrite(out->data, 1, out->len, f);
    fclose(f);
  }
  size_t len;
  char *expected = read_file(golden, &len);
  assert_non_null(expected);
  assert_string_equal(out->data, expected);
  free(expected);
}

static void test_golden(void **state) {
  (void)state;
  struct snapshot_store *store;
  struct config *config;
  struct snapshot *s = example_snapshot(&store, &config);
  struct buf out = BUF_INIT;
  assert_int_equal(render_metrics(s, &build, &out), 0);
  expect_golden(&out, "golden/metrics.prom");
  buf_free(&out);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

/* XMPP: each type shows only the families it provides; unknown values are NaN. */
static void test_golden_xmpp(void **state) {
  (void)state;
  setenv("REPLMON_TEST_SECRET", "x", 1);
  struct config *config = config_from_yaml(
      "xmpp:\n"
      "  - cluster: chat\n"
      "    nodes:\n"
      "      - {name: ej1, type: ejabberd, api_url: 'http://h:5280/api', c2s_address: 'h:5222',"
      " s2s_address: h, domain: chat.test}\n"
      "      - {name: pr1, type: prosody, api_url: 'http://h:5281/metrics', c2s_address: "
      "'h:5223', domain: chat.test}\n"
      "      - {name: of1, type: openfire, api_url: 'http://h:9090/plugins/restapi/v1',"
      " auth: {secret_env: REPLMON_TEST_SECRET}}\n");
  struct snapshot_store *store = snapshot_store_new(config);
  snapshot_store_set_clock(store, fixed_clock, NULL);
  assert_int_equal(config->n_targets, 5);

  struct target_result *ej = xmpp_result();
  ej->success = false; /* muc_online_rooms was refused; the rest answered */
  ej->reason = REASON_PERMISSION;
  ej->errors_total[REASON_PERMISSION] = 4;
  ej->duration_s = 0.0042;
  ej->last_success_unix = 1700000000;
  XMPP(ej)->up = true;
  XMPP(ej)->c2s_sessions = 2;
  XMPP(ej)->registered_users = 5;
  XMPP(ej)->uptime_seconds = 3600;
  XMPP(ej)->s2s_in = 0;
  XMPP(ej)->s2s_out = 1;
  XMPP(ej)->version = strdup("23.01");
  assert_int_equal(snapshot_store_publish(store, config, 0, ej), 0);

  struct target_result *pr = xmpp_result(); /* down */
  pr->reason = REASON_CONNECT;
  pr->errors_total[REASON_CONNECT] = 1;
  pr->duration_s = 0.0003;
  assert_int_equal(snapshot_store_publish(store, config, 1, pr), 0);

  struct target_result *ej_stream = stream_result();
  ej_stream->success = true;
  ej_stream->duration_s = 0.031;
  ej_stream->last_success_unix = 1700000001;
  STREAM(ej_stream)->known = true;
  STREAM(ej_stream)->starttls_offered = true;
  STREAM(ej_stream)->cert_expiry_unix = 1731536000;
  STREAM(ej_stream)->endpoints[XMPP_ENDPOINT_C2S] = (struct xmpp_tls_endpoint){
      .port = 5222,
      .stream_ok = true,
      .handshake_done = true,
      .verified = true,
      .leaf_expiry_unix = 1731536000,
      .earliest_expiry_unix = 1731000000, /* an intermediate that expires first */
  };
  STREAM(ej_stream)->endpoints[XMPP_ENDPOINT_S2S] = (struct xmpp_tls_endpoint){
      .port = 5269,
      .stream_ok = true,
      .handshake_done = true,
      .verified = false,
      .leaf_expiry_unix = 1731536000,
      .earliest_expiry_unix = 1731536000,
      .tls_problem = strdup("wrong name"),
  };
  assert_int_equal(snapshot_store_publish(store, config, 3, ej_stream), 0);

  struct target_result *pr_stream = stream_result();
  pr_stream->reason = REASON_STREAM;
  pr_stream->errors_total[REASON_STREAM] = 2;
  pr_stream->duration_s = 0.002;
  STREAM(pr_stream)->stream_error = strdup("host-unknown");
  STREAM(pr_stream)->endpoints[XMPP_ENDPOINT_C2S].port = 5223; /* no handshake: NaN */
  assert_int_equal(snapshot_store_publish(store, config, 4, pr_stream), 0);

  struct snapshot *snap = snapshot_store_acquire(store);
  struct buf out = BUF_INIT;
  assert_int_equal(render_metrics(snap, &build, &out), 0);
  expect_golden(&out, "golden/metrics_xmpp.prom");
  /* What a type does not provide is left out, not faked. */
  assert_null(strstr(out.data, "xmpp_registered_users{cluster=\"chat\",node=\"pr1\"}"));
  assert_null(strstr(out.data, "xmpp_cluster_c2s_sessions{cluster=\"chat\",node=\"ej1\"}"));
  /* Each TLS endpoint by port, under blackbox_exporter's name too; NaN without a handshake. */
  assert_non_null(
      strstr(out.data, "xmpp_tls_cert_verified{cluster=\"chat\",node=\"ej1\",port=\"5222\"} 1\n"));
  assert_non_null(
      strstr(out.data, "xmpp_tls_cert_verified{cluster=\"chat\",node=\"ej1\",port=\"5269\"} 0\n"));
  assert_non_null(strstr(
      out.data, "xmpp_tls_cert_verified{cluster=\"chat\",node=\"pr1\",port=\"5223\"} NaN\n"));
  assert_non_null(strstr(out.data, "probe_ssl_earliest_cert_expiry{cluster=\"chat\",node=\"ej1\","
                                   "port=\"5222\"} 1731000000\n"));
  buf_free(&out);
  snapshot_unref(snap);
  snapshot_store_free(store);
  config_unref(config);
}

/* s2s_ping: one series per configured remote and family, NaN when unknown (no result yet,
 * or a remote the last poll did not ping), and no error text in any label. */
static void test_s2s_ping_series(void **state) {
  (void)state;
  setenv("REPLMON_TEST_PROBE_PW", "pw", 1);
  struct config *config = config_from_yaml(
      "xmpp:\n"
      "  - cluster: chat\n"
      "    nodes:\n"
      "      - {name: ej1, type: ejabberd, api_url: 'http://h:5280/api', c2s_address: 'h:5222',"
      " domain: one.test, probe_account: {jid: m@one.test, password_env: REPLMON_TEST_PROBE_PW},"
      " s2s_ping: [two.test, three.test, four.test]}\n"
      "      - {name: pr1, type: prosody, api_url: 'http://h:5281/metrics', c2s_address: "
      "'h:5223', domain: one.test, probe_account: {jid: m@one.test, password_env: "
      "REPLMON_TEST_PROBE_PW}, s2s_ping: [two.test]}\n"
      "      - {name: pr2, type: prosody, api_url: 'http://h:5282/metrics', c2s_address: "
      "'h:5224', domain: one.test, probe_account: {jid: m@one.test, password_env: "
      "REPLMON_TEST_PROBE_PW}}\n");
  struct snapshot_store *store = snapshot_store_new(config);
  snapshot_store_set_clock(store, fixed_clock, NULL);
  const long ej1_login = config->xmpp[0].nodes[0].login_target;

  struct target_result *login = target_result_new(&xmpp_login_probe_ops);
  login->success = true;
  login->duration_s = 2.01;
  login->last_success_unix = 1700000000;
  struct xmpp_login_status *l = login->data;
  l->logged_in = l->encrypted = true;
  l->login_duration_s = 0.25;
  l->ping_rtt_s = 0.0004;
  /* Polled before four.test was configured: two remotes only. */
  l->s2s = calloc(2, sizeof(*l->s2s));
  assert_non_null(l->s2s);
  l->n_s2s = 2;
  l->s2s[0] = (struct xmpp_remote_ping){"two.test", 1, 0.0021, "", ""};
  l->s2s[1] = (struct xmpp_remote_ping){"three.test", 0, NAN, "wait/remote-server-timeout",
                                        "connection refused"};
  assert_int_equal(snapshot_store_publish(store, config, (size_t)ej1_login, login), 0);

  struct snapshot *snap = snapshot_store_acquire(store);
  struct buf out = BUF_INIT;
  assert_int_equal(render_metrics(snap, &build, &out), 0);
  expect_golden(&out, "golden/metrics_s2s.prom");
  assert_null(strstr(out.data, "remote-server-timeout"));
  assert_null(strstr(out.data, "connection refused"));
  assert_null(strstr(out.data, "node=\"pr2\",remote"));
  buf_free(&out);
  snapshot_unref(snap);
  snapshot_store_free(store);
  config_unref(config);
}

static void test_label_escaping(void **state) {
  (void)state;
  struct buf out = BUF_INIT;
  render_label_value(&out, "a\"b\\c\nd");
  assert_string_equal(out.data, "a\\\"b\\\\c\\nd");
  buf_reset(&out);
  render_label_value(&out, "plain");
  assert_string_equal(out.data, "plain");
  buf_free(&out);
}

static void test_doubles(void **state) {
  (void)state;
  struct buf out = BUF_INIT;
  double values[] = {NAN, INFINITY, -INFINITY, 0, -3, 1e18, 0.1, 1.5e-7};
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    buf_put_double(&out, values[i]);
    buf_putc(&out, ' ');
  }
  assert_string_equal(out.data, "NaN +Inf -Inf 0 -3 1e+18 0.1 1.5e-07 ");
  buf_free(&out);
}

/* Every family appears once, and a family's samples are contiguous. */
static void test_family_grouping(void **state) {
  (void)state;
  struct snapshot_store *store;
  struct config *config;
  struct snapshot *s = example_snapshot(&store, &config);
  struct buf out = BUF_INIT;
  assert_int_equal(render_metrics(s, &build, &out), 0);
  char *seen[64];
  size_t n_seen = 0;
  char current[128] = "";
  for (char *line = strtok(out.data, "\n"); line; line = strtok(NULL, "\n")) {
    if (strncmp(line, "# TYPE ", 7) == 0) {
      char name[128];
      assert_int_equal(sscanf(line + 7, "%127s", name), 1);
      for (size_t i = 0; i < n_seen; i++)
        assert_string_not_equal(seen[i], name);
      seen[n_seen++] = strdup(name);
      strcpy(current, name);
    } else if (line[0] != '#') {
      assert_int_equal(strncmp(line, current, strlen(current)), 0);
    }
  }
  assert_true(n_seen >= 18);
  for (size_t i = 0; i < n_seen; i++)
    free(seen[i]);
  buf_free(&out);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden),          cmocka_unit_test(test_golden_xmpp),
      cmocka_unit_test(test_s2s_ping_series), cmocka_unit_test(test_label_escaping),
      cmocka_unit_test(test_doubles),         cmocka_unit_test(test_family_grouping),
  };
  return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
