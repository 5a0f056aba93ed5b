/* The logged-in probe: logs in to an XMPP server as a monitoring account, the way a user's
 * client does (c2s connection, STARTTLS when offered, SASL with the strongest mechanism the
 * server offers, resource binding), then pings the server (XEP-0199) and measures. The XMPP
 * client side is libstrophe's. The session may be kept between polls, with a fresh login at
 * an interval, so that a broken login path is seen while pings stay cheap. */
#ifndef REPLMON_XMPP_LOGIN_H
#define REPLMON_XMPP_LOGIN_H

#include "probe_kind.h"
#include "xmpp_session.h"

#include <stdbool.h>

/* The most remote domains one node pings (s2s_ping). */
#define XMPP_S2S_PING_MAX 16

/* The settings of the logged-in probe kind. Borrowed. */
struct xmpp_login_settings {
  struct xmpp_account account;
  double relogin_interval_s; /* a session older than this logs in anew; 0: at every poll */
  /* s2s_ping: remote XMPP domains pinged over the session after the server, every poll. */
  const char *const *s2s_remotes;
  size_t n_s2s_remotes; /* at most XMPP_S2S_PING_MAX */
};

/* What one poll of the logged-in probe saw. */
struct xmpp_login_status {
  bool logged_in;          /* a session is logged in and answered this poll's ping */
  bool fresh_login;        /* this poll logged in anew */
  bool encrypted;          /* the session runs over TLS */
  double login_duration_s; /* the last login: connect, TLS, SASL and bind; NaN before one */
  double ping_rtt_s;       /* this poll's ping round trip; NaN without an answer */
  /* One per s2s_ping remote of the settings it was polled with, in their order (NULL and 0
   * without s2s_ping); success NaN when the session was not logged in. Owned. */
  struct xmpp_remote_ping *s2s;
  size_t n_s2s;
};

/* The s2s ping of status to remote, or NULL (not pinged: the settings changed since). */
const struct xmpp_remote_ping *xmpp_login_s2s_find(const struct xmpp_login_status *status,
                                                   const char *remote);

/* Resets every number to NaN and every flag to false, s2s to none (fresh data: it frees
 * nothing). */
void xmpp_login_status_reset(struct xmpp_login_status *status);

/* Data: struct xmpp_login_status. */
extern const struct probe_ops xmpp_login_probe_ops;

#endif
