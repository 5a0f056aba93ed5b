/* The headers every HTTP answer carries beside its own (Content-Type and the like): replmon's
 * security defaults, and those of the web configuration's http_server_config.headers. Built
 * at start and on reload, read by every request; http.c adds them to each answer. */
#ifndef REPLMON_HTTP_HEADERS_H
#define REPLMON_HTTP_HEADERS_H

#include "web_config.h"

#include <stddef.h>

struct http_header {
  char *name;
  char *value;
};

struct http_headers {
  struct http_header *every; /* on every answer */
  size_t n_every;
  struct http_header *page; /* on the status page, in place of every */
  size_t n_page;
};

/* replmon's defaults: on every answer X-Content-Type-Options: nosniff and Referrer-Policy:
 * no-referrer; on the status page also page_policy as Content-Security-Policy and
 * X-Frame-Options: DENY. Each of the n configured headers (web configuration; may be NULL)
 * replaces the default of its name and goes on every answer; one with an empty value removes
 * the header. NULL when out of memory. */
struct http_headers *http_headers_new(const char *page_policy, const struct web_header *configured,
                                      size_t n);
/* NULL is a no-op. */
void http_headers_free(struct http_headers *headers);

#endif
