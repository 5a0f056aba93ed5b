/* The HTTP server (libmicrohttpd): /metrics, the status page, /health/<node>, /probe,
 * /-/healthy and /-/reload. Handlers take a snapshot reference and render; only /probe
 * probes (on a thread of its own) and /-/reload reloads. */
#ifndef REPLMON_HTTP_H
#define REPLMON_HTTP_H

#include "render.h"
#include "snapshot.h"
#include "web_config.h"

struct http_options {
  /* Where to listen: each "host:port", ":port" (every address) or "[v6]:port"; or, when
   * n_listen_fds is not 0, the listening sockets first_listen_fd onwards (systemd's, taken
   * over) instead. One libmicrohttpd daemon serves each. */
  const char *const *listen_addresses;
  size_t n_listen_addresses;
  int first_listen_fd;
  size_t n_listen_fds;
  const char *telemetry_path;   /* "/metrics" */
  struct snapshot_store *store; /* borrowed: must outlive the server */
  struct build_info build;
  unsigned connection_limit;
  /* Connections one client address may hold at once (0: no limit), so that a client that
   * dribbles its request a byte at a time cannot take every connection from the scrapers. */
  unsigned per_ip_connection_limit;
  unsigned connection_timeout_s;
  /* POST /-/reload: returns 0 when reloaded, 1 when the file was refused (*error says why,
   * freed by the server), -1 on another failure. NULL disables the endpoint. */
  int (*reload)(void *ctx, char **error);
  void *reload_ctx;
  /* TLS and basic auth; NULL for neither. The server takes it over. */
  struct web_config *web;
};

struct http_server;

/* Binds and starts serving. Returns 0, or a negative errno after logging why. */
int http_start(const struct http_options *options, struct http_server **out);
/* Replaces the basic auth users and the headers with those of web (taken over); TLS and
 * rate_limit settings are read at start only (logged when they differ). */
void http_set_web_config(struct http_server *server, struct web_config *web);

/* Stops accepting, finishes the requests in flight and frees. NULL is a no-op. */
void http_stop(struct http_server *server);

/* Splits a listen address into host ("" for every address) and port. 0 or -EINVAL.
 * *host is owned by the caller. */
int http_parse_listen_address(const char *address, char **host, unsigned *port);

#endif
