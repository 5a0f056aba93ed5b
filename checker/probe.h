/* Types shared by every probe: why a probe failed, and monotonic/wall clocks. */
#ifndef REPLMON_PROBE_H
#define REPLMON_PROBE_H

#include <time.h>

/* The fixed set of failure reasons; they label replmon_probe_errors_total. Each kind of
 * probe uses a subset: the reasons of its struct probe_ops (probe_kind.h). */
enum probe_reason {
  REASON_NONE = -1,
  REASON_CONNECT = 0, /* no connection (refused, unreachable, reset) */
  REASON_AUTH,        /* credentials refused */
  REASON_TIMEOUT,     /* a connect or an answer took longer than its timeout */
  REASON_PRIVILEGE,   /* MariaDB: a statement needs a grant the account lacks */
  REASON_QUERY,       /* MariaDB: a statement failed or answered something unusable */
  REASON_PERMISSION,  /* XMPP API: the server refused one command (ejabberd code 32) */
  REASON_HTTP,        /* XMPP API: an unexpected HTTP status */
  REASON_PARSE,       /* an answer that could not be understood (bad JSON, too large, ...) */
  REASON_STREAM,      /* XMPP stream probe: the server sent a stream error */
  REASON_TLS,         /* XMPP stream: STARTTLS or the handshake failed; MariaDB: no TLS session
                         as the cluster's tls block asks (handshake, certificate, none offered) */
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

/* seconds (>= 0) as a struct timespec: a relative timeout (nanosleep, sigtimedwait) or, from
 * clock_monotonic_seconds() plus a delay, an absolute deadline for a condition variable on
 * CLOCK_MONOTONIC. */
struct timespec timespec_from_seconds(double seconds);

#endif
