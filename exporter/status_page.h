/* The status page served on /: one card per node (MariaDB and XMPP), green, yellow, red or
 * grey by health state, with the reason, since when, and the details a person on call needs.
 * A pure function of a snapshot, like the /metrics renderer: no I/O and no locks. */
#ifndef REPLMON_STATUS_PAGE_H
#define REPLMON_STATUS_PAGE_H

#include "buf.h"
#include "render.h"
#include "snapshot.h"

struct status_page_options {
  const char *telemetry_path; /* link to the metrics */
  struct build_info build;    /* version, revision (render.h) */
  double now_unix;            /* for "down for 3m12s" */
};

/* Appends the status page of snapshot s to out: a whole HTML document that refreshes itself
 * every poll interval, with inline CSS only (no external resource). Every text taken from the
 * configuration or a server is HTML-escaped; no secret (password, API credentials, API URL
 * path or query) is ever shown. Pure: no I/O, no locks. Returns 0 or -ENOMEM (out is then
 * incomplete). */
int status_page_render(const struct snapshot *s, const struct status_page_options *o,
                       struct buf *out);

/* Appends the page's Content-Security-Policy to out: what the page uses and nothing more (its
 * style sheet by SHA-256, its empty data: icon, its form to /probe on the same origin; no
 * script, no framing, nothing fetched). 0 or a negative errno. */
int status_page_policy(struct buf *out);

#endif
