/* The status page on hand-built snapshots: a card per node with its state class, reason and
 * since-when, the replication details of a broken node, an XMPP node, HTML escaping, no
 * secret on the page, and the refresh. Set REPLMON_STATUS_PAGE_HTML=FILE to write the example
 * page to FILE (to look at it in a browser). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "health.h"
#include "helpers.h"
#include "status_page.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <math.h>
#include <stdio.h>

#define NOW 1800000000.0
#define DB_SECRET "db-Pa55word-never-shown"
#define XMPP_SECRET "xmpp-Pa55word-never-shown"

static const struct status_page_options options = {"/metrics", {"1.2.3", "abc123"}, NOW};

static const char yaml[] = "global:\n"
                           "  poll_interval: 1500ms\n"
                           "mariadb:\n"
                           "  - cluster: chatdb\n"
                           "    user: monitor\n"
                           "    password_env: REPLMON_TEST_DB_SECRET\n"
                           "    nodes:\n"
                           "      - {name: db1, address: '127.0.0.1:3306'}\n"
                           "      - {name: db2, address: '127.0.0.1:3307'}\n"
                           "xmpp:\n"
                           "  - cluster: chat\n"
                           "    nodes:\n"
                           "      - name: xmpp1\n"
                           "        type: ejabberd\n"
                           "        api_url: 'http://127.0.0.1:5280/api'\n"
                           "        auth: {basic_user: monitor@chat.test,"
                           " password_env: REPLMON_TEST_XMPP_SECRET}\n"
                           "        c2s_address: '127.0.0.1:5222'\n"
                           "        domain: chat.test\n";

struct page {
  struct config *config;
  struct snapshot_store *store;
  struct snapshot *snapshot;
  struct buf html;
};

/* The store's clock: the time a test sets before each publish. */
static double clock_now;

static double test_clock(void *ctx) {
  (void)ctx;
  return clock_now;
}

/* Variables that pass every pair check (a pair as the README builds it). */
static void sane_variables(struct target_result *r, double id) {
  MARIADB(r)->server_id = id;
  MARIADB(r)->read_only = 0;
  MARIADB(r)->gtid_domain_id = id;
  MARIADB(r)->auto_increment_increment = 2;
  MARIADB(r)->auto_increment_offset = id;
  MARIADB(r)->log_slave_updates = 1;
  MARIADB(r)->log_bin = 1;
  MARIADB(r)->binlog_format = strdup("ROW");
}

/* db1 healthy, db2's SQL thread stopped on a duplicate key, xmpp1 answering with STARTTLS. */
/* Each result is published at the time the states it brings began: db1 ok for 1h02m05s, db2
 * critical for 3m12s, xmpp1 ok for 30s. */
static void example_page(struct page *p) {
  setenv("REPLMON_TEST_DB_SECRET", DB_SECRET, 1);
  setenv("REPLMON_TEST_XMPP_SECRET", XMPP_SECRET, 1);
  p->config = config_from_yaml(yaml);
  p->store = snapshot_store_new(p->config);
  assert_non_null(p->store);
  snapshot_store_set_clock(p->store, test_clock, NULL);
  assert_int_equal(p->config->n_targets, 4); /* db1, db2, xmpp1 API, xmpp1 stream */
  clock_now = NOW - 3725;

  struct target_result *db1 = mariadb_result();
  db1->success = true;
  db1->last_success_unix = NOW - 0.5;
  MARIADB(db1)->known = true;
  sane_variables(db1, 1);
  struct replica_status *a = add_replica(db1, "", "db2");
  a->io_state = IO_STATE_YES;
  a->sql_running = true;
  a->seconds_behind_master = 0;
  a->sql_delay_seconds = 0;
  assert_int_equal(snapshot_store_publish(p->store, p->config, 0, db1), 0);
  clock_now = NOW - 192;

  struct target_result *db2 = mariadb_result();
  db2->success = true;
  db2->last_success_unix = NOW - 0.4;
  MARIADB(db2)->known = true;
  sane_variables(db2, 2);
  struct replica_status *b = add_replica(db2, "", "db1");
  b->io_state = IO_STATE_YES;
  b->sql_running = false;
  b->seconds_behind_master = NAN;
  b->sql_delay_seconds = 0;
  b->last_sql_errno = 1062;
  free(b->last_sql_error);
  b->last_sql_error = strdup("Could not execute Write_rows_v1 event on table app.t; Duplicate "
                             "entry '1000' for key 'PRIMARY', Error_code: 1062");
  assert_int_equal(snapshot_store_publish(p->store, p->config, 1, db2), 0);
  clock_now = NOW - 30;

  struct target_result *api = xmpp_result();
  api->success = true;
  api->last_success_unix = NOW - 0.3;
  XMPP(api)->up = true;
  XMPP(api)->c2s_sessions = 42;
  XMPP(api)->registered_users = 1234;
  XMPP(api)->s2s_in = 3;
  XMPP(api)->s2s_out = 4;
  XMPP(api)->muc_rooms = 7;
  XMPP(api)->uptime_seconds = 90061;
  XMPP(api)->version = strdup("23.01");
  assert_int_equal(snapshot_store_publish(p->store, p->config, 2, api), 0);

  struct target_result *stream = stream_result();
  stream->success = true;
  stream->last_success_unix = NOW - 0.3;
  STREAM(stream)->known = true;
  STREAM(stream)->starttls_offered = true;
  STREAM(stream)->cert_expiry_unix = NOW + 40 * 86400.0;
  assert_int_equal(snapshot_store_publish(p->store, p->config, 3, stream), 0);

  p->snapshot = snapshot_store_acquire(p->store);
  p->html = (struct buf)BUF_INIT;
  assert_int_equal(status_page_render(p->snapshot, &options, &p->html), 0);
  assert_false(p->html.failed);
  assert_non_null(p->html.data);
}

static void page_free(struct page *p) {
  buf_free(&p->html);
  snapshot_unref(p->snapshot);
  snapshot_store_free(p->store);
  config_unref(p->config);
}

/* The whole <article> of node's card: from its opening tag to its </article>. */
static char *card_of(const char *html, const char *node) {
  char needle[256];
  snprintf(needle, sizeof(needle), "data-node=\"%s\"", node);
  const char *at = strstr(html, needle);
  if (!at)
    return NULL;
  const char *start = at;
  while (start > html && strncmp(start, "<article", 8) != 0)
    start--;
  const char *end = strstr(at, "</article>");
  assert_non_null(end);
  return strndup(start, (size_t)(end - start));
}

static void assert_contains(const char *haystack, const char *needle) {
  if (!strstr(haystack, needle))
    fail_msg("missing \"%s\" in:\n%s", needle, haystack);
}

static void test_healthy_card(void **state) {
  (void)state;
  struct page p;
  example_page(&p);
  const char *path = getenv("REPLMON_STATUS_PAGE_HTML");
  if (path) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(p.html.data, 1, p.html.len, f);
    fclose(f);
  }
  char *card = card_of(p.html.data, "db1");
  assert_non_null(card);
  assert_contains(card, "class=\"card state-ok\"");
  assert_contains(card, "data-state=\"ok\"");
  assert_contains(card, "<p class=\"reason\">replicating, lag 0.0s</p>");
  assert_contains(card, "ok for 1h02m");
  assert_contains(card, "chatdb");
  assert_contains(card, "MariaDB");
  assert_contains(card, "<dt>Server ID</dt><dd>1</dd>");
  assert_contains(card, "<dt>Read-only</dt><dd>no</dd>");
  assert_contains(card, "<dt>Lag</dt><dd>0.0s</dd>");
  assert_contains(card, "<td>db2</td><td><span class=\"y\">yes</span></td>");
  assert_contains(card, "href=\"/health/db1\"");
  assert_contains(card, "href=\"/probe?target=db1\"");
  free(card);
  page_free(&p);
}

static void test_broken_card(void **state) {
  (void)state;
  struct page p;
  example_page(&p);
  char *card = card_of(p.html.data, "db2");
  assert_non_null(card);
  assert_contains(card, "class=\"card state-critical\"");
  assert_contains(card, "data-state=\"critical\"");
  assert_contains(card, "<p class=\"reason\">replication from db1 broken: IO yes, SQL no "
                        "(SQL error 1062: ");
  assert_contains(card, "down for 3m12s");
  assert_contains(card, "<span class=\"n\">no</span>");
  /* The error text, escaped, in the connection's row. */
  assert_contains(card, "SQL error 1062: Could not execute Write_rows_v1 event on table app.t; "
                        "Duplicate entry &#39;1000&#39; for key &#39;PRIMARY&#39;");
  free(card);
  /* The summary and the title count the states, worst first. */
  assert_contains(p.html.data, "<title>replmon: 1 critical, 2 ok</title>");
  assert_contains(p.html.data, "data-state=\"critical\"><div class=\"overall\"><em>Critical</em>");
  page_free(&p);
}

static void test_xmpp_card(void **state) {
  (void)state;
  struct page p;
  example_page(&p);
  char *card = card_of(p.html.data, "xmpp1");
  assert_non_null(card);
  assert_contains(card, "class=\"card state-ok\"");
  assert_contains(card, "data-kind=\"xmpp\"");
  assert_contains(card, "<p class=\"reason\">answering, 42 sessions</p>");
  assert_contains(card, "ok for 30s");
  assert_contains(card, "<dd>ejabberd 23.01</dd>");
  assert_contains(card, "<dt>Sessions</dt><dd>42</dd>");
  assert_contains(card, "<dt>Users</dt><dd>1234</dd>");
  assert_contains(card, "<dt>S2S in / out</dt><dd>3 / 4</dd>");
  assert_contains(card, "<dt>Uptime</dt><dd>1d01h</dd>");
  assert_contains(card, "API 127.0.0.1:5280</p>"); /* no path */
  assert_contains(card, "<dt>STARTTLS</dt><dd><span class=\"y\">offered</span>");
  assert_contains(card, "2027-02-24</span><br><small>in 40 days</small>");
  /* ejabberd does not report cluster sessions: left out, not faked. */
  assert_null(strstr(card, "Cluster sessions"));
  free(card);
  page_free(&p);
}

/* A state keeps its since-when through later polls that find it again, and a new state
 * starts its own. */
static void test_since_kept_while_state_holds(void **state) {
  (void)state;
  struct config *config = config_from_yaml("mariadb:\n"
                                           "  - cluster: chatdb\n"
                                           "    user: monitor\n"
                                           "    nodes:\n"
                                           "      - {name: db1, address: '127.0.0.1:1'}\n");
  struct snapshot_store *store = snapshot_store_new(config);
  snapshot_store_set_clock(store, test_clock, NULL);
  double down_at[] = {NOW - 600, NOW - 300, NOW - 20};
  for (int i = 0; i < 3; i++) {
    clock_now = down_at[i];
    struct target_result *r = mariadb_result();
    r->reason = REASON_CONNECT;
    r->error = strdup(i < 2 ? "refused" : "refused again");
    assert_int_equal(snapshot_store_publish(store, config, 0, r), 0);
  }
  struct snapshot *s = snapshot_store_acquire(store);
  struct buf out = BUF_INIT;
  assert_int_equal(status_page_render(s, &options, &out), 0);
  assert_contains(out.data, "<p class=\"since\">down for 10m00s</p>");
  buf_free(&out);
  snapshot_unref(s);
  clock_now = NOW - 5;
  struct target_result *r = mariadb_result();
  r->success = true;
  MARIADB(r)->known = true;
  sane_variables(r, 1);
  assert_int_equal(snapshot_store_publish(store, config, 0, r), 0);
  s = snapshot_store_acquire(store);
  out = (struct buf)BUF_INIT;
  assert_int_equal(status_page_render(s, &options, &out), 0);
  assert_contains(out.data, "<p class=\"since\">ok for 5s</p>");
  buf_free(&out);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

static void test_no_secrets(void **state) {
  (void)state;
  struct page p;
  example_page(&p);
  assert_null(strstr(p.html.data, DB_SECRET));
  assert_null(strstr(p.html.data, XMPP_SECRET));
  assert_null(strstr(p.html.data, "REPLMON_TEST_DB_SECRET"));
  assert_null(strstr(p.html.data, "monitor@chat.test"));
  assert_null(strstr(p.html.data, "/api"));
  page_free(&p);
}

static void test_refresh_and_head(void **state) {
  (void)state;
  struct page p;
  example_page(&p);
  const char *html = p.html.data;
  /* poll_interval 1500ms: refreshed every ceil(1.5) = 2 s. */
  assert_contains(html, "<meta http-equiv=\"refresh\" content=\"2\">");
  assert_contains(html, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
  assert_contains(html, "<a href=\"/metrics\">Metrics</a>");
  assert_contains(html, "href=\"/-/healthy\"");
  assert_contains(html, "version 1.2.3");
  assert_contains(html, "revision abc123");
  assert_contains(html, "<style>");
  assert_contains(html, "Updated 2027-01-15 08:00:00 UTC");
  /* Nothing from elsewhere: no external stylesheet, script, font or image; the one link is the
   * empty icon that keeps browsers from fetching /favicon.ico. */
  const char *link = strstr(html, "<link");
  assert_non_null(link);
  static const char icon[] = "<link rel=\"icon\" href=\"data:,\">";
  assert_true(strncmp(link, icon, strlen(icon)) == 0);
  assert_null(strstr(link + 1, "<link"));
  assert_null(strstr(html, "<script"));
  assert_null(strstr(html, "@import"));
  assert_null(strstr(html, "url("));
  assert_null(strstr(html, "src="));
  assert_null(strstr(html, "http://"));
  assert_null(strstr(html, "https://"));
  assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
  assert_contains(html, "</html>\n");
  page_free(&p);
}

/* The page's Content-Security-Policy allows exactly what the page uses: its one style sheet
 * by hash, no style attribute (a hash does not allow those), no script, frame or base. */
static void test_policy_fits_the_page(void **state) {
  (void)state;
  struct page p;
  example_page(&p);
  const char *html = p.html.data;
  const char *open = strstr(html, "<style>");
  assert_non_null(open);
  open += strlen("<style>");
  const char *close = strstr(open, "</style>");
  assert_non_null(close);
  assert_null(strstr(close + 1, "<style"));
  unsigned char digest[32];
  assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, open, (size_t)(close - open), digest), 0);
  gnutls_datum_t raw = {digest, sizeof(digest)}, b64 = {NULL, 0};
  assert_int_equal(gnutls_base64_encode2(&raw, &b64), 0);
  char expected[512];
  snprintf(expected, sizeof(expected),
           "default-src 'none'; style-src 'sha256-%.*s'; img-src data:; form-action 'self'; "
           "frame-ancestors 'none'; base-uri 'none'",
           (int)b64.size, (const char *)b64.data);
  gnutls_free(b64.data);
  struct buf policy = BUF_INIT;
  assert_int_equal(status_page_policy(&policy), 0);
  assert_string_equal(policy.data, expected);
  buf_free(&policy);
  for (const char *const *bad =
           (const char *const[]){" style=", "<script", "<iframe", "<object", "<embed", "<base",
                                 "<img", "javascript:", NULL};
       *bad; bad++)
    if (strstr(html, *bad))
      fail_msg("the page holds '%s', which its policy would block", *bad);
  /* No event handler attribute (onload=, onclick=, ...) either. */
  for (const char *on = strstr(html, " on"); on; on = strstr(on + 1, " on")) {
    const char *c = on + 3;
    while (*c >= 'a' && *c <= 'z')
      c++;
    if (*c == '=' && c > on + 3)
      fail_msg("the page holds an event handler: %.20s", on);
  }
  assert_contains(html, "<form action=\"/probe\" method=\"get\">"); /* form-action 'self' */
  page_free(&p);
}

/* A sub-second poll interval still refreshes at most once a second. */
static void test_refresh_at_least_one_second(void **state) {
  (void)state;
  struct config *config = config_from_yaml("global:\n"
                                           "  poll_interval: 100ms\n"
                                           "mariadb:\n"
                                           "  - cluster: c\n"
                                           "    user: monitor\n"
                                           "    nodes:\n"
                                           "      - {name: n1, socket: /run/x.sock}\n");
  struct snapshot_store *store = snapshot_store_new(config);
  struct snapshot *s = snapshot_store_acquire(store);
  struct buf out = BUF_INIT;
  assert_int_equal(status_page_render(s, &options, &out), 0);
  assert_non_null(strstr(out.data, "<meta http-equiv=\"refresh\" content=\"1\">"));
  /* Never polled: unknown, grey. */
  char *card = card_of(out.data, "n1");
  assert_non_null(card);
  assert_contains(card, "class=\"card state-unknown\"");
  assert_contains(card, "<p class=\"reason\">not polled yet</p>");
  free(card);
  buf_free(&out);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

/* Names from the configuration and texts from servers are escaped everywhere they appear. */
static void test_html_escaping(void **state) {
  (void)state;
  struct config *config =
      config_from_yaml("mariadb:\n"
                       "  - cluster: \"a&b\"\n"
                       "    user: monitor\n"
                       "    nodes:\n"
                       "      - {name: \"<script>alert('x')</script>\", address: '127.0.0.1:1'}\n"
                       "      - {name: \"q\\\"uote\", address: '127.0.0.1:2'}\n");
  struct snapshot_store *store = snapshot_store_new(config);
  struct target_result *r = mariadb_result();
  r->reason = REASON_CONNECT;
  r->error = strdup("Can't connect to <server> & \"friends\"");
  r->last_success_unix = NOW - 61;
  assert_int_equal(snapshot_store_publish(store, config, 0, r), 0);
  struct snapshot *s = snapshot_store_acquire(store);
  struct buf out = BUF_INIT;
  assert_int_equal(status_page_render(s, &options, &out), 0);
  const char *html = out.data;
  assert_null(strstr(html, "<script"));
  assert_null(strstr(html, "alert('x')"));
  assert_null(strstr(html, "q\"uote"));
  assert_null(strstr(html, "a&b"));
  assert_null(strstr(html, "<server>"));
  assert_contains(html, "data-node=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\"");
  assert_contains(html, "<h3 class=\"node\">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</h3>");
  assert_contains(html, "data-node=\"q&quot;uote\"");
  assert_contains(html, "a&amp;b");
  /* In a URL the name is percent-encoded. */
  assert_contains(html, "href=\"/health/%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E\"");
  assert_contains(html, "href=\"/probe?target=q%22uote\"");
  assert_contains(html, "<option value=\"q&quot;uote\">");
  /* The failing node: its error, escaped, and when it last answered. */
  char *card = card_of(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
  assert_non_null(card);
  assert_contains(card, "class=\"card state-critical\"");
  assert_contains(card, "<p class=\"reason\">unreachable: Can&#39;t connect to "
                        "&lt;server&gt; &amp; &quot;friends&quot;</p>");
  assert_contains(card, "Last good poll 1m01s ago");
  free(card);
  buf_free(&out);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

/* A failing pair check gets a line above the cluster's cards. */
static void test_pair_check_line(void **state) {
  (void)state;
  struct config *config = config_from_yaml("mariadb:\n"
                                           "  - cluster: chatdb\n"
                                           "    user: monitor\n"
                                           "    nodes:\n"
                                           "      - {name: db1, address: '127.0.0.1:1'}\n"
                                           "      - {name: db2, address: '127.0.0.1:2'}\n");
  struct snapshot_store *store = snapshot_store_new(config);
  for (size_t i = 0; i < 2; i++) {
    struct target_result *r = mariadb_result();
    r->success = true;
    MARIADB(r)->known = true;
    sane_variables(r, (double)i + 1);
    MARIADB(r)->server_id = 7; /* the same on both: check server_id_unique fails */
    struct replica_status *rep = add_replica(r, "", i == 0 ? "db2" : "db1");
    rep->io_state = IO_STATE_YES;
    rep->sql_running = true;
    rep->seconds_behind_master = 0;
    assert_int_equal(snapshot_store_publish(store, config, i, r), 0);
  }
  struct snapshot *s = snapshot_store_acquire(store);
  struct buf out = BUF_INIT;
  assert_int_equal(status_page_render(s, &options, &out), 0);
  assert_contains(out.data, "<li class=\"check-failed\" data-check=\"server_id_unique\">");
  char *card = card_of(out.data, "db1");
  assert_contains(card, "class=\"card state-warning\"");
  free(card);
  buf_free(&out);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

/* A line per s2s_ping remote on the node's card: its round trip, why it fails (the server's
 * text escaped), or unknown. */
static void test_s2s_ping_lines(void **state) {
  (void)state;
  setenv("REPLMON_TEST_PROBE_PW", "pw", 1);
  struct config *config = config_from_yaml(
      "xmpp:\n"
      "  - cluster: chat\n"
      "    nodes:\n"
      "      - {name: ej1, type: ejabberd, api_url: 'http://h:1/api', c2s_address: 'h:5222',"
      " domain: one.test, probe_account: {jid: m@one.test, password_env: REPLMON_TEST_PROBE_PW},"
      " s2s_ping: [two.test, three.test, four.test]}\n");
  struct snapshot_store *store = snapshot_store_new(config);
  struct target_result *login = target_result_new(&xmpp_login_probe_ops);
  login->success = true;
  struct xmpp_login_status *l = login->data;
  l->logged_in = true;
  l->s2s = calloc(2, sizeof(*l->s2s));
  assert_non_null(l->s2s);
  l->n_s2s = 2;
  l->s2s[0] = (struct xmpp_remote_ping){"two.test", 1, 0.0021, "", ""};
  l->s2s[1] = (struct xmpp_remote_ping){"three.test", 0, NAN, "wait/remote-server-timeout",
                                        "<b>refused</b>"};
  assert_int_equal(
      snapshot_store_publish(store, config, (size_t)config->xmpp[0].nodes[0].login_target, login),
      0);
  struct snapshot *s = snapshot_store_acquire(store);
  struct buf out = BUF_INIT;
  assert_int_equal(status_page_render(s, &options, &out), 0);
  char *card = card_of(out.data, "ej1");
  assert_non_null(card);
  assert_contains(card, "<span data-remote=\"two.test\">two.test: 2.1 ms</span>");
  assert_contains(card, "<span data-remote=\"three.test\">three.test: <span class=\"m\">failing"
                        "</span>: wait/remote-server-timeout (&lt;b&gt;refused&lt;/b&gt;)</span>");
  assert_contains(card, "<span data-remote=\"four.test\">four.test: unknown</span>");
  free(card);
  buf_free(&out);
  snapshot_unref(s);
  snapshot_store_free(store);
  config_unref(config);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_healthy_card),
      cmocka_unit_test(test_broken_card),
      cmocka_unit_test(test_xmpp_card),
      cmocka_unit_test(test_since_kept_while_state_holds),
      cmocka_unit_test(test_no_secrets),
      cmocka_unit_test(test_refresh_and_head),
      cmocka_unit_test(test_policy_fits_the_page),
      cmocka_unit_test(test_refresh_at_least_one_second),
      cmocka_unit_test(test_html_escaping),
      cmocka_unit_test(test_pair_check_line),
      cmocka_unit_test(test_s2s_ping_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
