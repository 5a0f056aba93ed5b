/* The configuration file: every accepted shape and one test per kind of bad input, each
 * checking the exact FILE:LINE:COL message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static char dir[] = "/tmp/replmon-test-config-XXXXXX";

static const char *write_file(const char *name, const char *text) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

/* Loads text as a config file and expects failure with message (after "PATH:"). */
static void expect_error(const char *text, const char *message) {
  const char *path = write_file("bad.yml", text);
  struct config *config = NULL;
  char *error = NULL;
  assert_int_not_equal(config_load(path, &config, &error), 0);
  assert_null(config);
  assert_non_null(error);
  char expected[1024];
  snprintf(expected, sizeof(expected), "%s:%s", path, message);
  assert_string_equal(error, expected);
  assert_null(strchr(error, '\n'));
  free(error);
}

static struct config *expect_ok(const char *text) {
  const char *path = write_file("good.yml", text);
  struct config *config = NULL;
  char *error = NULL;
  int rc = config_load(path, &config, &error);
  if (rc)
    fail_msg("unexpected error: %s", error);
  assert_null(error);
  return config;
}

static const char valid[] = "global:\n"
                            "  poll_interval: 500ms\n"
                            "  connect_timeout: 1s\n"
                            "  query_timeout: 2s\n"
                            "  lag_warning: 5s\n"
                            "  lag_critical: 1m30s\n"
                            "mariadb:\n"
                            "  - cluster: chatdb\n"
                            "    user: monitor\n"
                            "    password_file: monitor.pass\n"
                            "    nodes:\n"
                            "      - name: db1\n"
                            "        address: 10.0.0.2:3306\n"
                            "      - name: db2\n"
                            "        address: '[::1]:3307'\n"
                            "      - name: db3\n"
                            "        socket: /run/mysqld/mysqld.sock\n"
                            "      - name: db4\n"
                            "        address: db4.example\n";

static void test_valid(void **state) {
  (void)state;
  write_file("monitor.pass", "s3cret\n");
  struct config *c = expect_ok(valid);
  assert_true(fabs(c->poll_interval_s - 0.5) < 1e-9);
  assert_true(c->connect_timeout_s == 1 && c->query_timeout_s == 2);
  assert_true(c->lag_warning_s == 5 && c->lag_critical_s == 90);
  assert_int_equal(c->n_mariadb, 1);
  const struct mariadb_cluster_config *cl = &c->mariadb[0];
  assert_string_equal(cl->name, "chatdb");
  assert_string_equal(cl->user, "monitor");
  assert_string_equal(cl->password, "s3cret"); /* the trailing newline is not part of it */
  assert_int_equal(cl->n_nodes, 4);
  assert_string_equal(cl->nodes[0].host, "10.0.0.2");
  assert_int_equal(cl->nodes[0].port, 3306);
  assert_string_equal(cl->nodes[1].host, "::1");
  assert_int_equal(cl->nodes[1].port, 3307);
  assert_null(cl->nodes[2].host);
  assert_string_equal(cl->nodes[2].socket, "/run/mysqld/mysqld.sock");
  assert_string_equal(cl->nodes[3].host, "db4.example");
  assert_int_equal(cl->nodes[3].port, 3306);
  assert_int_equal(c->n_targets, 4);
  assert_string_equal(c->targets[1].name, "db2");
  assert_string_equal(c->targets[1].cluster, "chatdb");
  assert_ptr_equal(c->targets[1].mariadb_node, &cl->nodes[1]);
  assert_true(c->targets[1].phase == 0); /* no heartbeat: polled together */
  assert_false(cl->semisync_required);
  config_unref(c);
}

/* semisync: required or off; anything else is refused where it is written. */
static void test_semisync(void **state) {
  (void)state;
  static const char head[] = "mariadb:\n  - cluster: a\n    user: u\n"
                             "    nodes: [{name: db1, address: 'h:1'}]\n";
  char text[256];
  snprintf(text, sizeof(text), "%s    semisync: required\n", head);
  struct config *c = expect_ok(text);
  assert_true(c->mariadb[0].semisync_required);
  config_unref(c);
  snprintf(text, sizeof(text), "%s    semisync: off\n", head);
  c = expect_ok(text);
  assert_false(c->mariadb[0].semisync_required);
  config_unref(c);
  snprintf(text, sizeof(text), "%s    semisync: on\n", head);
  expect_error(text, "5:15: semisync: must be required or off");
  snprintf(text, sizeof(text), "%s    semisync: [required]\n", head);
  expect_error(text, "5:15: semisync: must be required or off");
}

/* Where replmon writes heartbeats, a cluster's nodes are spread over the poll interval. */
static void test_heartbeat_phases(void **state) {
  (void)state;
  struct config *c = expect_ok("mariadb:\n"
                               "  - cluster: a\n"
                               "    user: u\n"
                               "    heartbeat: {table: replmon.heartbeat}\n"
                               "    nodes: [{name: a1, address: h1}, {name: a2, address: h2},\n"
                               "            {name: a3, address: h3}, {name: a4, address: h4}]\n"
                               "  - cluster: b\n"
                               "    user: u\n"
                               "    heartbeat: {table: replmon.heartbeat, write: false}\n"
                               "    nodes: [{name: b1, address: h5}, {name: b2, address: h6}]\n");
  assert_int_equal(c->n_targets, 6);
  for (int i = 0; i < 4; i++)
    assert_true(c->targets[i].phase == i / 4.0);
  assert_true(c->targets[4].phase == 0 && c->targets[5].phase == 0); /* pt-heartbeat's rows */
  config_unref(c);
}

static void collect_line(const char *line, size_t len, void *ctx) {
  buf_printf(ctx, "[%.*s]", (int)len, line);
}

/* A password file others can read loads, with a warning to log (one line at a time). */
static void test_readable_secret_warns(void **state) {
  (void)state;
  char pass[512];
  snprintf(pass, sizeof(pass), "%s", write_file("open.pass", "pw\n")); /* a static buffer */
  chmod(pass, 0644);
  struct config *c = expect_ok("mariadb: [{cluster: a, user: u, password_file: open.pass, "
                               "nodes: [{name: n, address: 'h:1'}]}]\n");
  assert_non_null(c->warnings);
  assert_non_null(strstr(c->warnings, "open.pass' is readable by every user (mode 0644)"));
  struct buf lines = BUF_INIT;
  config_warning_lines(c, collect_line, &lines);
  assert_non_null(lines.data);
  assert_true(lines.data[0] == '[' && strchr(lines.data, ']') == lines.data + lines.len - 1);
  buf_free(&lines);
  config_unref(c);
  chmod(pass, 0600);
  c = expect_ok("mariadb: [{cluster: a, user: u, password_file: open.pass, "
                "nodes: [{name: n, address: 'h:1'}]}]\n");
  assert_null(c->warnings);
  config_warning_lines(c, collect_line, &lines);
  assert_null(lines.data);
  config_unref(c);
  /* Several lines, and a last newline that starts no empty one. */
  char two[] = "first\nsecond";
  struct config many = {.warnings = two};
  config_warning_lines(&many, collect_line, &lines);
  assert_string_equal(lines.data, "[first][second]");
  buf_free(&lines);
  char trailing[] = "only\n";
  many.warnings = trailing;
  config_warning_lines(&many, collect_line, &lines);
  assert_string_equal(lines.data, "[only]");
  buf_free(&lines);
}

static void test_defaults_and_env(void **state) {
  (void)state;
  setenv("REPLMON_TEST_PW", "from-env", 1);
  struct config *c = expect_ok("mariadb:\n"
                               "  - cluster: a\n"
                               "    user: u\n"
                               "    password_env: REPLMON_TEST_PW\n"
                               "    nodes: [{name: n1, address: '127.0.0.1:1'}]\n");
  assert_true(c->poll_interval_s == 1 && c->connect_timeout_s == 1 && c->query_timeout_s == 2);
  assert_true(c->lag_warning_s == 5 && c->lag_critical_s == 30);
  assert_string_equal(c->mariadb[0].password, "from-env");
  config_unref(c);
}

static void test_unknown_key(void **state) {
  (void)state;
  expect_error("global:\n  poll_intervall: 1s\n", "2:3: global: unknown key 'poll_intervall'");
  expect_error("mariadb:\n  - cluster: a\n    usr: u\n", "3:5: mariadb cluster: unknown key 'usr'");
  expect_error("prometheus: {}\n", "1:1: top level: unknown key 'prometheus'");
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    nodes:\n      - name: x\n"
               "        adress: h:1\n",
               "6:9: mariadb node: unknown key 'adress'");
}

static void test_wrong_type(void **state) {
  (void)state;
  expect_error("global: 5\n", "1:9: global: expected a mapping");
  expect_error("mariadb: {cluster: a}\n", "1:10: mariadb: expected a list of clusters");
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    nodes: db1\n",
               "4:12: nodes: expected a list of nodes");
  expect_error("mariadb:\n  - cluster: [a]\n", "2:14: cluster: expected a string");
  expect_error("- a\n", "1:1: top level: expected a mapping");
}

static void test_missing_field(void **state) {
  (void)state;
  expect_error("mariadb:\n  - cluster: a\n    nodes: [{name: n, address: 'h:1'}]\n",
               "2:5: mariadb cluster 'a': missing 'user'");
  expect_error("mariadb:\n  - user: u\n    nodes: [{name: n, address: 'h:1'}]\n",
               "2:5: mariadb cluster: missing 'cluster'");
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    nodes: [{address: 'h:1'}]\n",
               "4:13: mariadb node: missing 'name'");
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    nodes: [{name: n}]\n",
               "4:13: mariadb node 'n': set exactly one of 'address' and 'socket'");
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    nodes: []\n",
               "4:12: nodes: the list is empty");
  expect_error("global: {poll_interval: 1s}\n",
               "1:1: nothing to monitor: add a 'mariadb' or 'xmpp' section with nodes");
  expect_error("", "1:1: the file is empty");
}

static void test_bad_duration(void **state) {
  (void)state;
  expect_error("global:\n  poll_interval: 1sec\n",
               "2:18: global.poll_interval: bad duration '1sec' (use e.g. 500ms, 1s, 2m or 1m30s)");
  expect_error("global:\n  query_timeout: 5\n",
               "2:18: global.query_timeout: bad duration '5' (use e.g. 500ms, 1s, 2m or 1m30s)");
  expect_error("global:\n  connect_timeout: 0s\n",
               "2:20: global.connect_timeout: must be longer than 0");
  expect_error(
      "global:\n  connect_timeout: -1s\n",
      "2:20: global.connect_timeout: bad duration '-1s' (use e.g. 500ms, 1s, 2m or 1m30s)");
  expect_error("global: {lag_warning: 1m, lag_critical: 30s}\n"
               "mariadb: [{cluster: a, user: u, nodes: [{name: n, address: 'h:1'}]}]\n",
               "1:1: global: lag_warning must not be longer than lag_critical");
}

static void test_duration_parser(void **state) {
  (void)state;
  double s;
  assert_int_equal(config_parse_duration("250ms", &s), 0);
  assert_true(fabs(s - 0.25) < 1e-9);
  assert_int_equal(config_parse_duration("2m", &s), 0);
  assert_true(s == 120);
  assert_int_equal(config_parse_duration("1h1m1s", &s), 0);
  assert_true(s == 3661);
  assert_int_not_equal(config_parse_duration("", &s), 0);
  assert_int_not_equal(config_parse_duration("1", &s), 0);
  assert_int_not_equal(config_parse_duration("1.5s", &s), 0);
  assert_int_not_equal(config_parse_duration("s", &s), 0);
  assert_int_not_equal(config_parse_duration("1d", &s), 0);
}

static void test_duplicates(void **state) {
  (void)state;
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    nodes:\n"
               "      - {name: db1, address: 'h:1'}\n"
               "      - {name: db1, address: 'h:2'}\n",
               "6:9: node 'db1': duplicate node name (also at line 5)");
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    nodes: [{name: db1, address: 'h:1'}]\n"
               "  - cluster: b\n    user: u\n    nodes: [{name: db1, address: 'h:2'}]\n",
               "7:13: node 'db1': duplicate node name (also at line 4)");
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    nodes: [{name: db1, address: 'h:1'}]\n"
               "  - cluster: a\n    user: u\n    nodes: [{name: db2, address: 'h:2'}]\n",
               "5:5: mariadb cluster 'a': duplicate cluster name");
  expect_error("global:\n  poll_interval: 1s\n  poll_interval: 2s\n",
               "3:3: global: duplicate key 'poll_interval'");
}

static void test_passwords(void **state) {
  (void)state;
  char message[600];
  snprintf(message, sizeof(message),
           "4:20: password_file: cannot read '%s/missing.pass': No such file or directory", dir);
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    password_file: missing.pass\n"
               "    nodes: [{name: n, address: 'h:1'}]\n",
               message);
  unsetenv("REPLMON_TEST_UNSET");
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    password_env: REPLMON_TEST_UNSET\n"
               "    nodes: [{name: n, address: 'h:1'}]\n",
               "4:19: password_env: environment variable REPLMON_TEST_UNSET is not set");
  write_file("p.pass", "x\n");
  setenv("REPLMON_TEST_PW", "x", 1);
  expect_error("mariadb:\n  - cluster: a\n    user: u\n    password_file: p.pass\n"
               "    password_env: REPLMON_TEST_PW\n    nodes: [{name: n, address: 'h:1'}]\n",
               "5:19: set only one of password_file and password_env");
}

static void test_addresses(void **state) {
  (void)state;
  expect_error("mariadb: [{cluster: a, user: u, nodes: [{name: n, address: 'h:99999'}]}]\n",
               "1:60: address: bad port in 'h:99999'");
  expect_error("mariadb: [{cluster: a, user: u, nodes: [{name: n, address: ':3306'}]}]\n",
               "1:60: address: missing host in ':3306'");
  expect_error("mariadb: [{cluster: a, user: u, nodes: [{name: n, address: '::1:3306'}]}]\n",
               "1:60: address: write an IPv6 address as [addr]:port");
  expect_error("mariadb: [{cluster: a, user: u, nodes: [{name: n, address: 'h:1', socket: /s}]}]\n",
               "1:41: mariadb node 'n': set exactly one of 'address' and 'socket'");
}

static void test_invalid_yaml(void **state) {
  (void)state;
  expect_error("global:\n  poll_interval: [1s\n",
               "3:1: invalid YAML: did not find expected ',' or ']' while parsing a flow sequence");
  expect_error("global:\n\tpoll_interval: 1s\n",
               "2:1: invalid YAML: found character that cannot start any token while scanning "
               "for the next token");
}

static void test_unreadable_file(void **state) {
  (void)state;
  struct config *config = NULL;
  char *error = NULL;
  assert_int_not_equal(config_load("/nonexistent/replmon.yml", &config, &error), 0);
  assert_string_equal(error,
                      "/nonexistent/replmon.yml:1:1: cannot read: No such file or directory");
  free(error);
}

/* Files that are not what they claim: refused at once, never read forever. */
static void test_hostile_files(void **state) {
  (void)state;
  struct config *config = NULL;
  char *error = NULL;
  char path[600], message[700];
  assert_int_not_equal(config_load(dir, &config, &error), 0);
  snprintf(message, sizeof(message), "%s:1:1: cannot read: it is a directory", dir);
  assert_string_equal(error, message);
  free(error);
  snprintf(path, sizeof(path), "%s/fifo.yml", dir);
  assert_int_equal(mkfifo(path, 0600), 0);
  assert_int_not_equal(config_load(path, &config, &error), 0);
  snprintf(message, sizeof(message), "%s:1:1: cannot read: not a regular file", path);
  assert_string_equal(error, message);
  free(error);
  expect_error("mariadb: [{cluster: a, user: u, password_file: /dev/zero, "
               "nodes: [{name: n, address: 'h:1'}]}]\n",
               "1:48: password_file: cannot read '/dev/zero': not a regular file");
  write_file("nul.pass", "ab\0cd");
  {
    /* write_file stops at the NUL: write the file by hand. */
    snprintf(path, sizeof(path), "%s/nul.pass", dir);
    FILE *f = fopen(path, "wb");
    fwrite("ab\0cd\n", 1, 6, f);
    fclose(f);
  }
  expect_error("mariadb: [{cluster: a, user: u, password_file: nul.pass, "
               "nodes: [{name: n, address: 'h:1'}]}]\n",
               "1:48: password_file: contains a NUL byte");
  /* Deep nesting is refused before libyaml's loader would crawl through it. */
  char deep[4096] = "global: ";
  for (int i = 0; i < 1000; i++)
    strcat(deep, "[");
  strcat(deep, "\n");
  expect_error(deep, "1:40: nested deeper than 32 levels");
  expect_error("global: {poll_interval: 1s}\n---\nglobal: {}\n",
               "3:1: only one YAML document is allowed");
}

/* Text quoted from the file cannot break the one-line error (found by fuzzing). */
static void test_error_stays_one_line(void **state) {
  (void)state;
  expect_error("mariadb: [{cluster: a, user: u, links: [\"x\\n\\ty <- n\"], "
               "nodes: [{name: n, address: 'h:1'}]}]\n",
               "1:41: links: 'x\\n?y <- n' names a node this cluster does not have");
}

#define XMPP_NODE "xmpp: [{cluster: c, nodes: [{name: x, type: prosody, api_url: 'http://h/m', "

/* The logged-in probe's account: a JID with a domain, one password source, a c2s address. */
static void test_probe_account(void **state) {
  (void)state;
  setenv("REPLMON_TEST_PROBE_PW", "probe-Secret-1", 1);
  struct config *config =
      expect_ok(XMPP_NODE "c2s_address: 'h:5222', domain: d, probe_account: {jid: mon@d, "
                          "password_env: REPLMON_TEST_PROBE_PW, relogin_interval: 30s}}]}]\n");
  assert_int_equal(config->n_targets, 3); /* API, stream probe, logged-in probe */
  assert_int_equal(config->targets[2].kind, PROBE_XMPP_LOGIN);
  const struct xmpp_node_config *n = &config->xmpp[0].nodes[0];
  assert_int_equal(n->login_target, 2);
  assert_string_equal(n->login.account.jid, "mon@d");
  assert_string_equal(n->login.account.password, "probe-Secret-1");
  assert_true(n->login.relogin_interval_s == 30);
  assert_false(target_is_node(&config->targets[2]));
  config_unref(config);
  expect_error(XMPP_NODE "c2s_address: 'h:5222', domain: d, probe_account: {jid: mon@d}}]}]\n",
               "1:126: probe_account: missing a password (password_file or password_env)");
  expect_error(XMPP_NODE "c2s_address: 'h:5222', domain: d, probe_account: {jid: mon, "
                         "password_env: REPLMON_TEST_PROBE_PW}}]}]\n",
               "1:132: probe_account.jid: expected user@domain, not 'mon'");
  expect_error(XMPP_NODE "probe_account: {jid: mon@d, password_env: REPLMON_TEST_PROBE_PW}}]}]\n",
               "1:92: probe_account: needs the node's c2s_address (where users log in)");
  expect_error(XMPP_NODE "c2s_address: 'h:5222', domain: d, probe_account: {jid: mon@d, "
                         "password_env: REPLMON_TEST_PROBE_PW, password_file: x}}]}]\n",
               "1:153: probe_account: set only one of password_file and password_env");
  expect_error(XMPP_NODE "c2s_address: 'h:5222', domain: d, probe_account: {jid: mon@d, "
                         "password_env: REPLMON_TEST_PROBE_PW, pasword: x}}]}]\n",
               "1:176: probe_account: unknown key 'pasword'");
  expect_error(XMPP_NODE "tls: {ca_file: /nonexistent/ca.pem}}]}]\n",
               "1:92: tls.ca_file: cannot read '/nonexistent/ca.pem': No such file or directory");
}

/* The stream probe's TLS endpoints: direct TLS on c2s, an s2s address (5269 by default),
 * and the CA file they are verified against. */
static void test_stream_tls_endpoints(void **state) {
  (void)state;
  write_file("stream-ca.pem", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n");
  struct config *config =
      expect_ok(XMPP_NODE "c2s_address: 'h:5223', c2s_direct_tls: true, s2s_address: s, "
                          "domain: d, tls: {ca_file: stream-ca.pem}}]}]\n");
  assert_int_equal(config->n_targets, 2); /* API, stream probe */
  const struct xmpp_node_config *n = &config->xmpp[0].nodes[0];
  assert_true(n->stream.direct_tls);
  assert_string_equal(n->stream.s2s_host, "s");
  assert_int_equal(n->stream.s2s_port, 5269);
  assert_string_equal(n->stream.host, "h");
  assert_int_equal(n->stream.port, 5223);
  assert_non_null(strstr(n->stream.ca_file, "/stream-ca.pem"));
  config_unref(config);
  /* s2s alone is a stream probe too. */
  config = expect_ok(XMPP_NODE "s2s_address: 's:5270', domain: d}]}]\n");
  assert_int_equal(config->n_targets, 2);
  n = &config->xmpp[0].nodes[0];
  assert_null(n->stream.host);
  assert_int_equal(n->stream.s2s_port, 5270);
  assert_null(n->stream.ca_file); /* the system's store */
  config_unref(config);
  expect_error(XMPP_NODE "s2s_address: s}]}]\n",
               "1:29: xmpp node 'x': s2s_address needs 'domain' (the stream's to)");
  expect_error(XMPP_NODE "c2s_direct_tls: true, domain: d}]}]\n",
               "1:93: c2s_direct_tls: needs the node's c2s_address");
  expect_error(XMPP_NODE "c2s_direct_tls: yes please, c2s_address: h, domain: d}]}]\n",
               "1:93: c2s_direct_tls: expected true or false");
  expect_error(XMPP_NODE "c2s_address: 'h:5222', s2s_address: 'h:5222', domain: d}]}]\n",
               "1:113: s2s_address: port 5222 is c2s_address's too (the port label tells them "
               "apart)");
}

#define S2S_NODE(s2s_ping)                                                                         \
  XMPP_NODE "c2s_address: 'h:5222', domain: one.test, probe_account: {jid: mon@one.test, "         \
            "password_env: REPLMON_TEST_PROBE_PW}, s2s_ping: " s2s_ping "}]}]\n"

/* s2s_ping: remote domains for the logged-in probe's session: each a domain, none twice,
 * not the node's own, at most 16, and only with a probe_account. */
static void test_s2s_ping(void **state) {
  (void)state;
  setenv("REPLMON_TEST_PROBE_PW", "probe-Secret-1", 1);
  struct config *config = expect_ok(S2S_NODE("[two.test, Three.Example.org]"));
  const struct xmpp_node_config *n = &config->xmpp[0].nodes[0];
  assert_int_equal(n->n_s2s_ping, 2);
  assert_int_equal(n->login.n_s2s_remotes, 2);
  assert_string_equal(n->login.s2s_remotes[0], "two.test");
  assert_string_equal(n->login.s2s_remotes[1], "Three.Example.org");
  config_unref(config);
  /* Without s2s_ping the probe has no remotes to ping. */
  config = expect_ok(XMPP_NODE "c2s_address: 'h:5222', domain: d, probe_account: {jid: mon@d, "
                               "password_env: REPLMON_TEST_PROBE_PW}}]}]\n");
  assert_int_equal(config->xmpp[0].nodes[0].login.n_s2s_remotes, 0);
  config_unref(config);
  /* 16 remotes, the most. */
  struct buf many = BUF_INIT;
  buf_puts(&many, "[r0.test");
  for (int i = 1; i < 16; i++)
    buf_printf(&many, ", r%d.test", i);
  struct buf text = BUF_INIT;
  buf_printf(&text, S2S_NODE("%s]"), many.data);
  config = expect_ok(text.data);
  assert_int_equal(config->xmpp[0].nodes[0].n_s2s_ping, 16);
  config_unref(config);
  buf_reset(&text);
  buf_printf(&text, S2S_NODE("%s, r16.test]"), many.data);
  expect_error(text.data, "1:201: s2s_ping: at most 16 remote domains, not 17");
  buf_free(&text);
  buf_free(&many);

  expect_error(XMPP_NODE "c2s_address: 'h:5222', domain: d, s2s_ping: [two.test]}]}]\n",
               "1:121: s2s_ping: needs the node's probe_account (the pings go over its session)");
  expect_error(S2S_NODE("two.test"),
               "1:201: s2s_ping: expected a list of remote XMPP domains, e.g. [two.example]");
  expect_error(S2S_NODE("[mon@two.test]"),
               "1:202: s2s_ping: 'mon@two.test' is not a domain name (a remote XMPP domain such "
               "as two.example)");
  expect_error(S2S_NODE("[two.test/res]"),
               "1:202: s2s_ping: 'two.test/res' is not a domain name (a remote XMPP domain such "
               "as two.example)");
  expect_error(S2S_NODE("['two test']"),
               "1:202: s2s_ping: 'two test' is not a domain name (a remote XMPP domain such as "
               "two.example)");
  expect_error(S2S_NODE("['two.test:5269']"),
               "1:202: s2s_ping: 'two.test:5269' is not a domain name (a remote XMPP domain "
               "such as two.example)");
  expect_error(S2S_NODE("['']"),
               "1:202: s2s_ping: '' is not a domain name (a remote XMPP domain such as "
               "two.example)");
  expect_error(S2S_NODE("[{a: b}]"), "1:202: s2s_ping: expected a domain name such as two.example");
  expect_error(S2S_NODE("[two.test, TWO.test]"), "1:212: s2s_ping: 'TWO.test' is listed twice");
  expect_error(S2S_NODE("[two.test, One.Test]"),
               "1:212: s2s_ping: 'One.Test' is the node's own domain; list remote ones");
}

#define TWO_NODES(delivery)                                                                        \
  "xmpp: [{cluster: c, delivery: " delivery ", nodes: ["                                           \
  "{name: a, type: ejabberd, api_url: 'http://h/api', c2s_address: 'h:1', domain: d, "             \
  "probe_account: {jid: m@d, password_env: REPLMON_TEST_PROBE_PW}}, "                              \
  "{name: b, type: ejabberd, api_url: 'http://h/api', c2s_address: 'h:2', domain: d, "             \
  "probe_account: {jid: n@d, password_env: REPLMON_TEST_PROBE_PW}}, "                              \
  "{name: z, type: ejabberd, api_url: 'http://h/api'}]}]\n"

/* delivery: two different nodes of the cluster, each with a probe account. */
static void test_delivery(void **state) {
  (void)state;
  setenv("REPLMON_TEST_PROBE_PW", "probe-Secret-1", 1);
  struct config *config = expect_ok(TWO_NODES("[b, a]"));
  const struct xmpp_cluster_config *cl = &config->xmpp[0];
  assert_true(cl->delivery);
  assert_int_equal(cl->delivery_target, (long)config->n_targets - 1);
  const struct target *t = &config->targets[cl->delivery_target];
  assert_int_equal(t->kind, PROBE_XMPP_DELIVERY);
  assert_string_equal(t->name, "b<->a");
  assert_string_equal(cl->delivery_settings.accounts[0].jid, "n@d");
  assert_false(target_is_node(t));
  config_unref(config);
  expect_error(TWO_NODES("[a]"),
               "1:31: delivery: expected the names of two nodes, e.g. [ej1, ej2]");
  expect_error(TWO_NODES("[a, q]"), "1:35: delivery: 'q' is not a node of this cluster");
  expect_error(TWO_NODES("[a, z]"),
               "1:35: delivery: node 'z' has no probe_account to send and receive with");
  expect_error(TWO_NODES("[a, a]"), "1:35: delivery: name two different nodes");
}

static void test_bounds(void **state) {
  (void)state;
  const char *nodes = "mariadb: [{cluster: a, user: u, nodes: [{name: n, address: 'h:1'}]}]\n";
  char text[512];
  snprintf(text, sizeof(text), "global: {poll_interval: 10ms}\n%s", nodes);
  expect_error(text, "1:25: global.poll_interval must be between 100ms and 1h");
  snprintf(text, sizeof(text), "global: {query_timeout: 2h}\n%s", nodes);
  expect_error(text, "1:25: global.query_timeout must not be longer than 1h");
  snprintf(text, sizeof(text), "global: {poll_interval: 1s1s}\n%s", nodes);
  expect_error(text, "1:25: global.poll_interval: bad duration '1s1s' (use e.g. 500ms, 1s, 2m or "
                     "1m30s)");
  snprintf(text, sizeof(text), "global:\n%s", nodes);
  struct config *c = expect_ok(text); /* an empty global: keeps the defaults */
  assert_true(c->poll_interval_s == 1);
  config_unref(c);
}

static void test_refcount(void **state) {
  (void)state;
  write_file("monitor.pass", "s3cret\n");
  struct config *c = expect_ok(valid);
  assert_ptr_equal(config_ref(c), c);
  config_unref(c);
  assert_string_equal(c->mariadb[0].name, "chatdb"); /* still alive: one reference left */
  config_unref(c);
  config_unref(NULL);
}

static const char xmpp_valid[] =
    "xmpp:\n"
    "  - cluster: chat\n"
    "    nodes:\n"
    "      - name: xmpp1\n"
    "        type: ejabberd\n"
    "        api_url: http://10.0.0.2:5280/api\n"
    "        auth: {basic_user: monitor@chat.example, password_file: xmpp.pass}\n"
    "        c2s_address: 10.0.0.2\n"
    "        domain: chat.example\n"
    "      - name: xmpp2\n"
    "        type: prosody\n"
    "        api_url: http://10.0.0.3:5280/metrics\n"
    "      - name: of1\n"
    "        type: openfire\n"
    "        api_url: http://10.0.0.4:9090/plugins/restapi/v1\n"
    "        auth: {secret_env: REPLMON_TEST_SECRET}\n"
    "        c2s_address: '10.0.0.4:5223'\n"
    "        domain: chat.example\n";

static void test_xmpp_valid(void **state) {
  (void)state;
  write_file("xmpp.pass", "xpw\n");
  setenv("REPLMON_TEST_SECRET", "s3cr3t", 1);
  struct config *c = expect_ok(xmpp_valid);
  assert_int_equal(c->n_mariadb, 0);
  assert_int_equal(c->n_xmpp, 1);
  const struct xmpp_cluster_config *cl = &c->xmpp[0];
  assert_int_equal(cl->n_nodes, 3);
  assert_int_equal(cl->nodes[0].type, XMPP_EJABBERD);
  assert_string_equal(cl->nodes[0].basic_user, "monitor@chat.example");
  assert_string_equal(cl->nodes[0].password, "xpw");
  assert_string_equal(cl->nodes[0].c2s_host, "10.0.0.2");
  assert_int_equal(cl->nodes[0].c2s_port, 5222);
  assert_int_equal(cl->nodes[1].type, XMPP_PROSODY);
  assert_null(cl->nodes[1].c2s_address);
  assert_string_equal(cl->nodes[2].secret, "s3cr3t");
  assert_int_equal(cl->nodes[2].c2s_port, 5223);
  /* Three API targets, then the two stream probes. */
  assert_int_equal(c->n_targets, 5);
  assert_int_equal(c->targets[0].kind, PROBE_XMPP_API);
  assert_int_equal(c->targets[2].kind, PROBE_XMPP_API);
  assert_int_equal(c->targets[3].kind, PROBE_XMPP_STREAM);
  assert_string_equal(c->targets[3].name, "xmpp1");
  assert_string_equal(c->targets[4].name, "of1");
  config_unref(c);
}

static void test_xmpp_errors(void **state) {
  (void)state;
  expect_error("xmpp:\n  - cluster: chat\n    nodes:\n      - name: x\n        type: jabberd\n"
               "        api_url: http://h/api\n",
               "5:15: type: must be ejabberd, prosody or openfire");
  expect_error("xmpp:\n  - cluster: chat\n    nodes:\n      - name: x\n        type: prosody\n",
               "4:9: xmpp node 'x': missing 'api_url'");
  expect_error("xmpp:\n  - cluster: chat\n    nodes:\n      - {name: x, type: prosody, "
               "api_url: 'ftp://h/metrics'}\n",
               "4:43: api_url: must start with http:// or https://");
  expect_error("xmpp:\n  - cluster: chat\n    nodes:\n      - {name: x, type: prosody, "
               "api_url: 'http://u:p@h/metrics'}\n",
               "4:43: api_url: put credentials in 'auth', not in the URL");
  expect_error("xmpp:\n  - cluster: chat\n    nodes:\n      - {name: x, type: ejabberd, "
               "api_url: 'http://h/api', c2s_address: 'h:5222'}\n",
               "4:9: xmpp node 'x': c2s_address needs 'domain' (the stream's to)");
  expect_error("xmpp:\n  - cluster: chat\n    nodes:\n      - {name: x, type: ejabberd, "
               "api_url: 'http://h/api', auth: {secret_env: X}}\n",
               "4:66: auth: a shared secret is for type openfire; ejabberd uses basic_user and "
               "password_file");
  expect_error("xmpp:\n  - cluster: chat\n    nodes:\n      - {name: x, type: ejabberd, "
               "api_url: 'http://h/api', auth: {basic_user: u}}\n",
               "4:66: auth: basic_user and a password (password_file or password_env) go "
               "together");
  expect_error("xmpp:\n  - cluster: chat\n    nodes:\n      - {name: x, type: ejabberd, "
               "api_url: 'http://h/api', auth: {token: t}}\n",
               "4:67: xmpp auth: unknown key 'token'");
  /* A node name is unique across MariaDB and XMPP: it labels every series. */
  expect_error(
      "mariadb: [{cluster: a, user: u, nodes: [{name: db1, address: 'h:1'}]}]\n"
      "xmpp: [{cluster: chat, nodes: [{name: db1, type: prosody, api_url: 'http://h/'}]}]\n",
      "2:32: node 'db1': duplicate node name (also at line 1)");
}

static const char pem_cert[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
static const char pem_key[] = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

/* The tls block of a cluster before its nodes, in flow style on one line (line 2). */
static const char *tls_config(const char *block) {
  static char text[1024];
  snprintf(
      text, sizeof(text),
      "mariadb:\n  - {cluster: a, user: u, tls: %s,\n     nodes: [{name: n, address: 'h:1'}]}\n",
      block);
  return text;
}

static void write_tls_files(void) {
  char path[600];
  write_file("ca.pem", pem_cert);
  write_file("client.pem", pem_cert);
  write_file("client.key", pem_key);
  snprintf(path, sizeof(path), "%s/client.key", dir);
  chmod(path, 0600);
}

static void test_mariadb_tls(void **state) {
  (void)state;
  write_tls_files();
  char abs_cert[600];
  snprintf(abs_cert, sizeof(abs_cert), "%s/client.pem", dir);
  char block[800];
  snprintf(block, sizeof(block), "{ca_file: ca.pem, cert_file: '%s', key_file: client.key}",
           abs_cert);
  struct config *c = expect_ok(tls_config(block));
  const struct mariadb_tls_config *tls = &c->mariadb[0].tls;
  char expected[600];
  assert_true(tls->enabled);
  assert_true(tls->verify_server_cert);                   /* the default with a tls block */
  snprintf(expected, sizeof(expected), "%s/ca.pem", dir); /* relative to the file */
  assert_string_equal(tls->ca_file, expected);
  assert_string_equal(tls->cert_file, abs_cert);
  snprintf(expected, sizeof(expected), "%s/client.key", dir);
  assert_string_equal(tls->key_file, expected);
  assert_null(c->warnings);
  config_unref(c);

  /* Encryption without verification needs no CA. */
  c = expect_ok(tls_config("{verify_server_cert: false}"));
  assert_true(c->mariadb[0].tls.enabled);
  assert_false(c->mariadb[0].tls.verify_server_cert);
  assert_null(c->mariadb[0].tls.ca_file);
  assert_null(c->mariadb[0].tls.cert_file);
  config_unref(c);

  /* Without the block: no TLS. */
  c = expect_ok("mariadb: [{cluster: a, user: u, nodes: [{name: n, address: 'h:1'}]}]\n");
  assert_false(c->mariadb[0].tls.enabled);
  assert_null(c->mariadb[0].tls.ca_file);
  config_unref(c);

  /* A key others can read loads, with a warning (as a password file does). */
  snprintf(expected, sizeof(expected), "%s/client.key", dir);
  chmod(expected, 0640);
  c = expect_ok(tls_config("{ca_file: ca.pem, cert_file: client.pem, key_file: client.key}"));
  assert_non_null(c->warnings);
  assert_non_null(strstr(c->warnings, "tls.key_file: '"));
  assert_non_null(strstr(c->warnings, "client.key' is readable by its group (mode 0640)"));
  config_unref(c);
  chmod(expected, 0600);
}

static void test_mariadb_tls_errors(void **state) {
  (void)state;
  write_tls_files();
  char message[800];
  expect_error(tls_config("{ca_file: ca.pem, cafile: x}"), "2:50: tls: unknown key 'cafile'");
  expect_error(tls_config("{ca_file: ca.pem, key_file: client.key}"),
               "2:60: tls.key_file: needs cert_file (the client certificate)");
  expect_error(tls_config("{ca_file: ca.pem, cert_file: client.pem}"),
               "2:61: tls.cert_file: needs key_file (its private key)");
  expect_error(tls_config("{cert_file: client.pem, key_file: client.key}"),
               "2:32: tls: ca_file (the CA that signed the nodes' certificates) is required "
               "unless verify_server_cert is false");
  /* Wrong types. */
  expect_error(tls_config("true"), "2:32: tls: expected a mapping");
  expect_error(tls_config("{ca_file: [ca.pem]}"), "2:42: tls.ca_file: expected a path");
  expect_error(tls_config("{ca_file: ca.pem, verify_server_cert: yes}"),
               "2:70: tls.verify_server_cert: expected true or false");
  expect_error(tls_config("{ca_file: ca.pem, ca_file: ca.pem}"),
               "2:50: tls: duplicate key 'ca_file'");
  /* Files: missing, not a file, not PEM, a key with a passphrase. */
  snprintf(message, sizeof(message),
           "2:42: tls.ca_file: cannot read '%s/missing.pem': No such file or directory", dir);
  expect_error(tls_config("{ca_file: missing.pem}"), message);
  snprintf(message, sizeof(message), "2:42: tls.ca_file: cannot read '%s': it is a directory", dir);
  char block[800];
  snprintf(block, sizeof(block), "{ca_file: '%s'}", dir);
  expect_error(tls_config(block), message);
  expect_error(tls_config("{ca_file: /dev/zero}"),
               "2:42: tls.ca_file: cannot read '/dev/zero': not a regular file");
  write_file("der.pem", "0\x82\x01\x0a");
  snprintf(message, sizeof(message), "2:61: tls.cert_file: '%s/der.pem' holds no PEM block", dir);
  expect_error(tls_config("{ca_file: ca.pem, cert_file: der.pem, key_file: client.key}"), message);
  write_file("locked.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n"
                           "-----END ENCRYPTED PRIVATE KEY-----\n");
  snprintf(message, sizeof(message),
           "2:83: tls.key_file: '%s/locked.key' is encrypted; give replmon a key without a "
           "passphrase",
           dir);
  expect_error(tls_config("{ca_file: ca.pem, cert_file: client.pem, key_file: locked.key}"),
               message);
}

static int setup(void **state) {
  (void)state;
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_semisync),
      cmocka_unit_test(test_heartbeat_phases),
      cmocka_unit_test(test_defaults_and_env),
      cmocka_unit_test(test_unknown_key),
      cmocka_unit_test(test_wrong_type),
      cmocka_unit_test(test_missing_field),
      cmocka_unit_test(test_bad_duration),
      cmocka_unit_test(test_duration_parser),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_passwords),
      cmocka_unit_test(test_addresses),
      cmocka_unit_test(test_invalid_yaml),
      cmocka_unit_test(test_unreadable_file),
      cmocka_unit_test(test_refcount),
      cmocka_unit_test(test_xmpp_valid),
      cmocka_unit_test(test_xmpp_errors),
      cmocka_unit_test(test_hostile_files),
      cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_probe_account),
      cmocka_unit_test(test_s2s_ping),
      cmocka_unit_test(test_delivery),
      cmocka_unit_test(test_readable_secret_warns),
      cmocka_unit_test(test_error_stays_one_line),
      cmocka_unit_test(test_mariadb_tls),
      cmocka_unit_test(test_stream_tls_endpoints),
      cmocka_unit_test(test_mariadb_tls_errors),
  };
  return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
