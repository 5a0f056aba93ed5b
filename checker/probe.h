/* Types shared by every probe: why a probe failed, and monotonic/wall clocks. */
#ifndef REPLMON_PROBE_H
#define REPLMON_PROBE_H

/* The fixed set of failure reasons; they label replmon_probe_errors_total. */
enum probe_reason {
  REASON_NONE = -1,
  REASON_CONNECT = 0,
  REASON_AUTH,
  REASON_TIMEOUT,
  REASON_PRIVILEGE,
  REASON_QUERY,
  REASON_COUNT
};

/* Why a probe failed, for the metrics (reason) and for people (message, never a secret). */
struct probe_error {
  enum probe_reason reason;
  char *message; /* owned; NULL when there is no error */
};

/* Sets reason and a formatted message (replacing any earlier one). */
void probe_error_set(struct probe_error *err, enum probe_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void probe_error_clear(struct probe_error *err);

/* "connect", "auth", ...; "none" for REASON_NONE. */
const char *probe_reason_name(enum probe_reason reason);

/* Seconds on CLOCK_MONOTONIC (durations) and CLOCK_REALTIME (timestamps for Prometheus). */
double clock_monotonic_seconds(void);
double clock_unix_seconds(void);

#endif
