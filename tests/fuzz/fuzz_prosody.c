/* The OpenMetrics exposition parser (Prosody's /metrics) on arbitrary bodies. */
#include "prosody.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct probe_error err = {REASON_NONE, NULL};
  struct xmpp_status status = {0};
  xmpp_status_reset(&status);
  if (prosody_parse((const char *)data, size, &status, &err) != 0 && err.reason != REASON_PARSE)
    abort();
  probe_error_clear(&err);
  xmpp_status_reset(&status);
  return 0;
}
