/* The delivery probe of an XMPP cluster: two monitoring sessions, one logged in on each of
 * two nodes, send each other a probe message every poll, and replmon measures when each
 * arrives: a message from a user on one node reaching a user on the other is what a
 * cluster's users feel. */
#ifndef REPLMON_XMPP_DELIVERY_H
#define REPLMON_XMPP_DELIVERY_H

#include "probe_kind.h"
#include "xmpp_session.h"

#include <stdbool.h>

/* The settings of the delivery kind: node names (for the log) and their accounts. */
struct xmpp_delivery_settings {
  const char *nodes[2];
  struct xmpp_account accounts[2];
};

/* Direction 0 is nodes[0] -> nodes[1], direction 1 the way back. */
struct xmpp_delivery_status {
  bool delivered[2];
  double seconds[2];    /* how long the message took; NaN when it did not arrive */
  double lost_total[2]; /* messages sent that did not arrive within the timeout, since start */
};

/* Data: struct xmpp_delivery_status. */
extern const struct probe_ops xmpp_delivery_probe_ops;

#endif
