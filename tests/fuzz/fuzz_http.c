/* The request path on arbitrary requests: the input is a request head as a client sends it
 * ("GET /probe?target=db1 HTTP/1.1\r\nName: value\r\n..."), split into method, path, query
 * arguments and headers as libmicrohttpd 0.9.75 splits it for replmon (C strings, '+' a space
 * in the arguments, percent-encoding left as sent by http.c's unescape callback), routed by
 * http_route, and a /health answer judged against its max_lag. Every answer must be one
 * replmon can give: never a crash, a leak, a name with a slash or a NUL cut short. The seeds
 * (tests/fuzz/corpus/http/) are the request heads the integration tests send, as a listening
 * socket received them from urllib, curl, Chromium and Prometheus 2.42. */
#include "health.h"
#include "http_route.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 64

struct request {
  const char *names[MAX_HEADERS];
  const char *values[MAX_HEADERS];
  size_t n_headers;
  struct http_arg *args;
  size_t n_args;
};

/* MHD_lookup_connection_value: the first header of that name, in any case. */
static const char *header(void *ctx, const char *name) {
  const struct request *r = ctx;
  for (size_t i = 0; i < r->n_headers; i++)
    if (strcasecmp(r->names[i], name) == 0)
      return r->values[i];
  return NULL;
}

static void plus_to_space(char *s) {
  for (; *s; s++)
    if (*s == '+')
      *s = ' ';
}

static void add_arg(struct request *r, char *key, char *value) {
  plus_to_space(key);
  if (value)
    plus_to_space(value);
  r->args[r->n_args++] = (struct http_arg){key, strlen(key), value, value ? strlen(value) : 0};
}

/* MHD_parse_arguments_: '&' separates arguments, the first '=' of each its value. */
static void parse_query(struct request *r, char *query) {
  size_t n = 1;
  for (const char *p = query; *p; p++)
    n += *p == '&';
  r->args = calloc(n, sizeof(*r->args));
  if (!r->args)
    abort();
  while (*query) {
    char *amper = strchr(query, '&');
    if (amper)
      *amper++ = '\0';
    char *equals = strchr(query, '=');
    if (equals)
      *equals++ = '\0';
    add_arg(r, query, equals);
    if (!amper)
      break;
    query = amper;
  }
}

/* Aborts unless route is an answer replmon can give. */
static void check(const struct http_route *route) {
  switch (route->action) {
  case HTTP_TEXT:
    if (!route->text || !*route->text || route->text[strlen(route->text) - 1] != '\n' ||
        (route->status != 200 && route->status != 400 && route->status != 404))
      abort();
    if (route->status == 200 && strcmp(route->text, "Healthy\n") != 0)
      abort();
    break;
  case HTTP_NOT_ALLOWED:
    if (!route->allow)
      abort();
    break;
  case HTTP_HEALTH:
  case HTTP_PROBE:
    if (!route->node || !*route->node || strchr(route->node, '/'))
      abort();
    if (route->action == HTTP_PROBE && !(route->timeout_s > 0 && route->timeout_s < 3600))
      abort();
    break;
  case HTTP_METRICS:
  case HTTP_STATUS_PAGE:
  case HTTP_RELOAD:
    break;
  default:
    abort();
  }
  /* Only /-/healthy is answered without authentication. */
  if (route->open && route->action != HTTP_NOT_ALLOWED &&
      !(route->action == HTTP_TEXT && route->status == 200))
    abort();
}

/* A replicating node's health judged against ?max_lag, as /health/<node> judges it. */
static void judge(const struct http_route *route) {
  struct node_health h = {.kind = NODE_MARIADB,
                          .cluster = "c",
                          .node = route->node,
                          .state = HEALTH_OK,
                          .reason = strdup("replicating"),
                          .lag_s = 12.5,
                          .replicating = true};
  enum health_state state;
  char *reason = NULL;
  if (h.reason && health_with_max_lag(&h, 5, route->max_lag_s, &state, &reason) == 0) {
    if (!reason || state >= HEALTH_COUNT)
      abort();
    if (!isnan(route->max_lag_s) && route->max_lag_s <= 12.5 && state != HEALTH_CRITICAL)
      abort();
  }
  free(reason);
  node_health_clear(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct request r = {.n_headers = 0};
  /* The request line: the method up to the first space, the version after the last. */
  char *line = text;
  char *next = strchr(line, '\n');
  if (next)
    *next++ = '\0';
  size_t len = strlen(line);
  if (len && line[len - 1] == '\r')
    line[--len] = '\0';
  char *uri = strchr(line, ' ');
  if (!uri)
    goto out;
  *uri++ = '\0';
  while (*uri == ' ')
    uri++;
  char *version = line + len;
  while (version > uri && version[-1] == ' ')
    *--version = '\0';
  while (version > uri && version[-1] != ' ')
    version--;
  if (version > uri)
    version[-1] = '\0';
  /* The headers, up to the empty line. */
  while (next && *next && r.n_headers < MAX_HEADERS) {
    line = next;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    len = strlen(line);
    if (len && line[len - 1] == '\r')
      line[--len] = '\0';
    if (!len)
      break;
    char *colon = strchr(line, ':');
    if (!colon)
      goto out; /* libmicrohttpd answers 400 itself */
    *colon++ = '\0';
    while (*colon == ' ' || *colon == '\t')
      colon++;
    r.names[r.n_headers] = line;
    r.values[r.n_headers++] = colon;
  }
  char *query = strchr(uri, '?');
  if (query) {
    *query++ = '\0';
    parse_query(&r, query);
  }
  struct http_request req = {text, uri, strlen(uri), r.args, r.n_args, header, &r};
  static const struct http_site sites[] = {{"/metrics", true}, {"/x/metrics", false}};
  for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
    struct http_route route;
    if (http_route(&req, &sites[i], &route) != 0)
      abort(); /* only out of memory, which libFuzzer's limits do not reach */
    check(&route);
    if (route.action == HTTP_HEALTH)
      judge(&route);
    http_route_clear(&route);
  }
out:
  free(r.args);
  free(text);
  return 0;
}
