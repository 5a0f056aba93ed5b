/* The headers every HTTP answer carries beside its own (Content-Type and the like): replmon's
 * security defaults. Built once, read by every request; http.c adds them to each answer. */
#ifndef REPLMON_HTTP_HEADERS_H
#define REPLMON_HTTP_HEADERS_H

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

/* On every answer X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer; on the
 * status page also page_policy as Content-Security-Policy and X-Frame-Options: DENY. NULL when
 * out of memory. */
struct http_headers *http_headers_new(const char *page_policy);
/* NULL is a no-op. */
void http_headers_free(struct http_headers *headers);

#endif
