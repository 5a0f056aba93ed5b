/* The ejabberd and Openfire JSON handling on arbitrary answers, under every status class. */
#include "ejabberd.h"
#include "openfire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static const long statuses[] = {200, 401, 403, 404, 500};
  char *body = malloc(size);
  if (!body)
    return 0;
  memcpy(body, data + 1, size - 1);
  struct http_answer answer = {statuses[data[0] % 5], body, size - 1};
  struct probe_error err = {REASON_NONE, NULL};
  double value;
  char *text = NULL;
  const char *key = data[0] & 0x10 ? NULL : data[0] & 0x20 ? "" : "num_sessions";
  if (ejabberd_parse_answer("cmd", &answer, key, &value, &text, &err) == 0 && key && !*key) {
    char *version = ejabberd_version_from_status(text);
    free(version);
  }
  free(text);
  struct xmpp_status x = {0};
  xmpp_status_reset(&x);
  openfire_parse_sessions(&answer, &x, &err);
  xmpp_status_reset(&x);
  probe_error_clear(&err);
  free(body);
  return 0;
}
