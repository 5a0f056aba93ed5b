/* The configuration file (YAML): parsed once, validated whole, immutable afterwards and
 * shared by reference between the pollers, the snapshots and the HTTP handlers. */
#ifndef REPLMON_CONFIG_H
#define REPLMON_CONFIG_H

#include "mariadb.h"
#include "probe_kind.h"
#include "xmpp.h"
#include "xmpp_delivery.h"
#include "xmpp_login.h"
#include "xmpp_stream.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

struct mariadb_node_config {
  char *name;
  char *address; /* "host:port" as configured, or NULL for a socket */
  char *host;    /* without brackets for IPv6; NULL for a socket */
  unsigned port;
  char *socket; /* unix socket path, or NULL */
  yaml_mark_t mark;
  struct mariadb_settings probe; /* the probe's settings, pointing into this config */
};

enum cluster_mode { MODE_MULTI_MASTER, MODE_ACTIVE_PASSIVE };

/* TLS towards every node of a cluster, set by its tls block. The paths are resolved (relative
 * to the configuration file) and were readable at load; the client library reads the files
 * again at each connect. */
struct mariadb_tls_config {
  bool enabled;            /* a tls block is present: TLS or no connection, never plaintext */
  char *ca_file;           /* CA certificates (PEM); NULL only without verify_server_cert */
  char *cert_file;         /* client certificate (PEM), with key_file; NULL without */
  char *key_file;          /* its unencrypted private key; never logged beyond its path */
  bool verify_server_cert; /* check the chain against ca_file and the host name; default on */
};

/* A replication link the cluster is meant to have: nodes[replica] reads from nodes[source]. */
struct mariadb_link {
  size_t replica;
  size_t source;
};

struct mariadb_cluster_config {
  char *name;
  char *user;
  char *password; /* secret: never log it or show it */
  size_t n_nodes;
  struct mariadb_node_config *nodes;
  char *heartbeat_table;  /* "schema.table"; NULL without heartbeat */
  bool heartbeat_write;   /* replmon writes the rows (else another tool does) */
  enum cluster_mode mode; /* which nodes are meant to take writes */
  size_t n_links;         /* expected links: by default every node reads from every other */
  struct mariadb_link *links;
  double stall_after_s;   /* a link without progress for this long is stalled */
  bool semisync_required; /* semisync: required: check that semi-sync has not fallen back */
  struct mariadb_tls_config tls;
  struct mariadb_peer *peers; /* n_nodes entries: the probes name replication sources so */
  size_t first_target;        /* the target of nodes[0]; the others follow it */
};

/* A MariaDB node an XMPP node needs (depends_on): its database. */
struct xmpp_dependency {
  char *name;
  size_t cluster; /* mariadb[cluster].nodes[node], resolved once the file is read */
  size_t node;
  yaml_mark_t mark;
};

struct xmpp_node_config {
  char *name;
  enum xmpp_type type;
  char *api_url;
  char *basic_user;  /* HTTP Basic, with password */
  char *password;    /* secret */
  char *secret;      /* Openfire's shared secret, sent as the Authorization header; secret */
  char *c2s_address; /* "host:port" for the stream probe, or NULL */
  char *c2s_host;
  unsigned c2s_port;
  bool c2s_direct_tls; /* XEP-0368: TLS from the first byte on c2s_address */
  char *s2s_address;   /* "host:port" of the s2s stream the stream probe also opens, or NULL */
  char *s2s_host;
  unsigned s2s_port;
  char *domain; /* required with c2s_address and s2s_address */
  yaml_mark_t mark;
  /* The logged-in probe's monitoring account (probe_account), or NULL jid. */
  char *probe_jid;
  char *probe_password; /* secret */
  double relogin_interval_s;
  char *tls_ca_file; /* tls.ca_file, resolved; NULL: the system's store */
  /* s2s_ping: remote XMPP domains the logged-in probe pings (needs probe_account). */
  char **s2s_ping;
  size_t n_s2s_ping;
  size_t n_depends;
  struct xmpp_dependency *depends;
  bool tls_insecure_skip_verify;
  struct xmpp_api_settings api; /* the probes' settings, pointing into this config */
  struct xmpp_stream_settings stream;
  struct xmpp_login_settings login;
  /* The targets of the API probe, and of the stream and logged-in probes (-1 without; the
   * stream probe runs with c2s_address or s2s_address). */
  size_t api_target;
  long stream_target;
  long login_target;
};

struct xmpp_cluster_config {
  char *name;
  bool clustered; /* its ejabberd nodes form one ejabberd cluster: check they agree */
  /* delivery: [a, b]: the nodes between which probe messages go (indexes into nodes), the
   * delivery probe's target name ("a<->b") and settings, and its target (-1 without). */
  bool delivery;
  size_t delivery_nodes[2];
  char *delivery_name;
  struct xmpp_delivery_settings delivery_settings;
  long delivery_target;
  size_t n_nodes;
  struct xmpp_node_config *nodes;
};

/* One thing a poller watches. Points into the config that holds it. */
struct target {
  enum probe_kind kind;
  const struct probe_ops *ops; /* the kind's operations */
  const void *settings;        /* the kind's settings, inside this config */
  const char *cluster;
  const char *name;
  const struct mariadb_cluster_config *mariadb_cluster;
  const struct mariadb_node_config *mariadb_node;
  const struct xmpp_node_config *xmpp_node; /* PROBE_XMPP_API and PROBE_XMPP_STREAM */
  size_t group;      /* its cluster: mariadb[group], or xmpp[group - n_mariadb] */
  size_t node_index; /* its node in that cluster */
  /* The share of the poll interval by which its polls follow those of its cluster's first
   * node: i/n for node i of a MariaDB cluster of n where replmon writes heartbeats, so that
   * each node is read well after its sources wrote theirs; 0 otherwise. */
  double phase;
};

/* Whether t is its node's main target (a MariaDB node, an XMPP node's API), by which /probe,
 * /health and the state metrics name the node; the others are part of their XMPP node. */
static inline bool target_is_node(const struct target *t) {
  return t->kind == PROBE_MARIADB || t->kind == PROBE_XMPP_API;
}

struct config {
  atomic_int refs;
  char *path;
  double poll_interval_s;
  double connect_timeout_s;
  double query_timeout_s;
  double lag_warning_s;
  double lag_critical_s;
  size_t n_mariadb;
  struct mariadb_cluster_config *mariadb;
  size_t n_xmpp;
  struct xmpp_cluster_config *xmpp;
  char *warnings; /* newline-separated lines to log (a secret readable by others), or NULL */
  size_t n_targets;
  struct target *targets; /* MariaDB nodes, then XMPP APIs, then stream probes */
};

/* Loads and validates the whole file. On success *out holds one reference. On failure
 * returns a negative errno and *error (owned by the caller) is one line
 * "FILE:LINE:COL: message". */
int config_load(const char *path, struct config **out, char **error);

struct config *config_ref(struct config *config);
/* Drops a reference; frees the config (wiping the passwords) with the last one. NULL is ok. */
void config_unref(struct config *config);

/* Calls fn with each newline-separated line of config's warnings, in order: line is not
 * NUL-terminated (len bytes, without the newline), and a last newline starts no empty line.
 * Not called without warnings. The daemon's log and --config.check both print them, each in
 * its own form, from this one split. */
void config_warning_lines(const struct config *config,
                          void (*fn)(const char *line, size_t len, void *ctx), void *ctx);

/* Parses a duration such as 500ms, 1s, 2m, 1h or 1m30s into seconds. 0 or -EINVAL. */
int config_parse_duration(const char *text, double *seconds);

#endif
