#include "metrics_cache.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <zlib.h>

struct metrics_cache {
  pthread_mutex_t lock; /* guards current and every rendering's refs */
  struct snapshot_store *store;
  struct build_info build;
  struct rendered_metrics *current;
};

struct metrics_cache *metrics_cache_new(struct snapshot_store *store,
                                        const struct build_info *build) {
  struct metrics_cache *cache = calloc(1, sizeof(*cache));
  if (!cache)
    return NULL;
  pthread_mutex_init(&cache->lock, NULL);
  cache->store = store;
  cache->build = *build;
  return cache;
}

static void rendered_free(struct rendered_metrics *r) {
  free(r->body);
  free(r->gzip);
  free(r);
}

static void release_locked(struct rendered_metrics *r) {
  if (r && --r->refs == 0)
    rendered_free(r);
}

void metrics_cache_free(struct metrics_cache *cache) {
  if (!cache)
    return;
  release_locked(cache->current);
  pthread_mutex_destroy(&cache->lock);
  free(cache);
}

int gzip_compress(const char *data, size_t len, char **out, size_t *out_len) {
  z_stream z = {0};
  /* 15 + 16: a gzip header and trailer instead of zlib's. */
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return -ENOMEM;
  size_t bound = deflateBound(&z, (uLong)len);
  char *buffer = malloc(bound);
  if (!buffer) {
    deflateEnd(&z);
    return -ENOMEM;
  }
  z.next_in = (Bytef *)data;
  z.avail_in = (uInt)len;
  z.next_out = (Bytef *)buffer;
  z.avail_out = (uInt)bound;
  int rc = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    free(buffer);
    return -EIO;
  }
  *out = buffer;
  *out_len = z.total_out;
  return 0;
}

static struct rendered_metrics *render_current(struct metrics_cache *cache) {
  struct rendered_metrics *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  struct snapshot *snapshot = snapshot_store_acquire(cache->store);
  struct buf body = BUF_INIT;
  int rc = render_metrics(snapshot, &cache->build, &body);
  r->generation = snapshot->generation;
  snapshot_unref(snapshot);
  r->body = rc == 0 ? buf_steal(&body, &r->body_len) : NULL;
  buf_free(&body);
  if (!r->body) {
    free(r);
    return NULL;
  }
  r->refs = 1;
  r->owner = cache;
  return r;
}

struct rendered_metrics *metrics_cache_get(struct metrics_cache *cache, bool *gzip,
                                           const char **data, size_t *len) {
  unsigned long generation = snapshot_store_generation(cache->store);
  pthread_mutex_lock(&cache->lock);
  if (!cache->current || cache->current->generation != generation) {
    /* Rendered under the lock: concurrent scrapes of a new generation wait for one
     * rendering instead of each doing their own. */
    struct rendered_metrics *fresh = render_current(cache);
    if (!fresh) {
      log_event(LOG_ERROR, "out of memory while rendering /metrics");
    } else {
      release_locked(cache->current);
      cache->current = fresh;
    }
  }
  struct rendered_metrics *r = cache->current;
  if (r && *gzip && !r->gzip && gzip_compress(r->body, r->body_len, &r->gzip, &r->gzip_len) != 0)
    log_event(LOG_WARN, "gzip failed; answering uncompressed");
  if (r) {
    r->refs++;
    *gzip = *gzip && r->gzip;
    *data = *gzip ? r->gzip : r->body;
    *len = *gzip ? r->gzip_len : r->body_len;
  }
  pthread_mutex_unlock(&cache->lock);
  return r;
}

void metrics_cache_release(struct rendered_metrics *rendered) {
  if (!rendered)
    return;
  struct metrics_cache *cache = rendered->owner;
  pthread_mutex_lock(&cache->lock);
  release_locked(rendered);
  pthread_mutex_unlock(&cache->lock);
}
