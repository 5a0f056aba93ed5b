#include "http.h"
#include "config.h"
#include "health.h"
#include "poller.h"
#include "log.h"
#include "metrics_cache.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONNECTION_MEMORY_LIMIT (32 * 1024) /* bounds the request line and headers */

/* *req_cls after a request's first call: this marker, or the running /probe job. */
static int request_seen;

struct http_server {
  struct MHD_Daemon *daemon;
  struct metrics_cache *cache;
  struct http_options options;
  char *telemetry_path;
  int listen_fd;
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

/* True when Accept-Encoding accepts gzip: listed by name without q=0, or, when it is not
 * named at all, through a "*" without q=0. */
static bool accepts_gzip(const char *header) {
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

static enum MHD_Result queue(struct MHD_Connection *connection, unsigned status,
                             struct MHD_Response *response) {
  if (!response)
    return MHD_NO;
  enum MHD_Result rc = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return rc;
}

static enum MHD_Result answer_text(struct MHD_Connection *connection, unsigned status,
                                   const char *text) {
  struct MHD_Response *response =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
  if (!response)
    return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  return queue(connection, status, response);
}

static void release_rendered(void *cls) {
  metrics_cache_release(cls);
}

static enum MHD_Result answer_metrics(struct http_server *server,
                                      struct MHD_Connection *connection) {
  const char *encoding =
      MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
  bool gzip = accepts_gzip(encoding);
  const char *data;
  size_t len;
  bool send_gzip = gzip;
  struct rendered_metrics *r = metrics_cache_get(server->cache, &send_gzip, &data, &len);
  if (!r)
    return answer_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
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
  return queue(connection, MHD_HTTP_OK, response);
}

static void html_escape(struct buf *out, const char *text) {
  for (const char *p = text; *p; p++) {
    switch (*p) {
    case '<':
      buf_puts(out, "&lt;");
      break;
    case '>':
      buf_puts(out, "&gt;");
      break;
    case '&':
      buf_puts(out, "&amp;");
      break;
    case '"':
      buf_puts(out, "&quot;");
      break;
    case '\'':
      buf_puts(out, "&#39;");
      break;
    default:
      buf_putc(out, *p);
    }
  }
}

static enum MHD_Result answer_landing(struct http_server *server,
                                      struct MHD_Connection *connection) {
  struct buf page = BUF_INIT;
  buf_puts(&page, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>replmon</title>"
                  "<style>body{font-family:sans-serif;margin:1em;max-width:60em}"
                  "table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left;"
                  "border-bottom:1px solid #ccc}.ok{color:#060}.down{color:#b00}</style>"
                  "</head><body><h1>replmon</h1><p>MariaDB replication exporter, version ");
  html_escape(&page, server->options.build.version);
  buf_puts(&page, " (revision ");
  html_escape(&page, server->options.build.revision);
  buf_puts(&page, ")</p><ul><li><a href=\"");
  html_escape(&page, server->telemetry_path);
  buf_puts(&page, "\">Metrics</a></li><li><a href=\"/-/healthy\">Health of replmon</a></li></ul>"
                  "<h2>Targets</h2><table><tr><th>Kind</th><th>Cluster</th><th>Node</th>"
                  "<th>Address</th><th>Last probe</th></tr>\n");
  struct snapshot *s = snapshot_store_acquire(server->options.store);
  for (size_t i = 0; i < s->n_targets; i++) {
    const struct target *t = &s->config->targets[i];
    const struct target_result *r = s->results[i];
    const char *address =
        t->kind == TARGET_MARIADB
            ? (t->mariadb_node->address ? t->mariadb_node->address : t->mariadb_node->socket)
        : t->kind == TARGET_XMPP ? t->xmpp_node->api_url
                                 : t->xmpp_node->c2s_address;
    buf_puts(&page, "<tr><td>");
    html_escape(&page, target_kind_name(t->kind));
    buf_puts(&page, "</td><td>");
    html_escape(&page, t->cluster);
    buf_puts(&page, "</td><td>");
    html_escape(&page, t->name);
    buf_puts(&page, "</td><td>");
    html_escape(&page, address);
    buf_puts(&page, "</td><td>");
    if (!r) {
      buf_puts(&page, "not yet");
    } else if (r->success) {
      buf_puts(&page, "<span class=\"ok\">ok</span>");
    } else {
      buf_puts(&page, "<span class=\"down\">failed: ");
      html_escape(&page, probe_reason_name(r->reason));
      buf_puts(&page, "</span>");
    }
    buf_puts(&page, "</td></tr>\n");
  }
  snapshot_unref(s);
  buf_puts(&page, "</table></body></html>\n");
  size_t len;
  char *body = buf_steal(&page, &len);
  if (!body)
    return answer_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
  struct MHD_Response *response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!response) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
  return queue(connection, MHD_HTTP_OK, response);
}

/* ---- /health/<node> ---- */

static enum MHD_Result answer_health(struct http_server *server, struct MHD_Connection *connection,
                                     const char *node) {
  double max_lag = NAN;
  const char *max_lag_text =
      MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "max_lag");
  if (max_lag_text && config_parse_duration(max_lag_text, &max_lag) != 0)
    return answer_text(connection, MHD_HTTP_BAD_REQUEST,
                       "400 max_lag must be a duration such as 10s or 1m30s\n");
  struct snapshot *s = snapshot_store_acquire(server->options.store);
  struct node_health *list = NULL;
  size_t n = 0;
  int rc = health_evaluate(s, max_lag, &list, &n);
  snapshot_unref(s);
  if (rc)
    return answer_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 out of memory\n");
  const struct node_health *h = NULL;
  for (size_t i = 0; i < n && !h; i++)
    if (strcmp(list[i].node, node) == 0)
      h = &list[i];
  enum MHD_Result result;
  if (!h) {
    result = answer_text(connection, MHD_HTTP_NOT_FOUND, "404 no such node\n");
  } else {
    /* A load balancer keeps a node in rotation while it is ok or only warning. */
    unsigned status = h->state == HEALTH_OK || h->state == HEALTH_WARNING
                          ? MHD_HTTP_OK
                          : MHD_HTTP_SERVICE_UNAVAILABLE;
    struct buf text = BUF_INIT;
    const char *state = health_state_name(h->state);
    for (const char *c = state; *c; c++)
      buf_putc(&text, (char)(*c - 'a' + 'A'));
    buf_printf(&text, ": %s\n", h->reason);
    result = answer_text(connection, status, text.data ? text.data : "500 out of memory\n");
    buf_free(&text);
  }
  health_free(list, n);
  return result;
}

/* ---- /probe?target=NODE: the multi-target pattern ---- */

#define PROBE_DEFAULT_TIMEOUT_S 10.0
#define PROBE_TIMEOUT_OFFSET_S 0.5

/* One /probe request: a worker probes while a waiter bounds the wait; whoever finishes
 * second frees it. */
struct probe_job {
  pthread_mutex_t lock;
  pthread_cond_t done_cond;
  int refs;
  bool done;
  struct config *config;
  size_t index;
  double timeout_s;
  struct target_result *result;
  struct http_server *server;
  struct MHD_Connection *connection;
  char *body; /* the answer, built by the waiter; freed with the job */
  size_t body_len;
};

static void probe_job_unref(struct probe_job *job) {
  pthread_mutex_lock(&job->lock);
  int refs = --job->refs;
  pthread_mutex_unlock(&job->lock);
  if (refs)
    return;
  target_result_unref(job->result);
  config_unref(job->config);
  pthread_cond_destroy(&job->done_cond);
  pthread_mutex_destroy(&job->lock);
  free(job->body);
  free(job);
}

static void *probe_worker(void *arg) {
  struct probe_job *job = arg;
  struct target_result *r = poller_probe_once(job->config, job->index, job->timeout_s);
  pthread_mutex_lock(&job->lock);
  job->result = r;
  job->done = true;
  pthread_cond_signal(&job->done_cond);
  pthread_mutex_unlock(&job->lock);
  probe_job_unref(job);
  return NULL;
}

static void *probe_waiter(void *arg) {
  struct probe_job *job = arg;
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  double end = (double)deadline.tv_sec + (double)deadline.tv_nsec / 1e9 + job->timeout_s;
  deadline.tv_sec = (time_t)end;
  deadline.tv_nsec = (long)((end - (double)deadline.tv_sec) * 1e9);
  pthread_mutex_lock(&job->lock);
  while (!job->done)
    if (pthread_cond_timedwait(&job->done_cond, &job->lock, &deadline) == ETIMEDOUT)
      break;
  struct target_result *r = job->result ? target_result_ref(job->result) : NULL;
  pthread_mutex_unlock(&job->lock);
  if (!r) {
    /* The node did not answer in time: say so rather than make Prometheus wait. */
    r = target_result_new();
    if (r) {
      r->reason = REASON_TIMEOUT;
      r->errors_total[REASON_TIMEOUT] = 1;
      r->duration_s = job->timeout_s;
      r->error = strdup("no answer within the scrape timeout");
    }
  }
  struct buf body = BUF_INIT;
  struct snapshot *s = r ? snapshot_new_single(job->config, job->index, r) : NULL;
  if (s)
    render_metrics(s, &job->server->options.build, &body);
  else
    target_result_unref(r);
  snapshot_unref(s);
  job->body = buf_steal(&body, &job->body_len);
  MHD_resume_connection(job->connection);
  return NULL;
}

static enum MHD_Result start_probe(struct http_server *server, struct MHD_Connection *connection,
                                   void **req_cls) {
  const char *name = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "target");
  if (!name || !*name)
    return answer_text(connection, MHD_HTTP_BAD_REQUEST, "400 missing target=NODE\n");
  struct snapshot *s = snapshot_store_acquire(server->options.store);
  long index = -1;
  for (size_t i = 0; i < s->n_targets && index < 0; i++) {
    /* Only configured node names: /probe never connects to an address from a request. */
    const struct target *t = &s->config->targets[i];
    if (t->kind != TARGET_XMPP_STREAM && strcmp(t->name, name) == 0)
      index = (long)i;
  }
  struct config *config = index >= 0 ? config_ref(s->config) : NULL;
  snapshot_unref(s);
  if (index < 0)
    return answer_text(connection, MHD_HTTP_BAD_REQUEST,
                       "400 unknown target: name a node of the configuration\n");
  double timeout = PROBE_DEFAULT_TIMEOUT_S;
  const char *header = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                   "X-Prometheus-Scrape-Timeout-Seconds");
  if (header) {
    char *end;
    double t = strtod(header, &end);
    if (end != header && !*end && t > 0 && t < 3600)
      timeout = t;
  }
  timeout = timeout > 2 * PROBE_TIMEOUT_OFFSET_S ? timeout - PROBE_TIMEOUT_OFFSET_S : timeout / 2;
  struct probe_job *job = calloc(1, sizeof(*job));
  if (!job) {
    config_unref(config);
    return answer_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 out of memory\n");
  }
  pthread_mutex_init(&job->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&job->done_cond, &attr);
  pthread_condattr_destroy(&attr);
  job->refs = 2; /* the worker's, and the request's (released when it completes) */
  job->config = config;
  job->index = (size_t)index;
  job->timeout_s = timeout;
  job->server = server;
  job->connection = connection;
  *req_cls = job;
  MHD_suspend_connection(connection);
  pthread_t worker, waiter;
  pthread_attr_t tattr;
  pthread_attr_init(&tattr);
  pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
  bool ok = pthread_create(&worker, &tattr, probe_worker, job) == 0;
  if (!ok)
    job->refs--, job->done = true;
  if (pthread_create(&waiter, &tattr, probe_waiter, job) != 0) {
    /* Without a waiter nobody resumes: answer from here after the worker. */
    pthread_attr_destroy(&tattr);
    MHD_resume_connection(connection);
    return MHD_YES;
  }
  pthread_attr_destroy(&tattr);
  return MHD_YES;
}

static enum MHD_Result finish_probe(struct MHD_Connection *connection, struct probe_job *job) {
  if (!job->body)
    return answer_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "500 probe failed\n");
  struct MHD_Response *response =
      MHD_create_response_from_buffer(job->body_len, job->body, MHD_RESPMEM_MUST_COPY);
  if (!response)
    return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_METRICS);
  return queue(connection, MHD_HTTP_OK, response);
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                              enum MHD_RequestTerminationCode code) {
  (void)cls;
  (void)connection;
  (void)code;
  if (*req_cls && *req_cls != &request_seen)
    probe_job_unref(*req_cls);
  *req_cls = NULL;
}

/* ---- /-/reload ---- */

static enum MHD_Result answer_reload(struct http_server *server,
                                     struct MHD_Connection *connection) {
  if (!server->options.reload)
    return answer_text(connection, MHD_HTTP_NOT_FOUND, "404 page not found\n");
  char *error = NULL;
  int rc = server->options.reload(server->options.reload_ctx, &error);
  struct buf text = BUF_INIT;
  if (rc == 0)
    buf_puts(&text, "configuration reloaded\n");
  else
    buf_printf(&text, "reload failed: %s\n", error ? error : "some targets could not start");
  free(error);
  enum MHD_Result result = answer_text(connection,
                                       rc == 0   ? MHD_HTTP_OK
                                       : rc == 1 ? MHD_HTTP_BAD_REQUEST
                                                 : MHD_HTTP_INTERNAL_SERVER_ERROR,
                                       text.data ? text.data : "500 out of memory\n");
  buf_free(&text);
  return result;
}

static enum MHD_Result refuse_method(struct MHD_Connection *connection, const char *allow) {
  struct MHD_Response *response =
      MHD_create_response_from_buffer(strlen("405 method not allowed\n"),
                                      (void *)"405 method not allowed\n", MHD_RESPMEM_PERSISTENT);
  if (!response)
    return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  return queue(connection, MHD_HTTP_METHOD_NOT_ALLOWED, response);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *connection, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls) {
  (void)version;
  (void)upload_data;
  struct http_server *server = cls;
  bool readable =
      strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  bool reload = strcmp(url, "/-/reload") == 0;
  bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
  /* libmicrohttpd keeps a connection alive only for an answer queued after the request was
   * read whole, that is from the second call on; other methods are refused at once. */
  if ((readable || (reload && post)) && *req_cls == NULL) {
    *req_cls = &request_seen;
    return MHD_YES;
  }
  if (*req_cls && *req_cls != &request_seen) /* resumed: the probe is over */
    return finish_probe(connection, *req_cls);
  if (reload) {
    if (!post)
      return refuse_method(connection, "POST");
    if (*upload_data_size) { /* a body is read and ignored */
      *upload_data_size = 0;
      return MHD_YES;
    }
    return answer_reload(server, connection);
  }
  bool health = strncmp(url, "/health/", 8) == 0 && url[8];
  bool probe = strcmp(url, "/probe") == 0;
  bool known = strcmp(url, server->telemetry_path) == 0 || strcmp(url, "/") == 0 ||
               strcmp(url, "/-/healthy") == 0 || health || probe;
  if (!known)
    return answer_text(connection, MHD_HTTP_NOT_FOUND, "404 page not found\n");
  if (!readable) {
    /* Ignore any body: the request is refused whatever it carries. */
    *upload_data_size = 0;
    return refuse_method(connection, "GET, HEAD");
  }
  if (strcmp(url, server->telemetry_path) == 0)
    return answer_metrics(server, connection);
  if (strcmp(url, "/-/healthy") == 0)
    return answer_text(connection, MHD_HTTP_OK, "Healthy\n");
  if (health)
    return answer_health(server, connection, url + 8);
  if (probe)
    return start_probe(server, connection, req_cls);
  return answer_landing(server, connection);
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

int http_start(const struct http_options *options, struct http_server **out) {
  *out = NULL;
  struct http_server *server = calloc(1, sizeof(*server));
  if (!server)
    return -ENOMEM;
  server->options = *options;
  server->listen_fd = -1;
  server->telemetry_path = strdup(options->telemetry_path);
  server->cache = metrics_cache_new(options->store, &options->build);
  if (!server->telemetry_path || !server->cache) {
    http_stop(server);
    return -ENOMEM;
  }
  server->listen_fd = open_listen_socket(options->listen_address);
  if (server->listen_fd < 0) {
    int rc = server->listen_fd;
    http_stop(server);
    return rc;
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned threads = cores > 1 ? (unsigned)(cores > 8 ? 8 : cores) : 1;
  server->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
      0, NULL, NULL, handle, server, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
      MHD_OPTION_LISTEN_SOCKET, server->listen_fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_LIMIT, options->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
      options->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t)CONNECTION_MEMORY_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, request_completed, NULL,
      MHD_OPTION_END);
  if (!server->daemon) {
    log_event(LOG_ERROR, "cannot start the HTTP server", "address", options->listen_address);
    http_stop(server);
    return -EIO;
  }
  server->listen_fd = -1; /* the daemon owns it now and closes it when stopped */
  log_event(LOG_INFO, "listening", "address", options->listen_address, "telemetry_path",
            server->telemetry_path);
  *out = server;
  return 0;
}

void http_stop(struct http_server *server) {
  if (!server)
    return;
  if (server->daemon)
    MHD_stop_daemon(server->daemon); /* returns once every response was released */
  if (server->listen_fd >= 0)
    close(server->listen_fd);
  metrics_cache_free(server->cache);
  free(server->telemetry_path);
  free(server);
}
