/* Who may use the HTTP server (--web.config.file): TLS client certificates where the
 * configuration requires them, and basic auth users. Part of the HTTP server (http.c), which
 * asks before answering every request but /-/healthy, and answers the refusals. Thread-safe. */
#ifndef REPLMON_HTTP_AUTH_H
#define REPLMON_HTTP_AUTH_H

#include "web_config.h"

#include <microhttpd.h>

struct http_auth;

/* Takes web over (NULL: neither TLS nor users), also on failure: NULL when out of memory. web
 * stays valid until http_auth_free, so the server may point libmicrohttpd at its TLS
 * material. */
struct http_auth *http_auth_new(struct web_config *web);
/* Frees auth and its web configuration. NULL is a no-op. */
void http_auth_free(struct http_auth *auth);

/* Replaces the basic auth users with those of web (taken over) and forgets the accepted
 * credentials. TLS settings are read at start only: a change is logged, not applied. */
void http_auth_set_web_config(struct http_auth *auth, struct web_config *web);

enum http_auth_verdict {
  HTTP_AUTH_OK,             /* the request may go on */
  HTTP_AUTH_NO_CERTIFICATE, /* answer 403: a valid client certificate is required */
  HTTP_AUTH_NO_USER,        /* answer 401: the credentials of a configured user are required */
};

/* Whether the request on connection may go on; the caller answers a refusal. */
enum http_auth_verdict http_auth_check(struct http_auth *auth, struct MHD_Connection *connection);

#endif
