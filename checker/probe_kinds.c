/* The table of probe kinds: the one place that lists them. */
#include "mariadb.h"
#include "probe_kind.h"
#include "xmpp.h"
#include "xmpp_delivery.h"
#include "xmpp_login.h"
#include "xmpp_stream.h"

static const struct probe_ops *const kinds[PROBE_KIND_COUNT] = {
    [PROBE_MARIADB] = &mariadb_probe_ops,
    [PROBE_XMPP_API] = &xmpp_api_probe_ops,
    [PROBE_XMPP_STREAM] = &xmpp_stream_probe_ops,
    [PROBE_XMPP_LOGIN] = &xmpp_login_probe_ops,
    [PROBE_XMPP_DELIVERY] = &xmpp_delivery_probe_ops,
};

const struct probe_ops *probe_kind_ops(enum probe_kind kind) {
  return kind >= 0 && kind < PROBE_KIND_COUNT ? kinds[kind] : NULL;
}

const char *probe_kind_name(enum probe_kind kind) {
  const struct probe_ops *ops = probe_kind_ops(kind);
  return ops ? ops->name : "unknown";
}

int probe_kinds_library_init(void) {
  for (int k = 0; k < PROBE_KIND_COUNT; k++) {
    if (!kinds[k]->library_init)
      continue;
    int rc = kinds[k]->library_init();
    if (rc == 0)
      continue;
    while (k-- > 0)
      if (kinds[k]->library_end)
        kinds[k]->library_end();
    return rc;
  }
  return 0;
}

void probe_kinds_library_end(void) {
  for (int k = PROBE_KIND_COUNT; k-- > 0;)
    if (kinds[k]->library_end)
      kinds[k]->library_end();
}
