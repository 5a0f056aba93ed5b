/* The routing of one HTTP request: from its method, path, query arguments and headers, as
 * libmicrohttpd hands them over, to the answer to give. Pure (no libmicrohttpd, no snapshot),
 * so that unit tests and the fuzzer run it without a socket; http.c carries the decision
 * out. */
#ifndef REPLMON_HTTP_ROUTE_H
#define REPLMON_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

/* One query argument, as libmicrohttpd splits the query ("?key", "?key=", "?key=value"): '+'
 * already a space, percent-encoding as sent. key_len and value_len bytes; http_route reads no
 * further. */
struct http_arg {
  const char *key;
  size_t key_len;
  const char *value; /* NULL for "?key" */
  size_t value_len;
};

struct http_request {
  const char *method;
  const char *path; /* without the query, percent-encoding as sent; path_len bytes */
  size_t path_len;
  const struct http_arg *args;
  size_t n_args;
  /* A request header by name (case-insensitive), or NULL when absent. */
  const char *(*header)(void *ctx, const char *name);
  void *header_ctx;
};

/* What the server serves. */
struct http_site {
  const char *telemetry_path; /* "/metrics" */
  bool reload;                /* POST /-/reload is served */
};

enum http_action {
  HTTP_TEXT,        /* status and text */
  HTTP_NOT_ALLOWED, /* 405 with allow */
  HTTP_METRICS,
  HTTP_STATUS_PAGE,
  HTTP_HEALTH, /* node's health */
  HTTP_PROBE,  /* node probed now */
  HTTP_RELOAD,
};

struct http_route {
  enum http_action action;
  bool open;         /* answered without authentication (/-/healthy, as in every exporter) */
  unsigned status;   /* HTTP_TEXT */
  const char *text;  /* HTTP_TEXT: a static text/plain body */
  const char *allow; /* HTTP_NOT_ALLOWED: the methods the path takes */
  bool gzip;         /* HTTP_METRICS: the client accepts gzip */
  char *node;        /* HTTP_HEALTH, HTTP_PROBE: the node's name (owned) */
  double max_lag_s;  /* HTTP_HEALTH: ?max_lag, NaN without */
  double timeout_s;  /* HTTP_PROBE: how long the probe may take */
};

/* Decides the answer to req, decoding its path and the arguments it reads: a name is matched
 * whole, and what does not decode to a C string (a NUL), an encoded slash in the path, a slash
 * in a node's name, a '%' without two hex digits or an argument given twice is answered 400.
 * 0, or -ENOMEM (answer 500). Clear out with http_route_clear either way. */
int http_route(const struct http_request *req, const struct http_site *site,
               struct http_route *out);
void http_route_clear(struct http_route *route);

/* True when an Accept-Encoding header accepts gzip: listed by name without q=0, or, when it
 * is not named at all, through a "*" without q=0. */
bool http_accepts_gzip(const char *header);

#endif
