/* The routing of HTTP requests (http_route.c), without a socket: each path and method, the
 * arguments of /health and /probe, names that must match whole after percent-decoding, the
 * scrape timeout header and Accept-Encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_route.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ARGS 8
#define MAX_HEADERS 4

/* A request as libmicrohttpd hands it over with http.c's unescape callback: the target split
 * at '?', the query at '&' and '=', '+' turned into a space in the arguments, and every
 * percent-encoding left as sent. */
struct fake_request {
  char target[512];
  struct http_arg args[MAX_ARGS];
  const char *headers[MAX_HEADERS][2];
  struct http_request req;
};

static const char *fake_header(void *ctx, const char *name) {
  struct fake_request *f = ctx;
  for (size_t i = 0; i < MAX_HEADERS && f->headers[i][0]; i++)
    if (strcasecmp(f->headers[i][0], name) == 0)
      return f->headers[i][1];
  return NULL;
}

static void fake(struct fake_request *f, const char *method, const char *target) {
  memset(f, 0, sizeof(*f));
  assert_true(strlen(target) < sizeof(f->target));
  strcpy(f->target, target);
  f->req.method = method;
  f->req.path = f->target;
  f->req.header = fake_header;
  f->req.header_ctx = f;
  char *query = strchr(f->target, '?');
  if (query)
    *query++ = '\0';
  f->req.path_len = strlen(f->target);
  f->req.args = f->args;
  for (char *next = query; next && *next;) {
    char *arg = next;
    next = strchr(arg, '&');
    if (next)
      *next++ = '\0';
    for (char *p = arg; *p; p++)
      if (*p == '+')
        *p = ' ';
    char *value = strchr(arg, '=');
    if (value)
      *value++ = '\0';
    assert_true(f->req.n_args < MAX_ARGS);
    f->args[f->req.n_args++] =
        (struct http_arg){arg, strlen(arg), value, value ? strlen(value) : 0};
  }
}

static void add_header(struct fake_request *f, const char *name, const char *value) {
  for (size_t i = 0; i < MAX_HEADERS; i++) {
    if (!f->headers[i][0]) {
      f->headers[i][0] = name;
      f->headers[i][1] = value;
      return;
    }
  }
  fail_msg("too many headers");
}

static const struct http_site site = {"/metrics", true};

static void route(struct fake_request *f, struct http_route *r) {
  assert_int_equal(http_route(&f->req, &site, r), 0);
}

/* The route of method target, which must be the text answer status. */
static void expect_text(const char *method, const char *target, unsigned status, const char *text) {
  struct fake_request f;
  fake(&f, method, target);
  struct http_route r;
  route(&f, &r);
  if (r.action != HTTP_TEXT || r.status != status)
    fail_msg("%s %s: action %d status %u, expected text %u", method, target, r.action, r.status,
             status);
  if (text)
    assert_string_equal(r.text, text);
  http_route_clear(&r);
}

static enum http_action action_of(const char *method, const char *target) {
  struct fake_request f;
  fake(&f, method, target);
  struct http_route r;
  route(&f, &r);
  enum http_action action = r.action;
  http_route_clear(&r);
  return action;
}

static void test_paths_and_methods(void **state) {
  (void)state;
  assert_int_equal(action_of("GET", "/metrics"), HTTP_METRICS);
  assert_int_equal(action_of("HEAD", "/metrics"), HTTP_METRICS);
  assert_int_equal(action_of("GET", "/"), HTTP_STATUS_PAGE);
  assert_int_equal(action_of("GET", "/health/db1"), HTTP_HEALTH);
  assert_int_equal(action_of("GET", "/probe?target=db1"), HTTP_PROBE);
  assert_int_equal(action_of("POST", "/-/reload"), HTTP_RELOAD);
  expect_text("GET", "/-/healthy", 200, "Healthy\n");
  for (const char *const *p = (const char *const[]){"/metricsx", "/metrics/", "/nothing",
                                                    "/health/", "/health", "/probe/x", "", NULL};
       *p; p++)
    expect_text("GET", *p, 404, "404 page not found\n");
  expect_text("POST", "/nothing", 404, NULL);

  struct fake_request f;
  struct http_route r;
  for (const char *const *m = (const char *const[]){"POST", "PUT", "DELETE", "OPTIONS", NULL}; *m;
       m++) {
    fake(&f, *m, "/metrics");
    route(&f, &r);
    assert_int_equal(r.action, HTTP_NOT_ALLOWED);
    assert_string_equal(r.allow, "GET, HEAD");
    http_route_clear(&r);
  }
  fake(&f, "GET", "/-/reload");
  route(&f, &r);
  assert_int_equal(r.action, HTTP_NOT_ALLOWED);
  assert_string_equal(r.allow, "POST");
  assert_false(r.open);

  /* Only /-/healthy is open, whatever the method. */
  fake(&f, "GET", "/-/healthy");
  route(&f, &r);
  assert_true(r.open);
  fake(&f, "PUT", "/-/healthy");
  route(&f, &r);
  assert_true(r.open);
  assert_int_equal(r.action, HTTP_NOT_ALLOWED);
  fake(&f, "GET", "/metrics");
  route(&f, &r);
  assert_false(r.open);

  /* Without a reload function, POST /-/reload is not there. */
  const struct http_site no_reload = {"/metrics", false};
  fake(&f, "POST", "/-/reload");
  assert_int_equal(http_route(&f.req, &no_reload, &r), 0);
  assert_int_equal(r.action, HTTP_TEXT);
  assert_int_equal(r.status, 404);

  /* Another telemetry path replaces /metrics. */
  const struct http_site other = {"/x/metrics", true};
  fake(&f, "GET", "/x/metrics");
  assert_int_equal(http_route(&f.req, &other, &r), 0);
  assert_int_equal(r.action, HTTP_METRICS);
  fake(&f, "GET", "/metrics");
  assert_int_equal(http_route(&f.req, &other, &r), 0);
  assert_int_equal(r.status, 404);
}

static void test_health(void **state) {
  (void)state;
  struct fake_request f;
  struct http_route r;
  fake(&f, "GET", "/health/db1");
  route(&f, &r);
  assert_int_equal(r.action, HTTP_HEALTH);
  assert_string_equal(r.node, "db1");
  assert_true(isnan(r.max_lag_s));
  http_route_clear(&r);
  assert_null(r.node);

  fake(&f, "GET", "/health/db2?max_lag=1m30s&other=x");
  route(&f, &r);
  assert_int_equal(r.action, HTTP_HEALTH);
  assert_string_equal(r.node, "db2");
  assert_true(r.max_lag_s == 90);
  http_route_clear(&r);

  for (const char *const *t = (const char *const[]){"/health/db1?max_lag=banana",
                                                    "/health/db1?max_lag=", "/health/db1?max_lag",
                                                    "/health/db1?max_lag=10s/", NULL};
       *t; t++)
    expect_text("GET", *t, 400, "400 max_lag must be a duration such as 10s or 1m30s\n");
}

static void test_probe(void **state) {
  (void)state;
  struct fake_request f;
  struct http_route r;
  fake(&f, "GET", "/probe?target=db1");
  route(&f, &r);
  assert_int_equal(r.action, HTTP_PROBE);
  assert_string_equal(r.node, "db1");
  assert_true(r.timeout_s == 9.5); /* 10 s less the margin */
  http_route_clear(&r);

  static const struct {
    const char *header;
    double timeout;
  } timeouts[] = {{"5", 4.5},   {"0.8", 0.4},    {"3599", 3598.5}, {"3600", 9.5}, {"0", 9.5},
                  {"-1", 9.5},  {"banana", 9.5}, {"5s", 9.5},      {"", 9.5},     {"nan", 9.5},
                  {"inf", 9.5}, {"1e1", 9.5},    {"1.0", 0.5}};
  for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
    fake(&f, "GET", "/probe?target=db1");
    add_header(&f, "x-prometheus-scrape-timeout-seconds", timeouts[i].header);
    route(&f, &r);
    assert_int_equal(r.action, HTTP_PROBE);
    if (r.timeout_s != timeouts[i].timeout)
      fail_msg("scrape timeout '%s': %g, expected %g", timeouts[i].header, r.timeout_s,
               timeouts[i].timeout);
    http_route_clear(&r);
  }

  expect_text("GET", "/probe", 400, "400 missing target=NODE\n");
  expect_text("GET", "/probe?target=", 400, "400 missing target=NODE\n");
  expect_text("GET", "/probe?target", 400, "400 missing target=NODE\n");
  expect_text("GET", "/probe?tarGET=db1", 400, "400 missing target=NODE\n");
}

/* The node /health or /probe (per its path) is asked about, after decoding. */
static void expect_node(const char *target, enum http_action action, const char *node) {
  struct fake_request f;
  fake(&f, "GET", target);
  struct http_route r;
  route(&f, &r);
  if (r.action != action)
    fail_msg("%s: action %d (status %u %s), expected %d", target, r.action, r.status,
             r.text ? r.text : "", action);
  assert_string_equal(r.node, node);
  http_route_clear(&r);
}

static void test_names_are_exact(void **state) {
  (void)state;
  /* A NUL that ends the name as a C string would leave db1 behind: refused. */
  expect_text("GET", "/health/db1%00zzz", 400, "400 bad path: a NUL byte (%00)\n");
  expect_text("GET", "/health/db1%00", 400, "400 bad path: a NUL byte (%00)\n");
  expect_text("GET", "/probe?target=db1%00", 400, "400 target: a NUL byte (%00) in the name\n");
  expect_text("GET", "/probe?target=db1%00zzz", 400, NULL);
  expect_text("GET", "/metrics%00", 400, NULL);
  expect_text("GET", "/health/db1?max_lag=10s%00x", 400,
              "400 max_lag: a NUL byte (%00) in the duration\n");
  expect_text("GET", "/probe?tar%00get=db1", 400,
              "400 bad query: a NUL byte (%00) in an argument's name\n");
  /* Slashes: one encoded in the path, any in a node's name. */
  expect_text("GET", "/health/db1%2Fzzz", 400, "400 bad path: an encoded slash (%2F)\n");
  expect_text("GET", "/health%2fdb1", 400, "400 bad path: an encoded slash (%2F)\n");
  expect_text("GET", "/probe?target=db1%2F", 400, "400 target: a slash in the name\n");
  expect_text("GET", "/probe?target=db1/x", 400, "400 target: a slash in the name\n");
  expect_text("GET", "/health/db1/", 404, NULL); /* another path, not a name */
  expect_text("GET", "/health/db1/x", 404, NULL);
  /* A '%' without two hex digits after it. */
  for (const char *const *t =
           (const char *const[]){"/health/db1%", "/health/db1%2", "/health/db1%zz",
                                 "/health/db1%g0", "/health/%%31", "/%", NULL};
       *t; t++)
    expect_text("GET", *t, 400, "400 bad path: a % not followed by two hex digits\n");
  expect_text("GET", "/probe?target=db1%", 400, "400 target: a % not followed by two hex digits\n");
  expect_text("GET", "/probe?target=%2x", 400, NULL);
  expect_text("GET", "/health/db1?max_lag=1%s", 400, NULL);
  expect_text("GET", "/probe?x%zz=1&target=db1", 400,
              "400 bad query: a % not followed by two hex digits\n");
  /* Twice the same argument: which one would count? */
  expect_text("GET", "/probe?target=db1&target=db2", 400, "400 target given more than once\n");
  expect_text("GET", "/probe?target=db1&targ%65t=db1", 400, NULL);
  expect_text("GET", "/health/db1?max_lag=1s&max_lag=2s", 400, NULL);

  /* What decodes cleanly is the name, whole. */
  expect_node("/health/db%31", HTTP_HEALTH, "db1");
  expect_node("/h%65alth/db1", HTTP_HEALTH, "db1");
  expect_node("/health/db%20one", HTTP_HEALTH, "db one");
  expect_node("/health/db+1", HTTP_HEALTH, "db+1"); /* '+' is a space only in a query */
  expect_node("/probe?target=db%31", HTTP_PROBE, "db1");
  expect_node("/probe?t%61rget=db1", HTTP_PROBE, "db1");
  expect_node("/probe?target=db+1", HTTP_PROBE, "db 1");
  expect_node("/probe?target=db%2B1", HTTP_PROBE, "db+1");
  expect_node("/probe?target=%C3%A9", HTTP_PROBE, "\xc3\xa9");
  expect_node("/probe?other=%zz%00&target=db1", HTTP_PROBE, "db1"); /* read only as a name */
  expect_node("/probe?a_long_name_not_ours=1&target=db1", HTTP_PROBE, "db1");
  expect_node("/health/db1?max_lag=1%30s", HTTP_HEALTH, "db1");
  assert_int_equal(action_of("GET", "/%6Detrics"), HTTP_METRICS);
  assert_int_equal(action_of("GET", "/metrics?x=%zz%00"), HTTP_METRICS); /* no argument read */
  assert_int_equal(action_of("GET", "/%2D/healthy"), HTTP_TEXT);

  /* /-/healthy is open only when it is that path. */
  struct fake_request f;
  struct http_route r;
  fake(&f, "GET", "/-/healthy%00");
  route(&f, &r);
  assert_false(r.open);
  assert_int_equal(r.status, 400);

  /* The path is path_len bytes: a raw NUL in them is refused, what follows them is not read. */
  fake(&f, "GET", "/health/db1");
  f.target[strlen("/health/db")] = '\0';
  route(&f, &r);
  assert_int_equal(r.status, 400);
  fake(&f, "GET", "/metricsXYZ");
  f.req.path_len = strlen("/metrics");
  route(&f, &r);
  assert_int_equal(r.action, HTTP_METRICS);

  /* A path longer than the routing's stack buffer. */
  char long_path[300];
  memset(long_path, 'a', sizeof(long_path) - 1);
  long_path[sizeof(long_path) - 1] = '\0';
  memcpy(long_path, "/health/", 8);
  fake(&f, "GET", long_path);
  route(&f, &r);
  assert_int_equal(r.action, HTTP_HEALTH);
  assert_int_equal(strlen(r.node), sizeof(long_path) - 9);
  http_route_clear(&r);
  long_path[sizeof(long_path) - 2] = '%';
  expect_text("GET", long_path, 400, NULL);
}

static void test_gzip(void **state) {
  (void)state;
  static const struct {
    const char *header;
    bool gzip;
  } cases[] = {{NULL, false},       {"gzip", true},
               {"GZIP", true},      {"deflate, gzip;q=0.5", true},
               {"gzip;q=0", false}, {"gzip; q=0.0, *", false},
               {"*", true},         {"*;q=0", false},
               {"identity", false}, {"gzipx", false},
               {"x-gzip", false},   {" , gzip , ", true}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct fake_request f;
    fake(&f, "GET", "/metrics");
    if (cases[i].header)
      add_header(&f, "Accept-Encoding", cases[i].header);
    struct http_route r;
    route(&f, &r);
    if (r.gzip != cases[i].gzip)
      fail_msg("Accept-Encoding '%s': gzip %d", cases[i].header ? cases[i].header : "(none)",
               r.gzip);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_paths_and_methods),
      cmocka_unit_test(test_health),
      cmocka_unit_test(test_probe),
      cmocka_unit_test(test_names_are_exact),
      cmocka_unit_test(test_gzip),
  };
  return cmocka_run_group_tests_name("http_route", tests, NULL, NULL);
}
