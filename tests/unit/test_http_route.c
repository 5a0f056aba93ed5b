/* The routing of HTTP requests (http_route.c), without a socket: each path and method, the
 * arguments of /health and /probe, the scrape timeout header and Accept-Encoding. */
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

/* A request as libmicrohttpd hands it over: the target split at '?', the query at '&' and
 * '=', '+' turned into a space in the arguments. */
struct fake_request {
  char target[256];
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

  for (const char *const *t =
           (const char *const[]){"/health/db1?max_lag=banana", "/health/db1?max_lag=", NULL};
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
      cmocka_unit_test(test_gzip),
  };
  return cmocka_run_group_tests_name("http_route", tests, NULL, NULL);
}
