/* The Prometheus text exposition format (0.0.4) of a snapshot: a pure function, no I/O and
 * no locks, so it is tested against golden files. */
#ifndef REPLMON_RENDER_H
#define REPLMON_RENDER_H

#include "buf.h"
#include "snapshot.h"

struct build_info {
  const char *version;
  const char *revision;
};

/* Appends the whole /metrics body to out. Returns 0 or -ENOMEM (out is then incomplete). */
int render_metrics(const struct snapshot *snapshot, const struct build_info *build,
                   struct buf *out);

/* Appends value escaped for a label value: backslash, double quote and newline. */
void render_label_value(struct buf *out, const char *value);

#endif
