/* Structured logging to stderr, one line per event, logfmt or JSON (the Prometheus
 * exporters' --log.format). Thread-safe: each line is written with a single write(). */
#ifndef REPLMON_LOG_H
#define REPLMON_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_LOGFMT, LOG_JSON };

/* Returns 0, or -EINVAL for an unknown name. */
int log_level_parse(const char *name, enum log_level *out);
int log_format_parse(const char *name, enum log_format *out);
void log_setup(enum log_level level, enum log_format format);
bool log_enabled(enum log_level level);

/* Logs msg with key/value string pairs:
 *   log_event(LOG_WARN, "poll failed", "node", name, "err", text);
 * A NULL value is written as an empty string. */
#define log_event(...) log_event_pairs(__VA_ARGS__, (const char *)NULL)
void log_event_pairs(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#endif
