/* Logs what changed, once per change: a node's health state (with how long the previous one
 * lasted), a configuration check failing (with its reason) or passing again, a node's
 * heartbeat table becoming unusable or usable again. Runs on the main thread, once per poll
 * interval, from the latest snapshot. */
#ifndef REPLMON_WATCH_H
#define REPLMON_WATCH_H

#include "snapshot.h"

struct watch;

struct watch *watch_new(void);
void watch_free(struct watch *watch);

/* Compares s with what the last call saw, logs the differences, and publishes the nodes'
 * health states with since when into store. */
void watch_update(struct watch *watch, struct snapshot_store *store, const struct snapshot *s);

#endif
