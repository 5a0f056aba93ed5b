/* The OpenMetrics exposition parser (Prosody's /metrics) on arbitrary bodies. */
#include "prosody.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct probe_error err = {REASON_NONE, NULL};
  double sessions = NAN;
  if (prosody_parse_c2s((const char *)data, size, &sessions, &err) != 0 &&
      err.reason != REASON_PARSE)
    abort();
  probe_error_clear(&err);
  return 0;
}
