/* The label escaper: whatever the value, the escaped text reads back to it. */
#include "render.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *value = malloc(size + 1);
  if (!value)
    return 0;
  memcpy(value, data, size);
  value[size] = '\0'; /* label values are C strings: stop at a NUL */
  struct buf out = BUF_INIT;
  render_label_value(&out, value);
  /* Unescape and compare; a raw newline or an unescaped quote must never appear. */
  size_t j = 0;
  for (size_t i = 0; out.data && i < out.len; i++, j++) {
    char c = out.data[i];
    if (c == '\n' || c == '"')
      abort();
    if (c == '\\') {
      char n = out.data[++i];
      c = n == 'n' ? '\n' : n;
      if (n != 'n' && n != '\\' && n != '"')
        abort();
    }
    if (value[j] != c)
      abort();
  }
  if (value[j] != '\0')
    abort();
  buf_free(&out);
  free(value);
  return 0;
}
