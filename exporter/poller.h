/* One background thread per target: it owns the target's persistent connection, polls it
 * every poll_interval (backing off while it is unreachable) and publishes each result into
 * the snapshot store. Nothing here ever runs on a scrape. */
#ifndef REPLMON_POLLER_H
#define REPLMON_POLLER_H

#include "config.h"
#include "snapshot.h"

struct pollers;

/* Starts a poller for every target of config, carrying on from the results the store holds
 * for config (install config into the store first). Returns 0, or a negative errno with no
 * thread left running. The pollers hold their own reference on config. */
int pollers_start(struct config *config, struct snapshot_store *store, struct pollers **out);

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
