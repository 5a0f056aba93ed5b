#include "probe.h"

#include "buf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

const char *probe_reason_name(enum probe_reason reason) {
  static const char *const names[REASON_COUNT] = {"connect", "auth",       "timeout", "privilege",
                                                  "query",   "permission", "http",    "parse",
                                                  "stream",  "tls"};
  if (reason < 0 || reason >= REASON_COUNT)
    return "none";
  return names[reason];
}

static double clock_seconds(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_monotonic_seconds(void) {
  return clock_seconds(CLOCK_MONOTONIC);
}

double clock_unix_seconds(void) {
  return clock_seconds(CLOCK_REALTIME);
}

struct timespec timespec_from_seconds(double seconds) {
  struct timespec ts = {0, 0};
  if (!(seconds > 0))
    return ts;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  /* A fraction just below 1 can round up to a whole second, which the kernel refuses. */
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

void probe_error_set(struct probe_error *err, enum probe_reason reason, const char *fmt, ...) {
  struct buf text = BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&text, fmt, ap);
  va_end(ap);
  free(err->message);
  err->reason = reason;
  err->message = buf_steal(&text, NULL); /* NULL only when out of memory: reason still holds */
}

void probe_error_clear(struct probe_error *err) {
  free(err->message);
  err->message = NULL;
  err->reason = REASON_NONE;
}
