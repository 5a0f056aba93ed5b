#include "log.h"
#include "buf.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int current_level = LOG_INFO;
static atomic_int current_format = LOG_LOGFMT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name, enum log_level *out) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(name, level_names[i]) == 0) {
      *out = (enum log_level)i;
      return 0;
    }
  }
  return -EINVAL;
}

int log_format_parse(const char *name, enum log_format *out) {
  if (strcmp(name, "logfmt") == 0)
    *out = LOG_LOGFMT;
  else if (strcmp(name, "json") == 0)
    *out = LOG_JSON;
  else
    return -EINVAL;
  return 0;
}

void log_setup(enum log_level level, enum log_format format) {
  atomic_store(&current_level, level);
  atomic_store(&current_format, format);
}

bool log_enabled(enum log_level level) {
  return (int)level >= atomic_load(&current_level);
}

static void timestamp(char *out, size_t size) {
  struct timespec now;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, size - n, ".%03ldZ", now.tv_nsec / 1000000);
}

static void logfmt_value(struct buf *line, const char *value) {
  bool quote = value[0] == '\0';
  for (const char *p = value; *p && !quote; p++)
    quote = *p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f;
  if (!quote) {
    buf_puts(line, value);
    return;
  }
  buf_putc(line, '"');
  for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
    if (*p == '"' || *p == '\\') {
      buf_putc(line, '\\');
      buf_putc(line, (char)*p);
    } else if (*p == '\n') {
      buf_puts(line, "\\n");
    } else if (*p < ' ' || *p == 0x7f) {
      buf_printf(line, "\\x%02x", *p);
    } else {
      buf_putc(line, (char)*p);
    }
  }
  buf_putc(line, '"');
}

static void format_logfmt(struct buf *line, const char *ts, const char *level, const char *msg,
                          va_list ap) {
  buf_printf(line, "ts=%s level=%s msg=", ts, level);
  logfmt_value(line, msg);
  for (const char *key; (key = va_arg(ap, const char *)) != NULL;) {
    const char *value = va_arg(ap, const char *);
    buf_putc(line, ' ');
    buf_puts(line, key);
    buf_putc(line, '=');
    logfmt_value(line, value ? value : "");
  }
  buf_putc(line, '\n');
}

static void format_json(struct buf *line, const char *ts, const char *level, const char *msg,
                        va_list ap) {
  json_t *obj = json_object();
  if (!obj) {
    line->failed = true;
    return;
  }
  json_object_set_new(obj, "ts", json_string(ts));
  json_object_set_new(obj, "level", json_string(level));
  json_object_set_new(obj, "msg", json_string(msg));
  for (const char *key; (key = va_arg(ap, const char *)) != NULL;) {
    const char *value = va_arg(ap, const char *);
    /* json_string() refuses invalid UTF-8; keep the event with a marker rather than drop it. */
    json_t *v = json_string(value ? value : "");
    json_object_set_new(obj, key, v ? v : json_string("(invalid UTF-8)"));
  }
  char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(obj);
  if (!text) {
    line->failed = true;
    return;
  }
  buf_puts(line, text);
  buf_putc(line, '\n');
  free(text);
}

void log_event_pairs(enum log_level level, const char *msg, ...) {
  if (!log_enabled(level))
    return;
  char ts[40];
  timestamp(ts, sizeof(ts));
  struct buf line = BUF_INIT;
  va_list ap;
  va_start(ap, msg);
  if (atomic_load(&current_format) == LOG_JSON)
    format_json(&line, ts, level_names[level], msg, ap);
  else
    format_logfmt(&line, ts, level_names[level], msg, ap);
  va_end(ap);
  if (line.failed) {
    static const char oom[] = "level=error msg=\"out of memory while logging\"\n";
    (void)!write(STDERR_FILENO, oom, sizeof(oom) - 1);
  } else {
    (void)!write(STDERR_FILENO, line.data, line.len);
  }
  buf_free(&line);
}
