/* The /metrics body, rendered once per snapshot generation and kept (plain and gzip) so that
 * scrapes between two polls cost a reference count, not a rendering. */
#ifndef REPLMON_METRICS_CACHE_H
#define REPLMON_METRICS_CACHE_H

#include "render.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stddef.h>

struct metrics_cache;

/* One rendering; immutable and shared by reference. */
struct rendered_metrics {
  int refs; /* guarded by the owner's lock */
  struct metrics_cache *owner;
  unsigned long generation;
  char *body;
  size_t body_len;
  char *gzip; /* compressed lazily on the first request that accepts gzip; NULL until then */
  size_t gzip_len;
};

struct metrics_cache *metrics_cache_new(struct snapshot_store *store,
                                        const struct build_info *build);
void metrics_cache_free(struct metrics_cache *cache);

/* Returns the rendering of the current snapshot with a reference for the caller (release it
 * with metrics_cache_release, before the cache is freed), rendering it first if the snapshot
 * changed. *gzip in: the client accepts gzip; out: the bytes in *data are gzip (false when
 * compression failed). *data and *len stay valid while the reference is held. NULL when out
 * of memory. */
struct rendered_metrics *metrics_cache_get(struct metrics_cache *cache, bool *gzip,
                                           const char **data, size_t *len);
void metrics_cache_release(struct rendered_metrics *rendered);

/* Compresses data as a gzip member (zlib). Returns 0 or a negative errno; *out is malloc'd. */
int gzip_compress(const char *data, size_t len, char **out, size_t *out_len);

#endif
