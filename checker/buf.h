/* A growable byte buffer. Every append grows the buffer as needed, so no output is ever
 * truncated; an allocation failure is sticky (buf->failed) and checked once at the end. */
#ifndef REPLMON_BUF_H
#define REPLMON_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
  char *data; /* NUL-terminated while len < cap; owned by the buffer */
  size_t len;
  size_t cap;
  bool failed; /* an allocation failed: contents are incomplete */
};

#define BUF_INIT                                                                                   \
  { NULL, 0, 0, false }

void buf_append(struct buf *b, const char *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends a double as Prometheus expects: NaN, +Inf, -Inf, or the shortest exact form. */
void buf_put_double(struct buf *b, double v);
void buf_reset(struct buf *b);
/* Hands the data over to the caller (free() it); the buffer is empty afterwards.
 * Returns NULL when an allocation failed at any point. */
char *buf_steal(struct buf *b, size_t *len);
void buf_free(struct buf *b);

#endif
