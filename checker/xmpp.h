/* What the XMPP probes report, shared by the three API backends and the stream probe. */
#ifndef REPLMON_XMPP_H
#define REPLMON_XMPP_H

#include "probe.h"
#include "probe_kind.h"

#include <stdbool.h>

enum xmpp_type { XMPP_EJABBERD, XMPP_PROSODY, XMPP_OPENFIRE };

/* "ejabberd", "prosody", "openfire". */
const char *xmpp_type_name(enum xmpp_type type);
/* 0, or -EINVAL for an unknown name. */
int xmpp_type_parse(const char *name, enum xmpp_type *out);

/* One poll of a server's HTTP API. Every number is NaN when unknown (the server is down, or
 * refused that one command). Which numbers a type provides at all is xmpp_provides(). */
struct xmpp_status {
  bool up; /* the API answered (at least one call succeeded) */
  double c2s_sessions;
  double cluster_c2s_sessions;
  double s2s_in;
  double s2s_out;
  double registered_users;
  double muc_rooms;
  double uptime_seconds;
  char *version;          /* owned; NULL when unknown */
  double cluster_members; /* ejabberd's list_cluster, when asked: how many nodes ... */
  char *members;          /* ... and which, sorted and joined with commas (owned) */
};

enum xmpp_value {
  XMPP_C2S_SESSIONS,
  XMPP_CLUSTER_C2S_SESSIONS,
  XMPP_S2S,
  XMPP_REGISTERED_USERS,
  XMPP_MUC_ROOMS,
  XMPP_UPTIME,
};

/* Whether a backend type can report a value at all: what it cannot is left out, not faked. */
bool xmpp_provides(enum xmpp_type type, enum xmpp_value value);

/* Sets every number to NaN, up to false and frees the version. */
void xmpp_status_reset(struct xmpp_status *status);

/* The streams the stream probe opens: c2s (where users connect), and s2s when configured. */
enum xmpp_endpoint { XMPP_ENDPOINT_C2S, XMPP_ENDPOINT_S2S, XMPP_ENDPOINTS };

/* "c2s", "s2s". */
const char *xmpp_endpoint_name(enum xmpp_endpoint endpoint);

/* What one endpoint of the stream probe gave. */
struct xmpp_tls_endpoint {
  unsigned port;               /* 0 when this endpoint was not probed */
  bool stream_ok;              /* it sent its features, and TLS completed where it was offered */
  bool handshake_done;         /* a TLS handshake completed: the fields below are known */
  bool verified;               /* the chain and the name (tls_verify.h) */
  int verify_reason;           /* enum tls_verify_reason */
  double leaf_expiry_unix;     /* NaN without a handshake */
  double earliest_expiry_unix; /* the earliest notAfter of the chain presented; NaN likewise */
  char *tls_problem;           /* owned: why not verified ("wrong name", ...); NULL when it is */
  char *error;                 /* owned: why its stream failed; NULL when it did not */
  /* The latest verdict known, what the log last said: this poll's when its handshake
   * completed, else carried over from the poll before (xmpp_stream_carry_verdicts), so that
   * a server down for a while and back with the same certificate is not logged again. */
  bool verdict_known;
  bool verdict_verified;
  char *verdict_problem; /* owned: tls_problem then; NULL when verified */
};

/* One run of the stream probe. */
struct xmpp_stream_status {
  bool known; /* the server sent its c2s stream features */
  bool starttls_offered;
  bool starttls_required;
  double cert_expiry_unix; /* the c2s certificate's; NaN when no TLS handshake completed */
  char *stream_error;      /* owned: the stream error condition, e.g. "host-unknown" */
  struct xmpp_tls_endpoint endpoints[XMPP_ENDPOINTS];
};

void xmpp_stream_status_reset(struct xmpp_stream_status *status);

/* The settings of the XMPP API kind (xmpp_api.c). Borrowed. */
struct xmpp_api_settings {
  enum xmpp_type type;
  const char *api_url;
  const char *basic_user; /* HTTP Basic, with password */
  const char *password;
  const char *secret; /* Openfire's shared secret, sent as the Authorization header */
  bool list_cluster;  /* ejabberd: also ask which nodes form its cluster */
};

/* A server's HTTP API, whichever type; data: struct xmpp_status. */
extern const struct probe_ops xmpp_api_probe_ops;

#endif
