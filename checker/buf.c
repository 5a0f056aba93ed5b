#include "buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool buf_reserve(struct buf *b, size_t extra) {
  if (b->failed)
    return false;
  if (b->len + extra + 1 <= b->cap)
    return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) {
    if (cap > ((size_t)-1) / 2) {
      b->failed = true;
      return false;
    }
    cap *= 2;
  }
  char *data = realloc(b->data, cap);
  if (!data) {
    b->failed = true;
    return false;
  }
  b->data = data;
  b->cap = cap;
  return true;
}

void buf_append(struct buf *b, const char *data, size_t len) {
  if (!buf_reserve(b, len))
    return;
  memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s) {
  buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c) {
  buf_append(b, &c, 1);
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap) {
  va_list again;
  va_copy(again, ap);
  char small[128];
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  if (n < 0) {
    b->failed = true;
  } else if ((size_t)n < sizeof(small)) {
    buf_append(b, small, (size_t)n);
  } else if (buf_reserve(b, (size_t)n)) {
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    b->len += (size_t)n;
  }
  va_end(again);
}

void buf_printf(struct buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void buf_put_double(struct buf *b, double v) {
  if (isnan(v)) {
    buf_puts(b, "NaN");
  } else if (isinf(v)) {
    buf_puts(b, v > 0 ? "+Inf" : "-Inf");
  } else if (fabs(v) < 1e15 && v == (double)(long long)v) {
    buf_printf(b, "%lld", (long long)v);
  } else {
    /* %.17g round-trips every double; try the shorter %.15g first for readable output. */
    char text[40];
    snprintf(text, sizeof(text), "%.15g", v);
    if (strtod(text, NULL) != v)
      snprintf(text, sizeof(text), "%.17g", v);
    buf_puts(b, text);
  }
}

void buf_reset(struct buf *b) {
  b->len = 0;
  b->failed = false;
  if (b->data)
    b->data[0] = '\0';
}

char *buf_steal(struct buf *b, size_t *len) {
  if (b->failed || !buf_reserve(b, 0)) {
    buf_free(b);
    return NULL;
  }
  char *data = b->data;
  if (len)
    *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return data;
}

void buf_free(struct buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->failed = false;
}
