/* Immutable snapshots of every target's latest result. Pollers publish a new result with a
 * pointer swap under a short lock; readers take a reference and never block a poller. */
#ifndef REPLMON_SNAPSHOT_H
#define REPLMON_SNAPSHOT_H

#include "config.h"
#include "probe.h"
#include "probe_kind.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* One poll's outcome for one target. Immutable once published; shared by reference. */
struct target_result {
  atomic_int refs;
  const struct probe_ops *ops; /* the kind that made it */
  bool success;
  enum probe_reason reason; /* of the failure, REASON_NONE on success */
  char *error;              /* the failure's message (owned), or NULL */
  double finished_unix;     /* when the poll ended */
  double duration_s;        /* how long the poll took */
  double last_success_unix; /* 0 when the target never answered */
  double state_since_unix;  /* when success turned into failure or back (or the first poll) */
  double errors_total[REASON_COUNT]; /* failed polls since start, by reason */
  /* The kind's data (owned): struct mariadb_status for PROBE_MARIADB, struct xmpp_status for
   * PROBE_XMPP_API, struct xmpp_stream_status for PROBE_XMPP_STREAM. Never NULL. */
  void *data;
};

/* Returns a result of the kind ops with one reference, zeroed, its data unknown (NaN); NULL
 * when out of memory. */
struct target_result *target_result_new(const struct probe_ops *ops);
struct target_result *target_result_ref(struct target_result *result);
void target_result_unref(struct target_result *result);

struct analysis;

struct snapshot {
  atomic_int refs;
  unsigned long generation; /* grows with every publish: a cheap "has anything changed" */
  struct config *config;    /* holds a reference */
  /* The analysis of exactly these results (holds a reference); NULL in a /probe snapshot. */
  struct analysis *analysis;
  size_t n_targets;                /* config->n_targets */
  long only_target;                /* -1; a /probe snapshot sets the one target it answers for */
  struct target_result *results[]; /* by target index; NULL until the first poll ends */
};

struct snapshot *snapshot_ref(struct snapshot *snapshot);

/* A snapshot of one target (for /probe): takes over the caller's reference on result; the
 * renderer shows only that target. NULL when out of memory. */
struct snapshot *snapshot_new_single(struct config *config, size_t index,
                                     struct target_result *result);
void snapshot_unref(struct snapshot *snapshot);

struct snapshot_store;

/* Returns NULL when out of memory. The store takes its own reference on config. */
struct snapshot_store *snapshot_store_new(struct config *config);
/* Replaces the clock that dates the analysis' state changes (real time by default): for
 * tests. Call before anything is published. */
void snapshot_store_set_clock(struct snapshot_store *store, double (*now_unix)(void *ctx),
                              void *ctx);
void snapshot_store_free(struct snapshot_store *store);

/* The current snapshot, with a reference for the caller (snapshot_unref it). */
struct snapshot *snapshot_store_acquire(struct snapshot_store *store);
unsigned long snapshot_store_generation(struct snapshot_store *store);

/* Publishes result (the store takes over the caller's reference) as target index of config,
 * with the analysis of the new snapshot (only the cluster of the target is analysed again).
 * A result for a config that is no longer current (a reload happened) is dropped.
 * Returns 0, -ESTALE when dropped, or -ENOMEM (the old snapshot stays). */
int snapshot_store_publish(struct snapshot_store *store, const struct config *config, size_t index,
                           struct target_result *result);

/* When the current analysis goes out of date with no new result (analysis.h,
 * refresh_at_unix), on the store's clock: INFINITY when only a poll can change it. */
double snapshot_store_refresh_at(struct snapshot_store *store);

/* Publishes the current results again with the analysis of what went out of date, if that
 * time has come. Returns 0 or -ENOMEM (the old snapshot stays). */
int snapshot_store_refresh(struct snapshot_store *store);

/* Switches to a new config. Results of targets that keep their kind, cluster and name are
 * carried over, so a reload leaves no gap (MariaDB ones with their replication sources named
 * after the new cluster's nodes). Returns 0 or -ENOMEM (nothing changed). */
int snapshot_store_install(struct snapshot_store *store, struct config *config);

#endif
