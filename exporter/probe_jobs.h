/* /probe?target=NODE, the multi-target exporter pattern: one configured node probed now, over
 * a connection of its own, and answered within the scrape timeout Prometheus announces. Part
 * of the HTTP server (http.c), which routes the requests here and sends the answers; the
 * request is suspended while the probe runs, so no libmicrohttpd thread waits for a node. */
#ifndef REPLMON_PROBE_JOBS_H
#define REPLMON_PROBE_JOBS_H

#include "render.h"
#include "snapshot.h"

#include <microhttpd.h>

struct probe_jobs;
struct probe_job;

/* The /probe requests of one server. store and build's strings are borrowed and must outlive
 * jobs. NULL when out of memory. */
struct probe_jobs *probe_jobs_new(struct snapshot_store *store, const struct build_info *build);
/* Frees jobs, which must have none in flight (after probe_jobs_stop and the server's stop).
 * NULL is a no-op. */
void probe_jobs_free(struct probe_jobs *jobs);

/* probe_jobs_start: no configured node (other than a stream probe's) has that name. */
#define PROBE_UNKNOWN_TARGET 1

/* Starts a probe of the configured node called name, waiting at most timeout seconds, and
 * suspends connection; *req_cls becomes the job, which the request holds until
 * probe_jobs_completed. 0 when started; PROBE_UNKNOWN_TARGET or -ENOMEM when not (the caller
 * answers, and *req_cls is left alone). */
int probe_jobs_start(struct probe_jobs *jobs, struct MHD_Connection *connection, const char *name,
                     double timeout, void **req_cls);
/* The resumed request's answer: the node's metrics (owned by job), or NULL when none could be
 * rendered. */
const char *probe_jobs_body(const struct probe_job *job, size_t *len);
/* The request of job completed (answered or not): drops its reference to job. */
void probe_jobs_completed(struct probe_job *job);

/* Answers every probe in flight now (a timeout for those still probing), and any started
 * later at once; waits up to 3 s until their requests completed. 0, or -ETIMEDOUT when some
 * did not (libmicrohttpd aborts when stopped with a suspended request). */
int probe_jobs_stop(struct probe_jobs *jobs);

#endif
