/* replmon-check's output: the state ranking and exit codes, the Nagios line (worst first,
 * ok nodes summed up, perfdata of the worst MariaDB node, '|' kept out of the text), the
 * table (widths, colour), the JSON (jansson, null lag, bytes that are not UTF-8), the error
 * forms, and the io/sql summary of a node's links from a snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "analysis.h"
#include "check_report.h"
#include "helpers.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>

static struct node_health mariadb(const char *node, enum health_state state, const char *reason,
                                  double lag_s) {
  return (struct node_health){.kind = NODE_MARIADB,
                              .cluster = "chatdb",
                              .node = node,
                              .state = state,
                              .reason = (char *)reason,
                              .lag_s = lag_s,
                              .stream_target = -1};
}

/* The Nagios line of nodes with lag_warning 5 and lag_critical 30 (owned by the caller). */
static char *nagios(const struct check_node *nodes, size_t n) {
  struct buf out = BUF_INIT;
  check_format_nagios(nodes, n, 5, 30, &out);
  char *text = buf_steal(&out, NULL);
  assert_non_null(text);
  return text;
}

static void test_worst_and_exit(void **state) {
  (void)state;
  struct node_health h[4] = {
      mariadb("a", HEALTH_OK, "replicating", 0),
      mariadb("b", HEALTH_UNKNOWN, "no answer", NAN),
      mariadb("c", HEALTH_WARNING, "lag 6.0s >= 5.0s", 6),
      mariadb("d", HEALTH_CRITICAL, "down", NAN),
  };
  struct check_node nodes[4];
  for (int i = 0; i < 4; i++)
    nodes[i] = (struct check_node){&h[i], -1, -1};
  assert_int_equal(check_worst(nodes, 1), HEALTH_OK);
  assert_int_equal(check_worst(nodes, 2), HEALTH_UNKNOWN);
  assert_int_equal(check_worst(nodes, 3), HEALTH_WARNING); /* a known problem outranks */
  assert_int_equal(check_worst(nodes, 4), HEALTH_CRITICAL);
  assert_int_equal(check_worst(nodes, 0), HEALTH_UNKNOWN);
  assert_int_equal(check_exit_status(HEALTH_OK), 0);
  assert_int_equal(check_exit_status(HEALTH_WARNING), 1);
  assert_int_equal(check_exit_status(HEALTH_CRITICAL), 2);
  assert_int_equal(check_exit_status(HEALTH_UNKNOWN), 3);
  enum check_format f;
  assert_int_equal(check_format_parse("nagios", &f), 0);
  assert_int_equal(f, CHECK_FORMAT_NAGIOS);
  assert_int_equal(check_format_parse("NAGIOS", &f), -EINVAL);
}

static void test_nagios(void **state) {
  (void)state;
  struct node_health h[4] = {
      mariadb("db1", HEALTH_OK, "replicating, lag 0.0s", 0.2),
      mariadb("db2", HEALTH_WARNING, "lag 7.0s >= 5.0s", 7),
      mariadb("db3", HEALTH_CRITICAL, "broken | on\ntwo lines", NAN),
      mariadb("db4", HEALTH_OK, "replicating", NAN),
  };
  struct check_node nodes[4] = {{&h[0], 1, 1}, {&h[1], 1, 1}, {&h[2], 1, 0}, {&h[3], 1, 1}};
  char *text = nagios(nodes, 4);
  assert_string_equal(text, "REPLMON CRITICAL - db3: broken / on two lines; db2: lag 7.0s >= "
                            "5.0s; ok: db1, db4 | lag=U;5;30 io=1 sql=0\n");
  free(text);

  /* All ok: every node with its reason; the perfdata of the largest lag, to the ms. */
  h[1] = mariadb("db2", HEALTH_OK, "replicating, lag 1.2s", 1.23456);
  text = nagios(nodes, 2);
  assert_string_equal(text, "REPLMON OK - db1: replicating, lag 0.0s; db2: replicating, lag "
                            "1.2s | lag=1.235s;5;30 io=1 sql=1\n");
  free(text);

  /* Unknown io/sql (the node did not answer) are left out. */
  struct check_node one = {&h[3], -1, -1};
  h[3].state = HEALTH_UNKNOWN;
  text = nagios(&one, 1);
  assert_string_equal(text, "REPLMON UNKNOWN - db4: replicating | lag=U;5;30\n");
  free(text);

  /* An XMPP node has no lag or links: no perfdata. */
  struct node_health x = {.kind = NODE_XMPP,
                          .cluster = "chat",
                          .node = "xmpp1",
                          .state = HEALTH_OK,
                          .reason = "answering",
                          .lag_s = NAN};
  struct check_node xn = {&x, -1, -1};
  text = nagios(&xn, 1);
  assert_string_equal(text, "REPLMON OK - xmpp1: answering\n");
  free(text);

  text = nagios(NULL, 0);
  assert_string_equal(text, "REPLMON UNKNOWN - no nodes to check\n");
  free(text);
}

static void test_text(void **state) {
  (void)state;
  struct node_health h[2] = {
      mariadb("db1", HEALTH_OK, "replicating, lag 0.0s", 0.04),
      mariadb("database-two", HEALTH_CRITICAL, "down", NAN),
  };
  struct check_node nodes[2] = {{&h[0], 1, 1}, {&h[1], -1, -1}};
  struct buf out = BUF_INIT;
  check_format_text(nodes, 2, false, &out);
  assert_string_equal(out.data, "NODE          KIND     CLUSTER  STATE     LAG   REASON\n"
                                "db1           mariadb  chatdb   OK        0.0s  replicating, "
                                "lag 0.0s\n"
                                "database-two  mariadb  chatdb   CRITICAL  -     down\n");
  buf_reset(&out);
  check_format_text(nodes, 2, true, &out);
  assert_non_null(strstr(out.data, "\033[32mOK\033[0m        0.0s"));
  assert_non_null(strstr(out.data, "\033[31mCRITICAL\033[0m  -"));
  buf_free(&out);
}

static void test_json(void **state) {
  (void)state;
  struct node_health h[2] = {
      mariadb("db1", HEALTH_OK, "replicating, lag 0.2s", 0.2),
      mariadb("db2", HEALTH_CRITICAL, "SQL error 1062: Duplicate entry '\xc3' for key", NAN),
  };
  struct check_node nodes[2] = {{&h[0], 1, 1}, {&h[1], 1, 0}};
  struct buf out = BUF_INIT;
  assert_int_equal(check_format_json(nodes, 2, &out), 0);
  assert_string_equal(out.data,
                      "{\"state\": \"critical\", \"nodes\": [{\"cluster\": \"chatdb\", \"node\": "
                      "\"db1\", \"kind\": \"mariadb\", \"state\": \"ok\", \"reason\": "
                      "\"replicating, lag 0.2s\", \"lag_seconds\": 0.2}, {\"cluster\": "
                      "\"chatdb\", \"node\": \"db2\", \"kind\": \"mariadb\", \"state\": "
                      "\"critical\", \"reason\": \"SQL error 1062: Duplicate entry '?' for "
                      "key\", \"lag_seconds\": null}]}\n");
  json_error_t err;
  json_t *back = json_loads(out.data, 0, &err);
  assert_non_null(back);
  json_decref(back);
  buf_free(&out);
}

static void test_error_forms(void **state) {
  (void)state;
  struct buf out = BUF_INIT;
  check_format_error(CHECK_FORMAT_NAGIOS, "f.yml:2:3: bad | thing", &out);
  assert_string_equal(out.data, "REPLMON UNKNOWN - f.yml:2:3: bad / thing\n");
  buf_reset(&out);
  check_format_error(CHECK_FORMAT_JSON, "f.yml:2:3: \"bad\"", &out);
  assert_string_equal(out.data,
                      "{\"state\": \"unknown\", \"error\": \"f.yml:2:3: \\\"bad\\\"\", \"nodes\": "
                      "[]}\n");
  buf_reset(&out);
  check_format_error(CHECK_FORMAT_TEXT, "anything", &out);
  assert_int_equal(out.len, 0);
  buf_free(&out);
}

static struct target_result *answered(void) {
  struct target_result *r = mariadb_result();
  assert_non_null(r);
  r->success = true;
  MARIADB(r)->known = true;
  return r;
}

static void test_links(void **state) {
  (void)state;
  struct config *config = config_from_yaml("mariadb:\n"
                                           "  - cluster: chatdb\n"
                                           "    user: monitor\n"
                                           "    nodes:\n"
                                           "      - {name: db1, address: 'h:1'}\n"
                                           "      - {name: db2, address: 'h:2'}\n"
                                           "      - {name: db3, address: 'h:3'}\n");
  struct snapshot_store *store = snapshot_store_new(config);
  /* db1: both links run. db2: the SQL thread from db1 stopped, the link from db3 missing.
   * db3: its last poll failed. */
  struct target_result *r1 = answered();
  for (int i = 0; i < 2; i++) {
    struct replica_status *rep = add_replica(r1, i ? "b" : "", i ? "db3" : "db2");
    rep->io_state = IO_STATE_YES;
    rep->sql_running = true;
  }
  struct target_result *r2 = answered();
  struct replica_status *rep = add_replica(r2, "", "db1");
  rep->io_state = IO_STATE_YES;
  rep->sql_running = false;
  struct target_result *r3 = mariadb_result();
  r3->reason = REASON_CONNECT;
  assert_int_equal(snapshot_store_publish(store, config, 0, r1), 0);
  assert_int_equal(snapshot_store_publish(store, config, 1, r2), 0);
  assert_int_equal(snapshot_store_publish(store, config, 2, r3), 0);
  struct snapshot *s = snapshot_store_acquire(store);

  struct node_health *list = NULL;
  size_t n = 0;
  assert_int_equal(analysis_copy_health(s->analysis, &list, &n), 0);
  assert_int_equal(n, 3);
  struct check_node nodes[3];
  for (size_t i = 0; i < n; i++)
    nodes[i] = (struct check_node){&list[i], 7, 7};
  assert_int_equal(check_links(s, nodes, n), 0);
  assert_int_equal(nodes[0].io_running, 1);
  assert_int_equal(nodes[0].sql_running, 1);
  assert_int_equal(nodes[1].io_running, 0); /* the link from db3 is missing */
  assert_int_equal(nodes[1].sql_running, 0);
  assert_int_equal(nodes[2].io_running, -1);
  assert_int_equal(nodes[2].sql_running, -1);

  char *text = nagios(nodes, n);
  assert_non_null(strstr(text, "REPLMON CRITICAL - db2: "));
  assert_non_null(strstr(text, "| lag=U;5;30 io=0 sql=0\n"));
  free(text);
  health_free(list, n);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_worst_and_exit), cmocka_unit_test(test_nagios),
      cmocka_unit_test(test_text),           cmocka_unit_test(test_json),
      cmocka_unit_test(test_error_forms),    cmocka_unit_test(test_links),
  };
  return cmocka_run_group_tests_name("check_report", tests, NULL, NULL);
}
