/* Shared by the files of the HTTP server only (http.c, http_auth.c, probe_jobs.c): queueing
 * an answer on a libmicrohttpd connection. Other modules use http.h. */
#ifndef REPLMON_HTTP_INTERNAL_H
#define REPLMON_HTTP_INTERNAL_H

#include <microhttpd.h>

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

/* Queues response with status and drops our reference to it; MHD_NO for a NULL response (its
 * creation failed). */
enum MHD_Result http_queue_response(struct MHD_Connection *connection, unsigned status,
                                    struct MHD_Response *response);
/* Queues text (copied) as a text/plain answer with status. */
enum MHD_Result http_queue_text(struct MHD_Connection *connection, unsigned status,
                                const char *text);

#endif
