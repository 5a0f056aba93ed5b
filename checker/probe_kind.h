/* The probe interface: every kind of probe (MariaDB, an XMPP server's HTTP API, the c2s
 * stream probe, ...) is one table of operations, so that the scheduler that runs probes
 * knows no kind. A new kind is one file in checker/ with its operations and one entry in
 * probe_kinds.c. */
#ifndef REPLMON_PROBE_KIND_H
#define REPLMON_PROBE_KIND_H

#include "probe.h"

#include <stdbool.h>
#include <stddef.h>

/* The kinds; the order is the order of the table in probe_kinds.c. */
enum probe_kind {
  PROBE_MARIADB,
  PROBE_XMPP_API,
  PROBE_XMPP_STREAM,
  PROBE_XMPP_LOGIN,
  PROBE_XMPP_DELIVERY,
  PROBE_KIND_COUNT
};

/* How long a probe may wait: to connect, and for each answer after that. */
struct probe_timeouts {
  double connect_s;
  double query_s;
};

/* Who is probed, for the log lines a kind writes itself. Borrowed. */
struct probe_names {
  const char *cluster;
  const char *node;
};

/* The operations of one kind. settings point to the kind's own settings struct (declared in
 * the kind's header, built by the configuration and borrowed for as long as the poller runs
 * with them); conn is the kind's connection state; data is the kind's poll result. Optional
 * operations are NULL. */
struct probe_ops {
  const char *name; /* the kind label of replmon_* metrics: "mariadb", "xmpp", ... */
  /* The reasons this kind can fail for: its replmon_probe_errors_total series. */
  const enum probe_reason *reasons;
  size_t n_reasons;

  /* Library-wide set-up, called once before any thread starts and once after every thread
   * ended; 0 or a negative errno. Per-thread set-up, called on every thread that polls. */
  int (*library_init)(void);
  void (*library_end)(void);
  void (*thread_init)(void);
  void (*thread_end)(void);

  /* Whether a poller that runs with settings a can go on with settings b without opening a
   * new connection (b is then passed to every later poll). */
  bool (*same_settings)(const void *a, const void *b);
  /* The connection state for settings (copied as needed; no I/O yet). NULL when out of
   * memory. close(NULL) is a no-op. Both NULL for a kind that keeps no connection: its
   * polls get conn NULL. */
  void *(*open)(const void *settings, const struct probe_timeouts *timeouts);
  void (*close)(void *conn);

  /* A result with every value unknown (NaN); NULL when out of memory. Freed by data_free. */
  void *(*data_new)(void);
  void (*data_free)(void *data);
  /* One poll into data (fresh from data_new). last is the previous poll's data or NULL, to
   * carry over what a failed poll cannot tell. Returns 0, or a negative errno with err set;
   * data is filled either way. -ENOMEM with err's reason REASON_NONE means out of memory.
   * May block for about the timeouts: never call it where a scrape waits. */
  int (*poll)(void *conn, const void *settings, const struct probe_timeouts *timeouts,
              const void *last, void *data, struct probe_error *err);
  /* Logs what changed from last (NULL at first) to data that deserves a line of its own. */
  void (*log_changes)(const struct probe_names *who, const void *last, const void *data);
  /* For data carried across a reload into new settings: 0 with *copy NULL when data fits
   * them as it is, 0 with a new copy (names re-derived) in *copy, or -ENOMEM. */
  int (*rebase)(const void *data, const void *settings, void **copy);

  /* Whether a failure for reason means the target cannot be reached, so the next tries back
   * off; and whether it needs a person (credentials, grants) and is logged as an error. */
  bool (*backs_off)(enum probe_reason reason);
  bool (*needs_person)(enum probe_reason reason);
};

/* The operations of kind; NULL for a value that is not a kind. */
const struct probe_ops *probe_kind_ops(enum probe_kind kind);
/* "mariadb", ...; "unknown" for a value that is not a kind. */
const char *probe_kind_name(enum probe_kind kind);

/* Every kind's library_init, in order; on failure the ones done are undone. 0 or a negative
 * errno. Call before any thread starts; probe_kinds_library_end after every thread ended. */
int probe_kinds_library_init(void);
void probe_kinds_library_end(void);

#endif
