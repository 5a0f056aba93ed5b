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

/* Wakes every poller, joins them and closes their connections. A poller in the middle of a
 * statement finishes it first (bounded by the timeouts). NULL is a no-op. */
void pollers_stop(struct pollers *pollers);

/* The next reconnect delay after failures consecutive failed connects: poll_interval doubled
 * per failure, capped at max(poll_interval, 5 s). */
double poller_backoff_seconds(double poll_interval_s, unsigned failures);

#endif
