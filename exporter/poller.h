/* One background thread per target: it owns the target's connection, polls it every
 * poll_interval (backing off while it is unreachable) and publishes each result into the
 * snapshot store. It knows no kind of probe: it runs the target's probe operations
 * (probe_kind.h). Nothing here ever runs on a scrape. */
#ifndef REPLMON_POLLER_H
#define REPLMON_POLLER_H

#include "config.h"
#include "snapshot.h"

#include <pthread.h>

struct pollers;

/* The scheduler's time: CLOCK_MONOTONIC seconds and a condition variable wait by default;
 * tests put a virtual clock in. wait is called with lock held, waits on wake until the
 * monotonic time deadline or a signal, and returns ETIMEDOUT once the deadline passed. */
struct poller_clock {
  double (*now)(void *ctx);
  int (*wait)(void *ctx, pthread_cond_t *wake, pthread_mutex_t *lock, double deadline);
  void *ctx;
};

/* Starts a poller for every target of config, carrying on from the results the store holds
 * for config (install config into the store first). Returns 0, or a negative errno with no
 * thread left running. The pollers hold their own reference on config. */
int pollers_start(struct config *config, struct snapshot_store *store, struct pollers **out);
/* The same on clock (copied; NULL: the real one), which the set keeps through reloads. */
int pollers_start_clocked(struct config *config, struct snapshot_store *store,
                          const struct poller_clock *clock, struct pollers **out);

/* Moves the pollers to a new configuration (install it into the store first): a target whose
 * connection settings did not change keeps its poller and connection, new targets get one,
 * the pollers of removed or changed targets are stopped. Returns 0, or -ENOMEM when some new
 * target could not be started (the others run). */
int pollers_reload(struct pollers **set, struct config *config, struct snapshot_store *store);

/* Wakes every poller, joins them and closes their connections. A poller in the middle of a
 * statement finishes it first (bounded by the timeouts). NULL is a no-op. */
void pollers_stop(struct pollers *pollers);

/* Probes target index of config once, now, on the calling thread, over a connection of its
 * own, with the timeouts cut to about a third of timeout_s each (MariaDB counts whole
 * seconds, so a frozen node may take longer: callers bound their wait themselves). Returns
 * the result with one reference, or NULL when out of memory. */
struct target_result *poller_probe_once(const struct config *config, size_t index,
                                        double timeout_s);

/* The next reconnect delay after failures consecutive failed connects: poll_interval doubled
 * per failure, capped at max(poll_interval, 5 s). */
double poller_backoff_seconds(double poll_interval_s, unsigned failures);

#endif
