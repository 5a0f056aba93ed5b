/* Logs what changed, once per change: a node's health state (with how long the previous one
 * lasted), a configuration check failing (with its reason) or passing again, a node's
 * heartbeat table becoming unusable or usable again. Runs on the main thread, once per poll
 * interval, comparing the latest snapshot's analysis with the one it saw last. */
#ifndef REPLMON_WATCH_H
#define REPLMON_WATCH_H

#include "snapshot.h"

struct watch;

struct watch *watch_new(void);
void watch_free(struct watch *watch);

/* Compares s's analysis with what the last call saw and logs the differences. */
void watch_update(struct watch *watch, const struct snapshot *s);

#endif
