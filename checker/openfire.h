/* Openfire through the REST API plugin: local and cluster session counts. */
#ifndef REPLMON_OPENFIRE_H
#define REPLMON_OPENFIRE_H

#include "http_client.h"
#include "xmpp.h"

/* Reads the answer of GET /system/statistics/sessions. 0, or a negative errno with *err. */
int openfire_parse_sessions(const struct http_answer *answer, struct xmpp_status *out,
                            struct probe_error *err);

/* GET {api_url}/system/statistics/sessions with Accept: application/json. */
int openfire_poll(struct http_client *client, const char *api_url, struct xmpp_status *out,
                  struct probe_error *err);

#endif
