/* The XMPP families: what each server's HTTP API reports (xmpp_server_info, sessions, users,
 * rooms, uptime, s2s connections) and what the c2s stream probe found (STARTTLS, the
 * certificate's expiry). */
#include "render_families.h"
#include "analysis.h"

#include <math.h>
#include <stdio.h>

enum xmpp_family_value {
  X_UP,
  X_C2S,
  X_CLUSTER_C2S,
  X_REGISTERED,
  X_ROOMS,
  X_UPTIME,
};

static const struct {
  const char *name;
  const char *help;
  enum xmpp_family_value value;
  enum xmpp_value provided; /* unused for X_UP */
} xmpp_families[] = {
    {"xmpp_up", "1 when the server's HTTP API answered the last poll, else 0.", X_UP, 0},
    {"xmpp_c2s_sessions", "Client sessions (resources) connected to this node.", X_C2S,
     XMPP_C2S_SESSIONS},
    {"xmpp_cluster_c2s_sessions",
     "Client sessions of the whole cluster as the server reports them (Openfire).", X_CLUSTER_C2S,
     XMPP_CLUSTER_C2S_SESSIONS},
    {"xmpp_registered_users", "Registered user accounts.", X_REGISTERED, XMPP_REGISTERED_USERS},
    {"xmpp_muc_rooms", "Multi-user chat rooms online.", X_ROOMS, XMPP_MUC_ROOMS},
    {"xmpp_uptime_seconds", "How long the server has been running.", X_UPTIME, XMPP_UPTIME},
};

static double xmpp_family_value(const struct target_result *r, enum xmpp_family_value which) {
  if (!r)
    return which == X_UP ? 0 : NAN;
  const struct xmpp_status *x = xmpp_of(r);
  switch (which) {
  case X_UP:
    return x->up;
  case X_C2S:
    return x->c2s_sessions;
  case X_CLUSTER_C2S:
    return x->cluster_c2s_sessions;
  case X_REGISTERED:
    return x->registered_users;
  case X_ROOMS:
    return x->muc_rooms;
  case X_UPTIME:
    return x->uptime_seconds;
  }
  return NAN;
}

void render_xmpp(const struct snapshot *s, struct buf *out) {
  render_family(out, "xmpp_server_info", "gauge",
                "Always 1, labeled by the server's type and version (empty when it does not say).");
  for (size_t i = 0; i < s->n_targets; i++) {
    if (!render_selected(s, i))
      continue;
    const struct target *t = &s->config->targets[i];
    if (t->kind != PROBE_XMPP_API)
      continue;
    const struct target_result *r = s->results[i];
    struct label labels[] = {{"cluster", t->cluster},
                             {"node", t->name},
                             {"type", xmpp_type_name(t->xmpp_node->type)},
                             {"version", r && xmpp_of(r)->version ? xmpp_of(r)->version : ""}};
    render_sample(out, "xmpp_server_info", labels, 4, 1);
  }
  for (size_t f = 0; f < sizeof(xmpp_families) / sizeof(xmpp_families[0]); f++) {
    render_family(out, xmpp_families[f].name, "gauge", xmpp_families[f].help);
    for (size_t i = 0; i < s->n_targets; i++) {
      if (!render_selected(s, i))
        continue;
      const struct target *t = &s->config->targets[i];
      if (t->kind != PROBE_XMPP_API ||
          (xmpp_families[f].value != X_UP &&
           !xmpp_provides(t->xmpp_node->type, xmpp_families[f].provided)))
        continue;
      struct label labels[] = {{"cluster", t->cluster}, {"node", t->name}};
      render_sample(out, xmpp_families[f].name, labels, 2,
                    xmpp_family_value(s->results[i], xmpp_families[f].value));
    }
  }
  render_family(out, "xmpp_s2s_connections", "gauge",
                "Server-to-server connections by direction (in, out).");
  for (size_t i = 0; i < s->n_targets; i++) {
    if (!render_selected(s, i))
      continue;
    const struct target *t = &s->config->targets[i];
    if (t->kind != PROBE_XMPP_API || !xmpp_provides(t->xmpp_node->type, XMPP_S2S))
      continue;
    const struct target_result *r = s->results[i];
    struct label labels[] = {{"cluster", t->cluster}, {"node", t->name}, {"direction", "in"}};
    render_sample(out, "xmpp_s2s_connections", labels, 3, r ? xmpp_of(r)->s2s_in : NAN);
    labels[2].value = "out";
    render_sample(out, "xmpp_s2s_connections", labels, 3, r ? xmpp_of(r)->s2s_out : NAN);
  }
}

enum stream_value { S_SUCCESS, S_DURATION, S_OFFERED, S_REQUIRED, S_EXPIRY };

static const struct {
  const char *name;
  const char *help;
  enum stream_value value;
} stream_families[] = {
    {"xmpp_stream_probe_success",
     "1 when the last c2s stream probe got the server's stream features (and TLS, if offered).",
     S_SUCCESS},
    {"xmpp_stream_probe_duration_seconds", "How long the last c2s stream probe took.", S_DURATION},
    {"xmpp_starttls_offered", "1 when the server offers STARTTLS on c2s; NaN when unknown.",
     S_OFFERED},
    {"xmpp_starttls_required", "1 when the server requires STARTTLS on c2s; NaN when unknown.",
     S_REQUIRED},
    {"xmpp_tls_cert_expiry_timestamp_seconds",
     "Unix time when the c2s certificate expires; NaN without a completed TLS handshake.",
     S_EXPIRY},
};

static double stream_value(const struct target *t, const struct target_result *r,
                           enum stream_value which) {
  if (!r)
    return which == S_SUCCESS ? 0 : NAN;
  /* Direct TLS (XEP-0368) needs no STARTTLS: whether it is offered there says nothing. */
  if ((which == S_OFFERED || which == S_REQUIRED) && t->xmpp_node->c2s_direct_tls)
    return NAN;
  switch (which) {
  case S_SUCCESS:
    return r->success;
  case S_DURATION:
    return r->duration_s;
  case S_OFFERED:
    return stream_of(r)->known ? stream_of(r)->starttls_offered : NAN;
  case S_REQUIRED:
    return stream_of(r)->known ? stream_of(r)->starttls_required : NAN;
  case S_EXPIRY:
    return stream_of(r)->cert_expiry_unix;
  }
  return NAN;
}

/* The port each configured endpoint of a node's stream probe has; 0 when it has none. */
static unsigned endpoint_port(const struct xmpp_node_config *n, enum xmpp_endpoint e) {
  if (e == XMPP_ENDPOINT_S2S)
    return n->s2s_address ? n->s2s_port : 0;
  return n->c2s_address ? n->c2s_port : 0;
}

/* Per stream endpoint (c2s, and s2s when configured), labeled by port: whether its stream
 * worked, and its certificate. probe_ssl_earliest_cert_expiry keeps blackbox_exporter's name
 * and meaning, so that the certificate alerts and dashboards written for it work unchanged. */
static void render_certificates(const struct snapshot *s, struct buf *out) {
  static const struct {
    const char *name;
    const char *help;
  } families[] = {
      {"xmpp_stream_success",
       "1 when the last stream opened on this port (c2s, and s2s with s2s_address) got the "
       "server's stream features and completed TLS where offered, else 0."},
      {"xmpp_tls_cert_verified",
       "1 when the certificate the server presented on this port chains to a trusted CA and "
       "names the domain (RFC 6125/7590), 0 when not (the reason is logged and on the status "
       "page); NaN without a completed TLS handshake."},
      {"probe_ssl_earliest_cert_expiry",
       "Unix time when the earliest-expiring certificate of the chain the server presented on "
       "this port expires (blackbox_exporter's metric); NaN without a completed TLS handshake."},
  };
  for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
    render_family(out, families[f].name, "gauge", families[f].help);
    for (size_t i = 0; i < s->n_targets; i++) {
      const struct target *t = &s->config->targets[i];
      if (!render_selected(s, i) || t->kind != PROBE_XMPP_STREAM)
        continue;
      for (int e = 0; e < XMPP_ENDPOINTS; e++) {
        unsigned port = endpoint_port(t->xmpp_node, (enum xmpp_endpoint)e);
        if (!port)
          continue;
        const struct xmpp_tls_endpoint *ep =
            s->results[i] ? &stream_of(s->results[i])->endpoints[e] : NULL;
        double v = NAN;
        if (f == 0)
          v = !ep ? 0 : ep->port == port ? (double)ep->stream_ok : NAN;
        else if (ep && ep->handshake_done && ep->port == port)
          v = f == 1 ? (double)ep->verified : ep->earliest_expiry_unix;
        char port_text[12];
        snprintf(port_text, sizeof(port_text), "%u", port);
        struct label labels[] = {{"cluster", t->cluster}, {"node", t->name}, {"port", port_text}};
        render_sample(out, families[f].name, labels, 3, v);
      }
    }
  }
}

void render_streams(const struct snapshot *s, struct buf *out) {
  for (size_t f = 0; f < sizeof(stream_families) / sizeof(stream_families[0]); f++) {
    render_family(out, stream_families[f].name, "gauge", stream_families[f].help);
    for (size_t i = 0; i < s->n_targets; i++) {
      if (!render_selected(s, i))
        continue;
      const struct target *t = &s->config->targets[i];
      if (t->kind != PROBE_XMPP_STREAM)
        continue;
      struct label labels[] = {{"cluster", t->cluster}, {"node", t->name}};
      render_sample(out, stream_families[f].name, labels, 2,
                    stream_value(t, s->results[i], stream_families[f].value));
    }
  }
  render_certificates(s, out);
}

enum login_value { L_SUCCESS, L_DURATION, L_PING_RTT };

static const struct {
  const char *name;
  const char *help;
  enum login_value value;
} login_families[] = {
    {"xmpp_login_success",
     "1 when the monitoring account is logged in (TLS when offered, SASL, bind) and its last "
     "ping was answered, else 0.",
     L_SUCCESS},
    {"xmpp_login_duration_seconds",
     "How long the monitoring account's last login took (connect, TLS, SASL, bind); NaN "
     "before one succeeded.",
     L_DURATION},
    {"xmpp_ping_rtt_seconds",
     "Round trip of the last XEP-0199 ping to the server over the logged-in session; NaN "
     "without an answer.",
     L_PING_RTT},
};

static double login_value(const struct target_result *r, enum login_value which) {
  if (!r)
    return which == L_SUCCESS ? 0 : NAN;
  const struct xmpp_login_status *l = r->data;
  switch (which) {
  case L_SUCCESS:
    return r->success && l->logged_in;
  case L_DURATION:
    return l->login_duration_s;
  case L_PING_RTT:
    return l->ping_rtt_s;
  }
  return NAN;
}

/* The s2s ping to remote in a logged-in probe's result r: NaN when unknown (no result yet,
 * no session, or polled before remote was configured). */
static double s2s_value(const struct target_result *r, const char *remote, bool rtt) {
  const struct xmpp_remote_ping *p = r ? xmpp_login_s2s_find(r->data, remote) : NULL;
  return !p ? NAN : rtt ? p->rtt_s : p->success;
}

/* One series per configured remote of each node with s2s_ping, always there. */
static void render_s2s_pings(const struct snapshot *s, struct buf *out) {
  bool any = false;
  for (size_t i = 0; i < s->n_targets && !any; i++)
    any = render_selected(s, i) && s->config->targets[i].kind == PROBE_XMPP_LOGIN &&
          s->config->targets[i].xmpp_node->n_s2s_ping > 0;
  if (!any)
    return;
  static const struct {
    const char *name;
    const char *help;
    bool rtt;
  } families[] = {
      {"xmpp_s2s_ping_success",
       "1 when the remote domain answered the XEP-0199 ping the monitoring account sent over "
       "the server (s2s), 0 when it failed (the stanza error, or no answer within the query "
       "timeout: the reason is logged and on the status page); NaN while the account is not "
       "logged in.",
       false},
      {"xmpp_s2s_ping_rtt_seconds",
       "Round trip of the last XEP-0199 ping to the remote domain over s2s; NaN without an "
       "answer.",
       true},
  };
  for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
    render_family(out, families[f].name, "gauge", families[f].help);
    for (size_t i = 0; i < s->n_targets; i++) {
      const struct target *t = &s->config->targets[i];
      if (!render_selected(s, i) || t->kind != PROBE_XMPP_LOGIN)
        continue;
      for (size_t k = 0; k < t->xmpp_node->n_s2s_ping; k++) {
        const char *remote = t->xmpp_node->s2s_ping[k];
        struct label labels[] = {{"cluster", t->cluster}, {"node", t->name}, {"remote", remote}};
        render_sample(out, families[f].name, labels, 3,
                      s2s_value(s->results[i], remote, families[f].rtt));
      }
    }
  }
}

void render_logins(const struct snapshot *s, struct buf *out) {
  bool any = false;
  for (size_t i = 0; i < s->n_targets && !any; i++)
    any = render_selected(s, i) && s->config->targets[i].kind == PROBE_XMPP_LOGIN;
  if (!any)
    return; /* no node has a probe account */
  for (size_t f = 0; f < sizeof(login_families) / sizeof(login_families[0]); f++) {
    render_family(out, login_families[f].name, "gauge", login_families[f].help);
    for (size_t i = 0; i < s->n_targets; i++) {
      const struct target *t = &s->config->targets[i];
      if (!render_selected(s, i) || t->kind != PROBE_XMPP_LOGIN)
        continue;
      struct label labels[] = {{"cluster", t->cluster}, {"node", t->name}};
      render_sample(out, login_families[f].name, labels, 2,
                    login_value(s->results[i], login_families[f].value));
    }
  }
  render_s2s_pings(s, out);
}

/* Whether target t is an ejabberd API of a cluster that says it is one ejabberd cluster. */
static bool clustered_ejabberd(const struct config *c, const struct target *t) {
  return t->kind == PROBE_XMPP_API && t->xmpp_node->type == XMPP_EJABBERD &&
         c->xmpp[t->group - c->n_mariadb].clustered;
}

void render_xmpp_clusters(const struct snapshot *s, struct buf *out) {
  const struct config *c = s->config;
  bool any = false;
  for (size_t x = 0; x < c->n_xmpp && !any; x++)
    any = c->xmpp[x].clustered;
  if (!any)
    return;
  render_family(out, "xmpp_cluster_members", "gauge",
                "How many nodes the node lists in its own cluster (ejabberd's list_cluster); NaN "
                "when unknown.");
  for (size_t i = 0; i < s->n_targets; i++) {
    const struct target *t = &c->targets[i];
    if (!render_selected(s, i) || !clustered_ejabberd(c, t))
      continue;
    struct label labels[] = {{"cluster", t->cluster}, {"node", t->name}};
    render_sample(out, "xmpp_cluster_members", labels, 2,
                  s->results[i] ? xmpp_of(s->results[i])->cluster_members : NAN);
  }
  if (!s->analysis)
    return; /* a /probe snapshot shows one node, not its cluster */
  render_family(out, "xmpp_cluster_check_ok", "gauge",
                "1 when the XMPP cluster passes the check (members_agree: every ejabberd node "
                "lists the same nodes, all of the configured ones), 0 when it fails (the "
                "reason is logged and on the status page); NaN when no node answered.");
  for (size_t g = 0; g < s->analysis->n_groups; g++) {
    const struct group_analysis *group = s->analysis->groups[g];
    if (group->kind != NODE_XMPP || !c->xmpp[g - c->n_mariadb].clustered)
      continue;
    for (int k = 0; k < XMPP_CHECK_COUNT; k++) {
      struct label labels[] = {{"cluster", group->name},
                               {"check", xmpp_check_name((enum xmpp_check)k)}};
      render_sample(out, "xmpp_cluster_check_ok", labels, 2, group->xmpp_checks[k].ok);
    }
  }
}

/* Which databases each XMPP node depends on, so that alert rules can join them and the
 * Alertmanager can inhibit the XMPP alerts a database alert explains. */
void render_dependencies(const struct snapshot *s, struct buf *out) {
  const struct config *c = s->config;
  bool any = false;
  for (size_t i = 0; i < s->n_targets && !any; i++)
    any = render_selected(s, i) && c->targets[i].kind == PROBE_XMPP_API &&
          c->targets[i].xmpp_node->n_depends;
  if (!any)
    return;
  render_family(out, "xmpp_node_database_info", "gauge",
                "Always 1, one series per MariaDB node (database) the XMPP node depends on "
                "(depends_on).");
  for (size_t i = 0; i < s->n_targets; i++) {
    const struct target *t = &c->targets[i];
    if (!render_selected(s, i) || t->kind != PROBE_XMPP_API)
      continue;
    for (size_t d = 0; d < t->xmpp_node->n_depends; d++) {
      const struct xmpp_dependency *dep = &t->xmpp_node->depends[d];
      struct label labels[] = {{"cluster", t->cluster},
                               {"node", t->name},
                               {"database", dep->name},
                               {"database_cluster", c->mariadb[dep->cluster].name}};
      render_sample(out, "xmpp_node_database_info", labels, 4, 1);
    }
  }
}

/* The delivery probes: one series per direction, from one node's account to the other's. */
void render_deliveries(const struct snapshot *s, struct buf *out) {
  static const struct {
    const char *name;
    const char *type;
    const char *help;
  } families[] = {
      {"xmpp_delivery_success", "gauge",
       "1 when the last probe message from the account on node 'from' reached the account on "
       "node 'to' within query_timeout, else 0."},
      {"xmpp_delivery_seconds", "gauge",
       "How long the last probe message took from 'from' to 'to'; NaN when it did not arrive."},
      {"xmpp_delivery_lost_total", "counter",
       "Probe messages sent from 'from' that did not reach 'to' within query_timeout."},
  };
  bool any = false;
  for (size_t i = 0; i < s->n_targets && !any; i++)
    any = render_selected(s, i) && s->config->targets[i].kind == PROBE_XMPP_DELIVERY;
  if (!any)
    return;
  for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
    render_family(out, families[f].name, families[f].type, families[f].help);
    for (size_t i = 0; i < s->n_targets; i++) {
      const struct target *t = &s->config->targets[i];
      if (!render_selected(s, i) || t->kind != PROBE_XMPP_DELIVERY)
        continue;
      const struct xmpp_delivery_settings *st = t->settings;
      const struct target_result *r = s->results[i];
      const struct xmpp_delivery_status *d = r ? r->data : NULL;
      for (int k = 0; k < 2; k++) {
        struct label labels[] = {
            {"cluster", t->cluster}, {"from", st->nodes[k]}, {"to", st->nodes[1 - k]}};
        double v = f == 0   ? (d && d->delivered[k])
                   : f == 1 ? (d ? d->seconds[k] : NAN)
                            : (d ? d->lost_total[k] : 0);
        render_sample(out, families[f].name, labels, 3, v);
      }
    }
  }
}
