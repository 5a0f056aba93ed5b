/* A small HTTP client over libcurl for the XMPP API probes: one handle per node, reused so
 * that keep-alive connections stay open between polls; bounded time and body size. */
#ifndef REPLMON_HTTP_CLIENT_H
#define REPLMON_HTTP_CLIENT_H

#include "probe.h"

#include <stddef.h>

#define HTTP_BODY_LIMIT (1024 * 1024) /* a larger answer is refused as reason parse */

struct http_client_options {
  double connect_timeout_s;
  double total_timeout_s; /* for one whole request */
  const char *basic_user; /* HTTP Basic when set, with password */
  const char *password;
  const char *raw_authorization; /* sent as the Authorization header's whole value */
};

struct http_answer {
  long status;
  char *body; /* owned, NUL-terminated; may contain NUL bytes before len */
  size_t len;
};

struct http_client;

/* Copies the options. NULL when out of memory. */
struct http_client *http_client_new(const struct http_client_options *options);
void http_client_free(struct http_client *client);

/* GET (post_json NULL) or POST with a JSON body. Returns 0 when an answer arrived, whatever
 * its status (*answer filled; clear it with http_answer_clear). Otherwise returns a negative
 * errno and sets *err: connect, timeout, or parse for a body over HTTP_BODY_LIMIT. The URL
 * is never put into err (it may carry secrets in a query). */
int http_client_request(struct http_client *client, const char *url, const char *post_json,
                        const char *accept, struct http_answer *answer, struct probe_error *err);
void http_answer_clear(struct http_answer *answer);

#endif
