#include "xmpp.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"ejabberd", "prosody", "openfire"};

const char *xmpp_type_name(enum xmpp_type type) {
  return type >= XMPP_EJABBERD && type <= XMPP_OPENFIRE ? type_names[type] : "unknown";
}

int xmpp_type_parse(const char *name, enum xmpp_type *out) {
  for (int i = XMPP_EJABBERD; i <= XMPP_OPENFIRE; i++) {
    if (strcmp(name, type_names[i]) == 0) {
      *out = (enum xmpp_type)i;
      return 0;
    }
  }
  return -EINVAL;
}

bool xmpp_provides(enum xmpp_type type, enum xmpp_value value) {
  switch (type) {
  case XMPP_EJABBERD:
    return value != XMPP_CLUSTER_C2S_SESSIONS;
  case XMPP_PROSODY:
    return value == XMPP_C2S_SESSIONS || value == XMPP_S2S || value == XMPP_MUC_ROOMS;
  case XMPP_OPENFIRE:
    return value == XMPP_C2S_SESSIONS || value == XMPP_CLUSTER_C2S_SESSIONS;
  }
  return false;
}

void xmpp_status_reset(struct xmpp_status *status) {
  free(status->version);
  free(status->members);
  status->up = false;
  status->version = NULL;
  status->members = NULL;
  status->cluster_members = NAN;
  status->c2s_sessions = status->cluster_c2s_sessions = NAN;
  status->s2s_in = status->s2s_out = NAN;
  status->registered_users = status->muc_rooms = status->uptime_seconds = NAN;
}

const char *xmpp_endpoint_name(enum xmpp_endpoint endpoint) {
  return endpoint == XMPP_ENDPOINT_S2S ? "s2s" : "c2s";
}

void xmpp_stream_status_reset(struct xmpp_stream_status *status) {
  free(status->stream_error);
  status->known = false;
  status->starttls_offered = status->starttls_required = false;
  status->cert_expiry_unix = NAN;
  status->stream_error = NULL;
  for (int e = 0; e < XMPP_ENDPOINTS; e++) {
    struct xmpp_tls_endpoint *t = &status->endpoints[e];
    free(t->tls_problem);
    free(t->error);
    free(t->verdict_problem);
    *t = (struct xmpp_tls_endpoint){.leaf_expiry_unix = NAN, .earliest_expiry_unix = NAN};
  }
}
