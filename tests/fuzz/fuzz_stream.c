/* The XMPP stream reader on arbitrary server bytes, fed whole and in two pieces. */
#include "xmpp_stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct xmpp_stream_status s = {0};
  xmpp_stream_status_reset(&s);
  xmpp_stream_scan((const char *)data, size / 2, &s);
  enum stream_scan result = xmpp_stream_scan((const char *)data, size, &s);
  if (result == STREAM_ERROR && (!s.stream_error || !*s.stream_error))
    abort();
  xmpp_stream_status_reset(&s);
  return 0;
}
