/* Which answer each request gets: the paths, their methods, their arguments and the headers
 * that shape an answer. http.c asks before it answers anything. */
#include "http_route.h"
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* /probe waits at most the scrape timeout Prometheus announces, less this margin for the
 * answer to travel, and PROBE_DEFAULT_TIMEOUT_S without the header. */
#define PROBE_DEFAULT_TIMEOUT_S 10.0
#define PROBE_TIMEOUT_OFFSET_S 0.5
#define SCRAPE_TIMEOUT_HEADER "X-Prometheus-Scrape-Timeout-Seconds"

static const char NOT_FOUND[] = "404 page not found\n";

bool http_accepts_gzip(const char *header) {
  if (!header)
    return false;
  int by_name = -1, by_star = -1; /* -1 unseen, 0 refused, 1 accepted */
  const char *p = header;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t len = strcspn(p, ",;");
    size_t token_len = len;
    while (token_len && p[token_len - 1] == ' ')
      token_len--;
    bool match =
        (token_len == 4 && strncasecmp(p, "gzip", 4) == 0) || (token_len == 1 && p[0] == '*');
    p += len;
    bool zero_q = false;
    if (*p == ';') {
      size_t params = strcspn(p, ",");
      const char *q = strstr(p, "q=");
      if (q && q < p + params) {
        double weight = strtod(q + 2, NULL);
        zero_q = weight <= 0;
      }
      p += params;
    }
    if (match) {
      bool star = token_len == 1;
      if (star)
        by_star = !zero_q;
      else
        by_name = !zero_q;
    }
  }
  return by_name >= 0 ? by_name == 1 : by_star == 1;
}

static void text(struct http_route *out, unsigned status, const char *body) {
  out->action = HTTP_TEXT;
  out->status = status;
  out->text = body;
}

static void not_allowed(struct http_route *out, const char *allow) {
  out->action = HTTP_NOT_ALLOWED;
  out->allow = allow;
}

/* The value of the first argument called key; NULL when there is none, or it has no value. */
static const char *argument(const struct http_request *req, const char *key) {
  for (size_t i = 0; i < req->n_args; i++)
    if (strcmp(req->args[i].key, key) == 0)
      return req->args[i].value;
  return NULL;
}

static double probe_timeout(const struct http_request *req) {
  double timeout = PROBE_DEFAULT_TIMEOUT_S;
  const char *header = req->header(req->header_ctx, SCRAPE_TIMEOUT_HEADER);
  if (header) {
    char *end;
    double t = strtod(header, &end);
    if (end != header && !*end && t > 0 && t < 3600)
      timeout = t;
  }
  return timeout > 2 * PROBE_TIMEOUT_OFFSET_S ? timeout - PROBE_TIMEOUT_OFFSET_S : timeout / 2;
}

static int route_health(const struct http_request *req, const char *node, struct http_route *out) {
  const char *max_lag = argument(req, "max_lag");
  if (max_lag && config_parse_duration(max_lag, &out->max_lag_s) != 0) {
    text(out, 400, "400 max_lag must be a duration such as 10s or 1m30s\n");
    return 0;
  }
  out->node = strdup(node);
  if (!out->node)
    return -ENOMEM;
  out->action = HTTP_HEALTH;
  return 0;
}

static int route_probe(const struct http_request *req, struct http_route *out) {
  const char *target = argument(req, "target");
  if (!target || !*target) {
    text(out, 400, "400 missing target=NODE\n");
    return 0;
  }
  out->node = strdup(target);
  if (!out->node)
    return -ENOMEM;
  out->action = HTTP_PROBE;
  out->timeout_s = probe_timeout(req);
  return 0;
}

int http_route(const struct http_request *req, const struct http_site *site,
               struct http_route *out) {
  *out = (struct http_route){.max_lag_s = NAN};
  const char *path = req->path;
  bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
  bool post = strcmp(req->method, "POST") == 0;
  if (strcmp(path, "/-/reload") == 0) {
    if (!post)
      not_allowed(out, "POST");
    else if (!site->reload)
      text(out, 404, NOT_FOUND);
    else
      out->action = HTTP_RELOAD;
    return 0;
  }
  /* replmon's own liveness stays open, as in every Prometheus exporter. */
  out->open = strcmp(path, "/-/healthy") == 0;
  bool health = strncmp(path, "/health/", 8) == 0 && path[8];
  bool probe = strcmp(path, "/probe") == 0;
  bool metrics = strcmp(path, site->telemetry_path) == 0;
  if (!metrics && !out->open && !health && !probe && strcmp(path, "/") != 0) {
    text(out, 404, NOT_FOUND);
    return 0;
  }
  if (!get) {
    not_allowed(out, "GET, HEAD");
    return 0;
  }
  if (metrics) {
    out->action = HTTP_METRICS;
    out->gzip = http_accepts_gzip(req->header(req->header_ctx, "Accept-Encoding"));
    return 0;
  }
  if (out->open) {
    text(out, 200, "Healthy\n");
    return 0;
  }
  if (health)
    return route_health(req, path + 8, out);
  if (probe)
    return route_probe(req, out);
  out->action = HTTP_STATUS_PAGE;
  return 0;
}

void http_route_clear(struct http_route *route) {
  free(route->node);
  route->node = NULL;
}
