/* Logs what changed in the pair as a whole, once per change: a configuration check failing
 * (with its reason) or passing again, and a node's heartbeat table becoming unusable or
 * usable again. Runs on the main thread, once per poll interval, from the latest snapshot. */
#ifndef REPLMON_WATCH_H
#define REPLMON_WATCH_H

#include "snapshot.h"

struct watch;

struct watch *watch_new(void);
void watch_free(struct watch *watch);

/* Compares s with what the last call saw and logs the differences. */
void watch_update(struct watch *watch, const struct snapshot *s);

#endif
