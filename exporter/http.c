/* The HTTP server: its listening sockets, libmicrohttpd's start and stop, and every answer.
 * Which answer a request gets is http_route.c; who may ask is http_auth.c; /probe runs in
 * probe_jobs.c. */
#include "http.h"
#include "http_auth.h"
#include "http_headers.h"
#include "http_route.h"
#include "probe_jobs.h"
#include "status_page.h"
#include "config.h"
#include "analysis.h"
#include "health.h"
#include "probe.h"
#include "log.h"
#include "metrics_cache.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Each connection's pool, which bounds the request line and headers (about 36 KiB of them;
 * 414 or 431 beyond). Above 32 KiB libmicrohttpd maps each connection's pool with mmap and
 * unmaps it when the connection closes; at 32 KiB or less it mallocs the pool, and the freed
 * pools stay in the heap: after 128 scrapers came and went, RSS stayed 3.8-6.6 MB higher,
 * against 0.3-0.4 MB with mmap. */
#define CONNECTION_MEMORY_LIMIT (36 * 1024)

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT "text/plain; charset=utf-8"

/* *req_cls after a request's first call: this marker, or the running /probe job. */
static int request_seen;

#define MAX_LISTENERS 16

/* rate_limit (exporter-toolkit's token bucket, as Go's rate.Limiter): burst tokens at start,
 * one more every interval_s, one taken by each request. */
struct rate_limiter {
  pthread_mutex_t lock;
  double interval_s; /* 0: no limit */
  double burst;
  double tokens;
  double last; /* CLOCK_MONOTONIC seconds of the last refill */
};

struct http_server {
  struct MHD_Daemon *daemons[MAX_LISTENERS];
  size_t n_daemons;
  struct metrics_cache *cache;
  struct http_options options;
  char *telemetry_path;
  int listen_fds[MAX_LISTENERS]; /* -1 once a daemon owns it */
  size_t n_listen_fds;
  struct rate_limiter rate;
  struct http_auth *auth;       /* TLS client certificates and basic auth users */
  struct probe_jobs *probes;    /* the /probe requests in flight */
  char *page_policy;            /* the status page's Content-Security-Policy */
  pthread_mutex_t headers_lock; /* guards headers, which a reload replaces */
  struct http_headers *headers; /* on every answer */
};

int http_parse_listen_address(const char *address, char **host, unsigned *port) {
  const char *colon;
  const char *host_start = address;
  size_t host_len;
  if (address[0] == '[') {
    const char *close = strchr(address, ']');
    if (!close || close[1] != ':')
      return -EINVAL;
    host_start = address + 1;
    host_len = (size_t)(close - host_start);
    colon = close + 1;
  } else {
    colon = strrchr(address, ':');
    if (!colon || strchr(address, ':') != colon)
      return -EINVAL;
    host_len = (size_t)(colon - address);
  }
  char *end;
  errno = 0;
  unsigned long value = strtoul(colon + 1, &end, 10);
  if (!isdigit((unsigned char)colon[1]) || *end || errno || value > 65535)
    return -EINVAL;
  *host = strndup(host_start, host_len);
  if (!*host)
    return -ENOMEM;
  *port = (unsigned)value;
  return 0;
}

/* Binds the listening socket ourselves, so that a bad address or a port in use is reported
 * with the address and the system's reason. An empty host listens on every address. */
static int open_listen_socket(const char *address) {
  char *host;
  unsigned port;
  int rc = http_parse_listen_address(address, &host, &port);
  if (rc) {
    log_event(LOG_ERROR, "bad --web.listen-address (use host:port, :port or [v6]:port)", "address",
              address);
    return rc;
  }
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *found = NULL;
  char service[8];
  snprintf(service, sizeof(service), "%u", port);
  int gai = getaddrinfo(*host ? host : NULL, service, &hints, &found);
  if (gai != 0) {
    free(host);
    log_event(LOG_ERROR, "cannot resolve the listen address", "address", address, "err",
              gai_strerror(gai));
    return -EINVAL;
  }
  /* For every address (no host) prefer IPv6 with dual stack, so one socket serves both
   * families; for a named host take the addresses in the resolver's order. */
  bool wildcard = *host == '\0';
  free(host);
  int fd = -1;
  int err = 0;
  for (int pass = 0; pass < 2 && fd < 0; pass++) {
    for (struct addrinfo *ai = found; ai && fd < 0; ai = ai->ai_next) {
      if (wildcard && (pass == 0) != (ai->ai_family == AF_INET6))
        continue;
      if (!wildcard && pass == 1)
        break;
      fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) {
        err = errno;
        continue;
      }
      int on = 1, off = 0;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
      if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
      if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        err = errno;
        close(fd);
        fd = -1;
      }
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    log_event(LOG_ERROR, "cannot listen", "address", address, "err", strerror(err));
    return -(err ? err : EADDRNOTAVAIL);
  }
  return fd;
}

/* Adds the headers of every answer, or those of the status page, to response. */
static void add_headers(struct http_server *server, struct MHD_Response *response, bool page) {
  pthread_mutex_lock(&server->headers_lock);
  const struct http_headers *h = server->headers;
  const struct http_header *list = page ? h->page : h->every;
  size_t n = page ? h->n_page : h->n_every;
  for (size_t i = 0; i < n; i++)
    MHD_add_response_header(response, list[i].name, list[i].value);
  pthread_mutex_unlock(&server->headers_lock);
}

/* Queues response with status and the headers of every answer (page: the status page's), and
 * drops our reference to it; MHD_NO for a NULL response (its creation failed). */
static enum MHD_Result queue_response(struct http_server *server, struct MHD_Connection *connection,
                                      unsigned status, struct MHD_Response *response, bool page) {
  if (!response)
    return MHD_NO;
  add_headers(server, response, page);
  enum MHD_Result rc = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return rc;
}

/* Queues text (copied) as a text/plain answer with status. */
static enum MHD_Result queue_text(struct http_server *server, struct MHD_Connection *connection,
                                  unsigned status, const char *text) {
  struct MHD_Response *response =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
  if (!response)
    return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_TEXT);
  return queue_response(server, connection, status, response, false);
}

static void release_rendered(void *cls) {
  metrics_cache_release(cls);
}

static enum MHD_Result answer_metrics(struct http_server *server, struct MHD_Connection *connection,
                                      bool gzip) {
  const char *data;
  size_t len;
  bool send_gzip = gzip;
  struct rendered_metrics *r = metrics_cache_get(server->cache, &send_gzip, &data, &len);
  if (!r)
    return queue_text(server, connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
  struct MHD_Response *response = MHD_create_response_from_buffer_with_free_callback_cls(
      len, (void *)data, release_rendered, r);
  if (!response) {
    metrics_cache_release(r);
    return MHD_NO;
  }
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_METRICS);
  MHD_add_response_header(response, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
  if (send_gzip)
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
  return queue_response(server, connection, MHD_HTTP_OK, response, false);
}

/* The status page: every node's health, rendered from the latest snapshot. */
static enum MHD_Result answer_status_page(struct http_server *server,
                                          struct MHD_Connection *connection) {
  struct snapshot *s = snapshot_store_acquire(server->options.store);
  struct status_page_options o = {server->telemetry_path, server->options.build,
                                  clock_unix_seconds()};
  struct buf page = BUF_INIT;
  int rc = status_page_render(s, &o, &page);
  snapshot_unref(s);
  size_t len;
  char *body = rc == 0 ? buf_steal(&page, &len) : NULL;
  buf_free(&page);
  if (!body)
    return queue_text(server, connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 out of memory\n");
  struct MHD_Response *response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!response) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
  return queue_response(server, connection, MHD_HTTP_OK, response, true);
}

/* ---- /health/<node> ---- */

static enum MHD_Result answer_health(struct http_server *server, struct MHD_Connection *connection,
                                     const char *node, double max_lag) {
  struct snapshot *s = snapshot_store_acquire(server->options.store);
  const struct node_health *h = analysis_find_node(s->analysis, node);
  enum health_state state = HEALTH_UNKNOWN;
  char *reason = NULL;
  enum MHD_Result result;
  if (!h) {
    result = queue_text(server, connection, MHD_HTTP_NOT_FOUND, "404 no such node\n");
  } else if (health_with_max_lag(h, s->config->lag_warning_s, max_lag, &state, &reason) != 0) {
    result = queue_text(server, connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 out of memory\n");
  } else {
    /* A load balancer keeps a node in rotation while it is ok or only warning. */
    unsigned status =
        state == HEALTH_OK || state == HEALTH_WARNING ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
    struct buf text = BUF_INIT;
    for (const char *c = health_state_name(state); *c; c++)
      buf_putc(&text, (char)(*c - 'a' + 'A'));
    buf_printf(&text, ": %s\n", reason);
    result = queue_text(server, connection, status, text.data ? text.data : "500 out of memory\n");
    buf_free(&text);
  }
  free(reason);
  snapshot_unref(s);
  return result;
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                              enum MHD_RequestTerminationCode code) {
  (void)cls;
  (void)connection;
  (void)code;
  if (*req_cls && *req_cls != &request_seen)
    probe_jobs_completed(*req_cls);
  *req_cls = NULL;
}

/* ---- /-/reload ---- */

static enum MHD_Result answer_reload(struct http_server *server,
                                     struct MHD_Connection *connection) {
  char *error = NULL;
  int rc = server->options.reload(server->options.reload_ctx, &error);
  struct buf text = BUF_INIT;
  if (rc == 0)
    buf_puts(&text, "configuration reloaded\n");
  else
    buf_printf(&text, "reload failed: %s\n", error ? error : "some targets could not start");
  free(error);
  enum MHD_Result result = queue_text(server, connection,
                                      rc == 0   ? MHD_HTTP_OK
                                      : rc == 1 ? MHD_HTTP_BAD_REQUEST
                                                : MHD_HTTP_INTERNAL_SERVER_ERROR,
                                      text.data ? text.data : "500 out of memory\n");
  buf_free(&text);
  return result;
}

static enum MHD_Result refuse_method(struct http_server *server, struct MHD_Connection *connection,
                                     const char *allow) {
  struct MHD_Response *response =
      MHD_create_response_from_buffer(strlen("405 method not allowed\n"),
                                      (void *)"405 method not allowed\n", MHD_RESPMEM_PERSISTENT);
  if (!response)
    return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_TEXT);
  return queue_response(server, connection, MHD_HTTP_METHOD_NOT_ALLOWED, response, false);
}

/* 403 without a valid client certificate where one is required, 401 without a configured
 * user's credentials. */
static enum MHD_Result refuse_client(struct http_server *server, struct MHD_Connection *connection,
                                     enum http_auth_verdict verdict) {
  if (verdict == HTTP_AUTH_NO_CERTIFICATE)
    return queue_text(server, connection, MHD_HTTP_FORBIDDEN,
                      "403 a valid client certificate is required\n");
  static const char text[] = "401 Unauthorized\n";
  struct MHD_Response *response =
      MHD_create_response_from_buffer(sizeof(text) - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
  if (!response)
    return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_TEXT);
  add_headers(server, response, false);
  enum MHD_Result rc = MHD_queue_basic_auth_fail_response(connection, "replmon", response);
  MHD_destroy_response(response);
  return rc;
}

/* ---- /probe ---- */

static enum MHD_Result start_probe(struct http_server *server, struct MHD_Connection *connection,
                                   const struct http_route *route, void **req_cls) {
  int rc = probe_jobs_start(server->probes, connection, route->node, route->timeout_s, req_cls);
  if (rc == PROBE_UNKNOWN_TARGET)
    return queue_text(server, connection, MHD_HTTP_BAD_REQUEST,
                      "400 unknown target: name a node of the configuration\n");
  if (rc != 0)
    return queue_text(server, connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 out of memory\n");
  return MHD_YES; /* suspended until the probe is over */
}

/* The resumed request of a probe that is over. */
static enum MHD_Result finish_probe(struct http_server *server, struct MHD_Connection *connection,
                                    const struct probe_job *job) {
  size_t len;
  const char *body = probe_jobs_body(job, &len);
  if (!body)
    return queue_text(server, connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 probe failed\n");
  struct MHD_Response *response =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!response)
    return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_METRICS);
  return queue_response(server, connection, MHD_HTTP_OK, response, false);
}

void http_set_web_config(struct http_server *server, struct web_config *web) {
  if (web) {
    struct http_headers *headers =
        http_headers_new(server->page_policy, web->headers, web->n_headers);
    if (headers) {
      pthread_mutex_lock(&server->headers_lock);
      struct http_headers *old = server->headers;
      server->headers = headers;
      pthread_mutex_unlock(&server->headers_lock);
      http_headers_free(old);
    } else {
      log_event(LOG_ERROR, "out of memory: the answers keep the headers they had");
    }
  }
  http_auth_set_web_config(server->auth, web);
}

/* ---- the request, as libmicrohttpd hands it over ---- */

/* libmicrohttpd would percent-decode the path and the query arguments in place, and pass the
 * path on as a C string: "/health/db1%00zzz" would reach us as "/health/db1". Kept as sent,
 * they are decoded by http_route, which refuses what does not decode to a whole C string.
 * ('+' in the arguments is still turned into a space, before this is called.) */
static size_t keep_escaped(void *cls, struct MHD_Connection *connection, char *s) {
  (void)cls;
  (void)connection;
  return strlen(s);
}

static const char *lookup_header(void *ctx, const char *name) {
  return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

struct collected_args {
  struct http_arg *args;
  size_t n, cap;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size) {
  (void)kind;
  struct collected_args *c = cls;
  if (c->n == c->cap)
    return MHD_NO;
  c->args[c->n++] = (struct http_arg){key, key_size, value, value_size};
  return MHD_YES;
}

/* Routes the request on connection; *args (owned by the caller) holds its query arguments. */
static int route_request(struct http_server *server, struct MHD_Connection *connection,
                         const char *url, const char *method, struct http_arg **args,
                         struct http_route *route) {
  *args = NULL;
  struct collected_args c = {NULL, 0, 0};
  int n = MHD_get_connection_values_n(connection, MHD_GET_ARGUMENT_KIND, NULL, NULL);
  if (n > 0) {
    c.cap = (size_t)n;
    c.args = calloc(c.cap, sizeof(*c.args));
    if (!c.args) {
      *route = (struct http_route){0};
      return -ENOMEM;
    }
    MHD_get_connection_values_n(connection, MHD_GET_ARGUMENT_KIND, collect_arg, &c);
  }
  *args = c.args;
  struct http_request req = {method, url, strlen(url), c.args, c.n, lookup_header, connection};
  struct http_site site = {server->telemetry_path, server->options.reload != NULL};
  return http_route(&req, &site, route);
}

static enum MHD_Result answer(struct http_server *server, struct MHD_Connection *connection,
                              const struct http_route *route, void **req_cls) {
  switch (route->action) {
  case HTTP_TEXT:
    return queue_text(server, connection, route->status, route->text);
  case HTTP_NOT_ALLOWED:
    return refuse_method(server, connection, route->allow);
  case HTTP_METRICS:
    return answer_metrics(server, connection, route->gzip);
  case HTTP_STATUS_PAGE:
    return answer_status_page(server, connection);
  case HTTP_HEALTH:
    return answer_health(server, connection, route->node, route->max_lag_s);
  case HTTP_PROBE:
    return start_probe(server, connection, route, req_cls);
  case HTTP_RELOAD:
    return answer_reload(server, connection);
  }
  return MHD_NO;
}

static bool rate_allows(struct rate_limiter *r) {
  if (r->interval_s <= 0)
    return true;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  pthread_mutex_lock(&r->lock);
  r->tokens += (now - r->last) / r->interval_s;
  if (r->tokens > r->burst)
    r->tokens = r->burst;
  r->last = now;
  bool allowed = r->tokens >= 1;
  if (allowed)
    r->tokens -= 1;
  pthread_mutex_unlock(&r->lock);
  return allowed;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *connection, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls) {
  (void)version;
  (void)upload_data;
  struct http_server *server = cls;
  if (*req_cls && *req_cls != &request_seen) /* resumed: the probe is over */
    return finish_probe(server, connection, *req_cls);
  /* libmicrohttpd keeps a connection alive only for an answer queued after the request was
   * read whole, that is from the second call on; other methods than GET, HEAD and POST to
   * /-/reload are refused at once. */
  bool first = *req_cls == NULL;
  if (first &&
      (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)) {
    *req_cls = &request_seen;
    return MHD_YES;
  }
  struct http_arg *args;
  struct http_route route;
  enum http_auth_verdict verdict = HTTP_AUTH_OK;
  enum MHD_Result result;
  if (route_request(server, connection, url, method, &args, &route) != 0) {
    result = queue_text(server, connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 out of memory\n");
  } else if (first && route.action == HTTP_RELOAD) {
    *req_cls = &request_seen;
    result = MHD_YES;
  } else if (!(route.action == HTTP_RELOAD && *upload_data_size) && !rate_allows(&server->rate)) {
    /* Before authentication, as exporter-toolkit counts every request. */
    result = queue_text(server, connection, MHD_HTTP_TOO_MANY_REQUESTS, "429 too many requests\n");
  } else if (!route.open && (verdict = http_auth_check(server->auth, connection))) {
    result = refuse_client(server, connection, verdict);
  } else if (route.action == HTTP_RELOAD && *upload_data_size) {
    result = MHD_YES; /* the body is read (below) and ignored */
  } else {
    result = answer(server, connection, &route, req_cls);
  }
  *upload_data_size = 0; /* any body is ignored, and a refusal is sent whatever it carried */
  http_route_clear(&route);
  free(args);
  return result;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  struct buf text = BUF_INIT;
  buf_vprintf(&text, fmt, ap);
  while (text.len && text.data[text.len - 1] == '\n')
    text.data[--text.len] = '\0';
  log_event(LOG_DEBUG, "http", "err", text.data ? text.data : "");
  buf_free(&text);
}

/* "ADDRESS:PORT" of a socket systemd passed, for the log. */
static void describe_socket(int fd, char *text, size_t size) {
  struct sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  char host[NI_MAXHOST], port[NI_MAXSERV];
  if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0 ||
      getnameinfo((struct sockaddr *)&addr, len, host, sizeof(host), port, sizeof(port),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    snprintf(text, size, "fd %d", fd);
  else
    snprintf(text, size, addr.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* One listening socket bound for each listen address. */
static int open_listeners(struct http_server *server, const struct http_options *options) {
  if (options->n_listen_addresses == 0 || options->n_listen_addresses > MAX_LISTENERS) {
    log_event(LOG_ERROR, "from 1 to 16 listen addresses");
    return -EINVAL;
  }
  for (size_t i = 0; i < options->n_listen_addresses; i++) {
    int fd = open_listen_socket(options->listen_addresses[i]);
    if (fd < 0)
      return fd;
    server->listen_fds[server->n_listen_fds++] = fd;
  }
  return 0;
}

int http_start(const struct http_options *options, struct http_server **out) {
  *out = NULL;
  struct http_server *server = calloc(1, sizeof(*server));
  if (!server) {
    web_config_free(options->web); /* taken over, started or not */
    for (size_t i = 0; i < options->n_listen_fds; i++)
      close(options->first_listen_fd + (int)i);
    return -ENOMEM;
  }
  server->options = *options;
  pthread_mutex_init(&server->headers_lock, NULL);
  pthread_mutex_init(&server->rate.lock, NULL);
  server->options.web = NULL;
  /* systemd's sockets are ours from here on, closed by http_stop whatever happens. */
  for (size_t i = 0; i < options->n_listen_fds && i < MAX_LISTENERS; i++)
    server->listen_fds[server->n_listen_fds++] = options->first_listen_fd + (int)i;
  struct web_config *web = options->web;
  if (web && web->rate_limit_interval_s > 0) {
    server->rate.interval_s = web->rate_limit_interval_s;
    server->rate.burst = server->rate.tokens = web->rate_limit_burst;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    server->rate.last = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  }
  /* web stays valid until http_stop: the TLS options below point into it. */
  server->auth = http_auth_new(options->web);
  server->probes = probe_jobs_new(options->store, &options->build);
  server->telemetry_path = strdup(options->telemetry_path);
  server->cache = metrics_cache_new(options->store, &options->build);
  struct buf policy = BUF_INIT;
  if (status_page_policy(&policy) == 0)
    server->page_policy = buf_steal(&policy, NULL);
  buf_free(&policy);
  if (server->auth && server->page_policy)
    server->headers =
        http_headers_new(server->page_policy, web ? web->headers : NULL, web ? web->n_headers : 0);
  if (!server->telemetry_path || !server->cache || !server->auth || !server->probes ||
      !server->headers) {
    http_stop(server);
    return -ENOMEM;
  }
  if (!options->n_listen_fds) {
    int rc = open_listeners(server, options);
    if (rc < 0) {
      http_stop(server);
      return rc;
    }
  } else if (options->n_listen_fds > MAX_LISTENERS) {
    log_event(LOG_ERROR, "--web.systemd-socket: too many sockets (at most 16)");
    http_stop(server);
    return -EINVAL;
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned threads = cores > 1 ? (unsigned)(cores > 8 ? 8 : cores) : 1;
  struct MHD_OptionItem tls[] = {
      {MHD_OPTION_HTTPS_MEM_CERT, 0, web && web->tls ? web->cert_pem : NULL},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, web && web->tls ? web->key_pem : NULL},
      {MHD_OPTION_HTTPS_PRIORITIES, 0, web && web->tls ? web->priorities : NULL},
      {web && web->tls && web->client_ca_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0,
       web && web->tls ? web->client_ca_pem : NULL},
      {MHD_OPTION_END, 0, NULL},
  };
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                   MHD_ALLOW_SUSPEND_RESUME | (web && web->tls ? MHD_USE_TLS : 0);
  for (size_t i = 0; i < server->n_listen_fds; i++) {
    char address[NI_MAXHOST + NI_MAXSERV + 8];
    if (options->n_listen_fds)
      describe_socket(server->listen_fds[i], address, sizeof(address));
    else
      snprintf(address, sizeof(address), "%s", options->listen_addresses[i]);
    struct MHD_Daemon *daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, server, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, server->listen_fds[i], MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, options->connection_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        options->per_ip_connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        options->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_ARRAY,
        web && web->tls ? tls : tls + 4, MHD_OPTION_END);
    if (!daemon) {
      log_event(LOG_ERROR, "cannot start the HTTP server", "address", address);
      http_stop(server);
      return -EIO;
    }
    server->daemons[server->n_daemons++] = daemon;
    server->listen_fds[i] = -1; /* the daemon owns it now and closes it when stopped */
    log_event(LOG_INFO, "listening", "address", address, "telemetry_path", server->telemetry_path,
              "tls", web && web->tls ? "on" : "off", "basic_auth",
              web && web->n_users ? "on" : "off", "systemd_socket",
              options->n_listen_fds ? "yes" : "no");
  }
  *out = server;
  return 0;
}

void http_stop(struct http_server *server) {
  if (!server)
    return;
  if (server->n_daemons) {
    /* libmicrohttpd aborts when stopped with a suspended request: answer every /probe in
     * flight now, and wait (a little) until they are sent. */
    if (probe_jobs_stop(server->probes) != 0) {
      log_event(LOG_ERROR, "a /probe request did not finish in time; exiting without waiting");
      return; /* stopping the daemon now would abort; the process is ending anyway */
    }
    for (size_t i = 0; i < server->n_daemons; i++)
      MHD_stop_daemon(server->daemons[i]); /* returns once every response was released */
  }
  for (size_t i = 0; i < server->n_listen_fds; i++)
    if (server->listen_fds[i] >= 0)
      close(server->listen_fds[i]);
  pthread_mutex_destroy(&server->rate.lock);
  metrics_cache_free(server->cache);
  http_headers_free(server->headers);
  free(server->page_policy);
  pthread_mutex_destroy(&server->headers_lock);
  free(server->telemetry_path);
  http_auth_free(server->auth);
  probe_jobs_free(server->probes);
  free(server);
}
