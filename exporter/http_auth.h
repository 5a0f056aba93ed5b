/* Who may use the HTTP server (--web.config.file): TLS client certificates where the
 * configuration requires them, and basic auth users. Part of the HTTP server (http.c), which
 * asks before routing every request but /-/healthy. Thread-safe. */
#ifndef REPLMON_HTTP_AUTH_H
#define REPLMON_HTTP_AUTH_H

#include "web_config.h"

#include <microhttpd.h>
#include <stdbool.h>

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

/* False when the request may go on. True when it is refused: the answer (403 without a valid
 * client certificate where one is required, 401 without a configured user's credentials) is
 * queued on connection and *result is what the request handler returns. */
bool http_auth_refuse(struct http_auth *auth, struct MHD_Connection *connection,
                      enum MHD_Result *result);

#endif
