#include "config.h"
#include "buf.h"
#include "xmpp_session.h"
#include "yaml_file.h"

#define CONFIG(p) ((struct config *)(p)->owner)
#define CONFIG_FILE_LIMIT (4 * 1024 * 1024)

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

int config_parse_duration(const char *text, double *seconds) {
  static const struct {
    const char *unit;
    double seconds;
  } units[] = {{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}};
  double total = 0, last_scale = 1e300;
  const char *p = text;
  if (!*p)
    return -EINVAL;
  while (*p) {
    if (!isdigit((unsigned char)*p))
      return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long value = strtoull(p, &end, 10);
    if (errno || value > 1000000000ULL)
      return -EINVAL;
    size_t unit_len = 0;
    double scale = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
      size_t len = strlen(units[i].unit);
      if (strncmp(end, units[i].unit, len) == 0 && len > unit_len) {
        unit_len = len;
        scale = units[i].seconds;
      }
    }
    if (!unit_len || scale >= last_scale) /* 1m30s, not 30s1m or 1s1s */
      return -EINVAL;
    last_scale = scale;
    total += (double)value * scale;
    p = end + unit_len;
  }
  *seconds = total;
  return 0;
}

static int expect_duration(struct yaml_file *p, const yaml_node_t *node, const char *what,
                           double *out) {
  const char *text = yf_scalar(node);
  if (!text)
    return yf_fail(p, node, "%s: expected a duration such as 500ms, 1s or 2m", what);
  double seconds;
  if (config_parse_duration(text, &seconds) != 0)
    return yf_fail(p, node, "%s: bad duration '%s' (use e.g. 500ms, 1s, 2m or 1m30s)", what, text);
  if (seconds <= 0)
    return yf_fail(p, node, "%s: must be longer than 0", what);
  *out = seconds;
  return 0;
}

static int expect_bool(struct yaml_file *p, const yaml_node_t *node, const char *what, bool *out) {
  const char *v = yf_scalar(node);
  if (v && strcmp(v, "true") == 0)
    *out = true;
  else if (v && strcmp(v, "false") == 0)
    *out = false;
  else
    return yf_fail(p, node, "%s: expected true or false", what);
  return 0;
}

/* ---- global ---- */

static int visit_global(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value,
                        void *ctx) {
  (void)ctx;
  struct config *c = CONFIG(p);
  const struct {
    const char *name;
    double *field;
  } durations[] = {
      {"poll_interval", &c->poll_interval_s}, {"connect_timeout", &c->connect_timeout_s},
      {"query_timeout", &c->query_timeout_s}, {"lag_warning", &c->lag_warning_s},
      {"lag_critical", &c->lag_critical_s},
  };
  for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
    if (strcmp(yf_scalar(key), durations[i].name) == 0) {
      char what[64];
      snprintf(what, sizeof(what), "global.%s", durations[i].name);
      double *seconds = durations[i].field;
      int rc = expect_duration(p, value, what, seconds);
      /* Ranges are checked here so that the error points at the value itself. */
      if (!rc && seconds == &c->poll_interval_s && (*seconds < 0.1 || *seconds > 3600))
        rc = yf_fail(p, value, "%s must be between 100ms and 1h", what);
      bool timeout = seconds == &c->connect_timeout_s || seconds == &c->query_timeout_s;
      if (!rc && timeout && *seconds > 3600)
        rc = yf_fail(p, value, "%s must not be longer than 1h", what);
      return rc;
    }
  }
  return yf_unknown_key(p, key, "global");
}

/* ---- mariadb ---- */

/* "host:port", "host" (default_port) or "[v6]:port"; *host is allocated. */
static int parse_address(struct yaml_file *p, const yaml_node_t *node, const char *what,
                         const char *text, unsigned default_port, char **host, unsigned *port) {
  const char *colon;
  size_t host_len;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || (close[1] != '\0' && close[1] != ':'))
      return yf_fail(p, node, "%s: bad IPv6 address '%s' (use [addr]:port)", what, text);
    colon = close[1] == ':' ? close + 1 : NULL;
    host_len = (size_t)(close - text - 1);
    *host = strndup(text + 1, host_len);
  } else {
    colon = strrchr(text, ':');
    if (colon && strchr(text, ':') != colon)
      return yf_fail(p, node, "%s: write an IPv6 address as [addr]:port", what);
    host_len = colon ? (size_t)(colon - text) : strlen(text);
    *host = strndup(text, host_len);
  }
  if (!*host)
    return yf_fail(p, node, "out of memory");
  if (host_len == 0)
    return yf_fail(p, node, "%s: missing host in '%s'", what, text);
  *port = default_port;
  if (colon) {
    char *end;
    errno = 0;
    unsigned long value = strtoul(colon + 1, &end, 10);
    if (!isdigit((unsigned char)colon[1]) || *end || errno || value == 0 || value > 65535)
      return yf_fail(p, node, "%s: bad port in '%s'", what, text);
    *port = (unsigned)value;
  }
  return 0;
}

static int visit_node(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  struct mariadb_node_config *n = ctx;
  const char *name = yf_scalar(key);
  if (strcmp(name, "name") == 0)
    return yf_expect_string(p, value, "node name", &n->name);
  if (strcmp(name, "address") == 0) {
    int rc = yf_expect_string(p, value, "address", &n->address);
    return rc ? rc : parse_address(p, value, "address", n->address, 3306, &n->host, &n->port);
  }
  if (strcmp(name, "socket") == 0) {
    int rc = yf_expect_string(p, value, "socket", &n->socket);
    if (rc)
      return rc;
    char *resolved = yf_resolve_path(p->path, n->socket); /* relative to the file, as secrets */
    if (!resolved)
      return yf_fail(p, value, "out of memory");
    free(n->socket);
    n->socket = resolved;
    return 0;
  }
  return yf_unknown_key(p, key, "mariadb node");
}

static int parse_nodes(struct yaml_file *p, yaml_node_t *seq, struct mariadb_cluster_config *cl) {
  if (seq->type != YAML_SEQUENCE_NODE)
    return yf_fail(p, seq, "nodes: expected a list of nodes");
  size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  if (count == 0)
    return yf_fail(p, seq, "nodes: the list is empty");
  cl->nodes = calloc(count, sizeof(*cl->nodes));
  if (!cl->nodes)
    return yf_fail(p, seq, "out of memory");
  for (size_t i = 0; i < count; i++) {
    yaml_node_t *item = yf_node(p, seq->data.sequence.items.start[i]);
    struct mariadb_node_config *n = &cl->nodes[i];
    cl->n_nodes = i + 1;
    n->mark = item->start_mark;
    int rc = yf_each_pair(p, item, "mariadb node", visit_node, n);
    if (rc)
      return rc;
    if (!n->name)
      return yf_fail(p, item, "mariadb node: missing 'name'");
    if (!n->address == !n->socket)
      return yf_fail(p, item, "mariadb node '%s': set exactly one of 'address' and 'socket'",
                     n->name);
  }
  return 0;
}

struct cluster_ctx {
  struct mariadb_cluster_config *cl;
  yaml_node_t *password_file;
  yaml_node_t *password_env;
  yaml_node_t *links;
  yaml_node_t *heartbeat_table;
  yaml_node_t *stall_after;
};

/* Stored as written; the MariaDB probe quotes it, and refuses what it could not quote. */
static int parse_heartbeat_table(struct yaml_file *p, const yaml_node_t *node, char **out) {
  const char *text = yf_scalar(node);
  char *quoted = NULL;
  int rc = text ? mariadb_quote_table(text, &quoted) : -EINVAL;
  free(quoted);
  if (rc == -ENOMEM)
    return yf_fail(p, node, "out of memory");
  if (rc)
    return yf_fail(p, node, "heartbeat.table: expected schema.table (letters, digits, _ and $)");
  *out = strdup(text);
  return *out ? 0 : yf_fail(p, node, "out of memory");
}

static int visit_heartbeat(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value,
                           void *ctx) {
  struct cluster_ctx *c = ctx;
  if (strcmp(yf_scalar(key), "table") == 0) {
    c->heartbeat_table = value;
    return parse_heartbeat_table(p, value, &c->cl->heartbeat_table);
  }
  if (strcmp(yf_scalar(key), "write") == 0)
    return expect_bool(p, value, "heartbeat.write", &c->cl->heartbeat_write);
  return yf_unknown_key(p, key, "heartbeat");
}

#define TLS_FILE_LIMIT (1024 * 1024)

struct tls_ctx {
  struct mariadb_tls_config *tls;
  yaml_node_t *ca_file, *cert_file, *key_file;
};

static int visit_tls(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  struct tls_ctx *t = ctx;
  const char *name = yf_scalar(key);
  if (strcmp(name, "verify_server_cert") == 0)
    return expect_bool(p, value, "tls.verify_server_cert", &t->tls->verify_server_cert);
  yaml_node_t **slot = strcmp(name, "ca_file") == 0     ? &t->ca_file
                       : strcmp(name, "cert_file") == 0 ? &t->cert_file
                       : strcmp(name, "key_file") == 0  ? &t->key_file
                                                        : NULL;
  if (!slot)
    return yf_unknown_key(p, key, "tls");
  if (!yf_scalar(value) || !*yf_scalar(value))
    return yf_fail(p, value, "tls.%s: expected a path", name);
  *slot = value;
  return 0;
}

/* A file the client library reads at each connect, checked now so that a wrong path is an
 * error at start-up and on reload rather than a probe failing later. *out is its resolved
 * path. A key is wiped from memory after the check and must not need a passphrase: replmon
 * has none to give the library. */
static int check_tls_file(struct yaml_file *p, const yaml_node_t *node, const char *what, bool key,
                          char **out) {
  char *path, *data;
  size_t len;
  int rc = yf_read_named_file(p, node, what, TLS_FILE_LIMIT, &path, &data, &len);
  if (rc)
    return rc;
  if (!strstr(data, "-----BEGIN "))
    rc = yf_fail(p, node, "%s: '%s' holds no PEM block", what, path);
  else if (key && strstr(data, "ENCRYPTED"))
    rc = yf_fail(p, node, "%s: '%s' is encrypted; give replmon a key without a passphrase", what,
                 path);
  if (key) {
    explicit_bzero(data, len);
    yf_warn_if_readable(p, path, what);
  }
  free(data);
  if (rc) {
    free(path);
    return rc;
  }
  *out = path;
  return 0;
}

static int parse_tls(struct yaml_file *p, yaml_node_t *map, struct mariadb_tls_config *tls) {
  struct tls_ctx t = {.tls = tls};
  tls->enabled = true;
  tls->verify_server_cert = true;
  int rc = yf_each_pair(p, map, "tls", visit_tls, &t);
  if (rc)
    return rc;
  if (t.key_file && !t.cert_file)
    return yf_fail(p, t.key_file, "tls.key_file: needs cert_file (the client certificate)");
  if (t.cert_file && !t.key_file)
    return yf_fail(p, t.cert_file, "tls.cert_file: needs key_file (its private key)");
  if (tls->verify_server_cert && !t.ca_file)
    return yf_fail(p, map,
                   "tls: ca_file (the CA that signed the nodes' certificates) is required "
                   "unless verify_server_cert is false");
  if (t.ca_file && (rc = check_tls_file(p, t.ca_file, "tls.ca_file", false, &tls->ca_file)))
    return rc;
  if (t.cert_file &&
      ((rc = check_tls_file(p, t.cert_file, "tls.cert_file", false, &tls->cert_file)) ||
       (rc = check_tls_file(p, t.key_file, "tls.key_file", true, &tls->key_file))))
    return rc;
  return 0;
}

static size_t node_index(const struct mariadb_cluster_config *cl, const char *name, size_t len) {
  for (size_t i = 0; i < cl->n_nodes; i++)
    if (strlen(cl->nodes[i].name) == len && strncmp(cl->nodes[i].name, name, len) == 0)
      return i;
  return (size_t)-1;
}

/* links: ["db1 <- db2", ...]; checked once the nodes are known. */
static int parse_links(struct yaml_file *p, yaml_node_t *seq, struct mariadb_cluster_config *cl) {
  if (seq->type != YAML_SEQUENCE_NODE)
    return yf_fail(p, seq, "links: expected a list such as [\"db1 <- db2\"]");
  size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  cl->links = calloc(count ? count : 1, sizeof(*cl->links));
  if (!cl->links)
    return yf_fail(p, seq, "out of memory");
  for (size_t i = 0; i < count; i++) {
    yaml_node_t *item = yf_node(p, seq->data.sequence.items.start[i]);
    const char *text = yf_scalar(item);
    const char *arrow = text ? strstr(text, "<-") : NULL;
    if (!arrow)
      return yf_fail(p, item, "links: write each link as \"replica <- source\"");
    const char *a = text, *a_end = arrow, *b = arrow + 2, *b_end = text + strlen(text);
    while (a < a_end && *a == ' ')
      a++;
    while (a_end > a && a_end[-1] == ' ')
      a_end--;
    while (b < b_end && *b == ' ')
      b++;
    while (b_end > b && b_end[-1] == ' ')
      b_end--;
    size_t replica = node_index(cl, a, (size_t)(a_end - a));
    size_t source = node_index(cl, b, (size_t)(b_end - b));
    if (replica == (size_t)-1 || source == (size_t)-1)
      return yf_fail(p, item, "links: '%s' names a node this cluster does not have", text);
    if (replica == source)
      return yf_fail(p, item, "links: a node cannot replicate from itself");
    for (size_t j = 0; j < cl->n_links; j++)
      if (cl->links[j].replica == replica && cl->links[j].source == source)
        return yf_fail(p, item, "links: '%s' is listed twice", text);
    cl->links[cl->n_links++] = (struct mariadb_link){replica, source};
  }
  return 0;
}

/* Master-master by default: every node reads from every other. */
static int default_links(struct yaml_file *p, struct mariadb_cluster_config *cl) {
  cl->links = calloc(cl->n_nodes * cl->n_nodes + 1, sizeof(*cl->links));
  if (!cl->links)
    return yf_fail(p, NULL, "out of memory");
  for (size_t r = 0; r < cl->n_nodes; r++)
    for (size_t s = 0; s < cl->n_nodes; s++)
      if (r != s)
        cl->links[cl->n_links++] = (struct mariadb_link){r, s};
  return 0;
}

static int visit_cluster(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value,
                         void *ctx) {
  struct cluster_ctx *c = ctx;
  const char *name = yf_scalar(key);
  if (strcmp(name, "cluster") == 0)
    return yf_expect_string(p, value, "cluster", &c->cl->name);
  if (strcmp(name, "user") == 0)
    return yf_expect_string(p, value, "user", &c->cl->user);
  if (strcmp(name, "password_file") == 0) {
    c->password_file = value;
    return yf_scalar(value) && *yf_scalar(value)
               ? 0
               : yf_fail(p, value, "password_file: expected a path");
  }
  if (strcmp(name, "password_env") == 0) {
    c->password_env = value;
    return yf_scalar(value) && *yf_scalar(value)
               ? 0
               : yf_fail(p, value, "password_env: expected a variable name");
  }
  if (strcmp(name, "nodes") == 0)
    return parse_nodes(p, value, c->cl);
  if (strcmp(name, "heartbeat") == 0) {
    int rc = yf_each_pair(p, value, "heartbeat", visit_heartbeat, c);
    if (rc == 0 && !c->heartbeat_table)
      rc = yf_fail(p, value, "heartbeat: missing 'table' (e.g. replmon.heartbeat)");
    return rc;
  }
  if (strcmp(name, "mode") == 0) {
    const char *v = yf_scalar(value);
    if (v && strcmp(v, "multi-master") == 0)
      c->cl->mode = MODE_MULTI_MASTER;
    else if (v && strcmp(v, "active-passive") == 0)
      c->cl->mode = MODE_ACTIVE_PASSIVE;
    else
      return yf_fail(p, value, "mode: must be multi-master or active-passive");
    return 0;
  }
  if (strcmp(name, "semisync") == 0) {
    const char *v = yf_scalar(value);
    if (v && strcmp(v, "required") == 0)
      c->cl->semisync_required = true;
    else if (v && strcmp(v, "off") == 0)
      c->cl->semisync_required = false;
    else
      return yf_fail(p, value, "semisync: must be required or off");
    return 0;
  }
  if (strcmp(name, "links") == 0) {
    c->links = value; /* read once the nodes are known */
    return 0;
  }
  if (strcmp(name, "tls") == 0)
    return parse_tls(p, value, &c->cl->tls);
  if (strcmp(name, "stall_after") == 0) {
    c->stall_after = value;
    return expect_duration(p, value, "stall_after", &c->cl->stall_after_s);
  }
  return yf_unknown_key(p, key, "mariadb cluster");
}

static int parse_cluster(struct yaml_file *p, yaml_node_t *item, size_t index) {
  struct cluster_ctx c = {.cl = &CONFIG(p)->mariadb[index]};
  c.cl->heartbeat_write = true;
  c.cl->stall_after_s = NAN; /* 3 poll intervals, once global is known */
  int rc = yf_each_pair(p, item, "mariadb cluster", visit_cluster, &c);
  if (rc)
    return rc;
  if (!c.cl->name)
    return yf_fail(p, item, "mariadb cluster: missing 'cluster'");
  for (size_t i = 0; i < index; i++)
    if (strcmp(CONFIG(p)->mariadb[i].name, c.cl->name) == 0)
      return yf_fail(p, item, "mariadb cluster '%s': duplicate cluster name", c.cl->name);
  if (!c.cl->user)
    return yf_fail(p, item, "mariadb cluster '%s': missing 'user'", c.cl->name);
  if (!c.cl->nodes)
    return yf_fail(p, item, "mariadb cluster '%s': missing 'nodes'", c.cl->name);
  rc = c.links ? parse_links(p, c.links, c.cl) : default_links(p, c.cl);
  if (rc)
    return rc;
  if (c.password_file && c.password_env)
    return yf_fail(p, c.password_env, "set only one of password_file and password_env");
  if (c.password_file)
    return yf_read_secret_file(p, c.password_file, "password_file", &c.cl->password);
  if (c.password_env)
    return yf_read_secret_env(p, c.password_env, "password_env", &c.cl->password);
  // cppcheck-suppress memleak ; c.cl points into CONFIG(p), which owns the password
  return 0;
}

static int parse_mariadb(struct yaml_file *p, yaml_node_t *seq) {
  if (seq->type != YAML_SEQUENCE_NODE)
    return yf_fail(p, seq, "mariadb: expected a list of clusters");
  size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  CONFIG(p)->mariadb = calloc(count ? count : 1, sizeof(*CONFIG(p)->mariadb));
  if (!CONFIG(p)->mariadb)
    return yf_fail(p, seq, "out of memory");
  for (size_t i = 0; i < count; i++) {
    CONFIG(p)->n_mariadb = i + 1;
    int rc = parse_cluster(p, yf_node(p, seq->data.sequence.items.start[i]), i);
    if (rc)
      return rc;
  }
  return 0;
}

/* ---- xmpp ---- */

struct xmpp_node_ctx {
  struct xmpp_node_config *n;
  yaml_node_t *probe_account;
  yaml_node_t *s2s_ping;
  yaml_node_t *type;
  yaml_node_t *auth;
  yaml_node_t *direct_tls;
  yaml_node_t *s2s_address;
};

struct auth_ctx {
  struct xmpp_node_config *n;
  yaml_node_t *password_file, *password_env, *secret_file, *secret_env;
};

static int visit_auth(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  struct auth_ctx *a = ctx;
  const char *name = yf_scalar(key);
  yaml_node_t **slot = strcmp(name, "password_file") == 0  ? &a->password_file
                       : strcmp(name, "password_env") == 0 ? &a->password_env
                       : strcmp(name, "secret_file") == 0  ? &a->secret_file
                       : strcmp(name, "secret_env") == 0   ? &a->secret_env
                                                           : NULL;
  if (strcmp(name, "basic_user") == 0)
    return yf_expect_string(p, value, "auth.basic_user", &a->n->basic_user);
  if (!slot)
    return yf_unknown_key(p, key, "xmpp auth");
  if (!yf_scalar(value) || !*yf_scalar(value))
    return yf_fail(p, value, "auth.%s: expected a string", name);
  *slot = value;
  return 0;
}

static int parse_auth(struct yaml_file *p, yaml_node_t *map, struct xmpp_node_config *n) {
  struct auth_ctx a = {.n = n};
  int rc = yf_each_pair(p, map, "xmpp auth", visit_auth, &a);
  if (rc)
    return rc;
  if (a.password_file && a.password_env)
    return yf_fail(p, a.password_env, "auth: set only one of password_file and password_env");
  if (a.secret_file && a.secret_env)
    return yf_fail(p, a.secret_env, "auth: set only one of secret_file and secret_env");
  bool password = a.password_file || a.password_env;
  bool secret = a.secret_file || a.secret_env;
  if (secret && n->type != XMPP_OPENFIRE)
    return yf_fail(p, map,
                   "auth: a shared secret is for type openfire; %s uses basic_user and "
                   "password_file",
                   xmpp_type_name(n->type));
  if (secret && (password || n->basic_user))
    return yf_fail(p, map, "auth: use either the shared secret or basic_user with a password");
  if (password != (n->basic_user != NULL))
    return yf_fail(p, map,
                   "auth: basic_user and a password (password_file or password_env) go "
                   "together");
  if (a.password_file)
    return yf_read_secret_file(p, a.password_file, "auth.password_file", &n->password);
  if (a.password_env)
    return yf_read_secret_env(p, a.password_env, "auth.password_env", &n->password);
  if (a.secret_file)
    return yf_read_secret_file(p, a.secret_file, "auth.secret_file", &n->secret);
  if (a.secret_env)
    return yf_read_secret_env(p, a.secret_env, "auth.secret_env", &n->secret);
  return 0;
}

static int check_api_url(struct yaml_file *p, const yaml_node_t *node, const char *url) {
  const char *rest = strncmp(url, "http://", 7) == 0    ? url + 7
                     : strncmp(url, "https://", 8) == 0 ? url + 8
                                                        : NULL;
  if (!rest)
    return yf_fail(p, node, "api_url: must start with http:// or https://");
  size_t authority = strcspn(rest, "/?#");
  if (authority == 0)
    return yf_fail(p, node, "api_url: missing host");
  if (memchr(rest, '@', authority))
    return yf_fail(p, node, "api_url: put credentials in 'auth', not in the URL");
  return 0;
}

static int visit_xmpp_tls(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value,
                          void *ctx) {
  struct xmpp_node_config *n = ctx;
  const char *name = yf_scalar(key);
  if (strcmp(name, "ca_file") == 0)
    return check_tls_file(p, value, "tls.ca_file", false, &n->tls_ca_file);
  if (strcmp(name, "insecure_skip_verify") == 0)
    return expect_bool(p, value, "tls.insecure_skip_verify", &n->tls_insecure_skip_verify);
  return yf_unknown_key(p, key, "xmpp tls");
}

struct account_ctx {
  struct xmpp_node_config *n;
  yaml_node_t *password_file;
  yaml_node_t *password_env;
};

static int visit_account(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value,
                         void *ctx) {
  struct account_ctx *a = ctx;
  const char *name = yf_scalar(key);
  if (strcmp(name, "jid") == 0) {
    int rc = yf_expect_string(p, value, "probe_account.jid", &a->n->probe_jid);
    if (rc == 0 && !xmpp_jid_valid(a->n->probe_jid))
      rc = yf_fail(p, value, "probe_account.jid: expected user@domain, not '%s'", a->n->probe_jid);
    return rc;
  }
  if (strcmp(name, "relogin_interval") == 0)
    return expect_duration(p, value, "probe_account.relogin_interval", &a->n->relogin_interval_s);
  if (strcmp(name, "password_file") == 0 || strcmp(name, "password_env") == 0) {
    if (!yf_scalar(value) || !*yf_scalar(value))
      return yf_fail(p, value, "probe_account.%s: expected a string", name);
    *(name[9] == 'f' ? &a->password_file : &a->password_env) = value;
    return 0;
  }
  return yf_unknown_key(p, key, "probe_account");
}

/* The monitoring account of the logged-in probe. */
static int parse_probe_account(struct yaml_file *p, yaml_node_t *map, struct xmpp_node_config *n) {
  struct account_ctx a = {.n = n};
  n->relogin_interval_s = 60;
  int rc = yf_each_pair(p, map, "probe_account", visit_account, &a);
  if (rc)
    return rc;
  if (!n->c2s_address)
    return yf_fail(p, map, "probe_account: needs the node's c2s_address (where users log in)");
  if (!n->probe_jid)
    return yf_fail(p, map, "probe_account: missing 'jid' (user@domain of a monitoring account)");
  if (a.password_file && a.password_env)
    return yf_fail(p, a.password_env,
                   "probe_account: set only one of password_file and password_env");
  if (a.password_file)
    return yf_read_secret_file(p, a.password_file, "probe_account.password_file",
                               &n->probe_password);
  if (a.password_env)
    return yf_read_secret_env(p, a.password_env, "probe_account.password_env", &n->probe_password);
  return yf_fail(p, map, "probe_account: missing a password (password_file or password_env)");
}

/* s2s_ping: [two.example, ...]: remote domains, pinged over the probe account's session. */
static int parse_s2s_ping(struct yaml_file *p, yaml_node_t *seq, struct xmpp_node_config *n) {
  if (seq->type != YAML_SEQUENCE_NODE)
    return yf_fail(p, seq, "s2s_ping: expected a list of remote XMPP domains, e.g. [two.example]");
  if (!n->probe_jid)
    return yf_fail(p, seq,
                   "s2s_ping: needs the node's probe_account (the pings go over its session)");
  size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  if (count > XMPP_S2S_PING_MAX)
    return yf_fail(p, seq, "s2s_ping: at most %d remote domains, not %zu", XMPP_S2S_PING_MAX,
                   count);
  n->s2s_ping = calloc(count ? count : 1, sizeof(*n->s2s_ping));
  if (!n->s2s_ping)
    return yf_fail(p, seq, "out of memory");
  const char *own = strchr(n->probe_jid, '@') + 1; /* the account's domain (a valid JID) */
  size_t own_len = strcspn(own, "/");
  for (size_t i = 0; i < count; i++) {
    yaml_node_t *item = yf_node(p, seq->data.sequence.items.start[i]);
    const char *remote = yf_scalar(item);
    if (!remote)
      return yf_fail(p, item, "s2s_ping: expected a domain name such as two.example");
    if (!xmpp_domain_valid(remote))
      return yf_fail(p, item,
                     "s2s_ping: '%s' is not a domain name (a remote XMPP domain such as "
                     "two.example)",
                     remote);
    if ((n->domain && strcasecmp(remote, n->domain) == 0) ||
        (strlen(remote) == own_len && strncasecmp(remote, own, own_len) == 0))
      return yf_fail(p, item, "s2s_ping: '%s' is the node's own domain; list remote ones", remote);
    for (size_t j = 0; j < i; j++)
      if (strcasecmp(n->s2s_ping[j], remote) == 0)
        return yf_fail(p, item, "s2s_ping: '%s' is listed twice", remote);
    n->s2s_ping[i] = strdup(remote);
    if (!n->s2s_ping[i])
      return yf_fail(p, item, "out of memory");
    n->n_s2s_ping = i + 1;
  }
  return 0;
}

/* depends_on: [db1, ...]: names of MariaDB nodes, resolved in validate(). */
static int parse_depends_on(struct yaml_file *p, yaml_node_t *seq, struct xmpp_node_config *n) {
  if (seq->type != YAML_SEQUENCE_NODE)
    return yf_fail(p, seq, "depends_on: expected a list of MariaDB node names");
  size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  n->depends = calloc(count ? count : 1, sizeof(*n->depends));
  if (!n->depends)
    return yf_fail(p, seq, "out of memory");
  for (size_t i = 0; i < count; i++) {
    yaml_node_t *item = yf_node(p, seq->data.sequence.items.start[i]);
    n->depends[i].mark = item->start_mark;
    n->n_depends = i + 1;
    int rc = yf_expect_string(p, item, "depends_on", &n->depends[i].name);
    if (rc)
      return rc;
  }
  return 0;
}

static int visit_xmpp_node(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value,
                           void *ctx) {
  struct xmpp_node_ctx *c = ctx;
  struct xmpp_node_config *n = c->n;
  const char *name = yf_scalar(key);
  if (strcmp(name, "name") == 0)
    return yf_expect_string(p, value, "node name", &n->name);
  if (strcmp(name, "type") == 0) {
    c->type = value;
    if (!yf_scalar(value) || xmpp_type_parse(yf_scalar(value), &n->type) != 0)
      return yf_fail(p, value, "type: must be ejabberd, prosody or openfire");
    return 0;
  }
  if (strcmp(name, "api_url") == 0) {
    int rc = yf_expect_string(p, value, "api_url", &n->api_url);
    return rc ? rc : check_api_url(p, value, n->api_url);
  }
  if (strcmp(name, "auth") == 0) {
    c->auth = value; /* parsed once the type is known */
    return 0;
  }
  if (strcmp(name, "c2s_address") == 0) {
    int rc = yf_expect_string(p, value, "c2s_address", &n->c2s_address);
    return rc ? rc
              : parse_address(p, value, "c2s_address", n->c2s_address, 5222, &n->c2s_host,
                              &n->c2s_port);
  }
  if (strcmp(name, "c2s_direct_tls") == 0) {
    c->direct_tls = value; /* needs c2s_address, wherever it stands */
    return expect_bool(p, value, "c2s_direct_tls", &n->c2s_direct_tls);
  }
  if (strcmp(name, "s2s_address") == 0) {
    int rc = yf_expect_string(p, value, "s2s_address", &n->s2s_address);
    c->s2s_address = value;
    return rc ? rc
              : parse_address(p, value, "s2s_address", n->s2s_address, 5269, &n->s2s_host,
                              &n->s2s_port);
  }
  if (strcmp(name, "domain") == 0)
    return yf_expect_string(p, value, "domain", &n->domain);
  if (strcmp(name, "probe_account") == 0) {
    c->probe_account = value; /* needs c2s_address, wherever it stands */
    return 0;
  }
  if (strcmp(name, "s2s_ping") == 0) {
    c->s2s_ping = value; /* needs probe_account, wherever it stands */
    return 0;
  }
  if (strcmp(name, "tls") == 0)
    return yf_each_pair(p, value, "xmpp tls", visit_xmpp_tls, n);
  if (strcmp(name, "depends_on") == 0)
    return parse_depends_on(p, value, n);
  return yf_unknown_key(p, key, "xmpp node");
}

static int parse_xmpp_node(struct yaml_file *p, yaml_node_t *item, struct xmpp_node_config *n) {
  struct xmpp_node_ctx c = {.n = n};
  n->mark = item->start_mark;
  int rc = yf_each_pair(p, item, "xmpp node", visit_xmpp_node, &c);
  if (rc)
    return rc;
  if (!n->name)
    return yf_fail(p, item, "xmpp node: missing 'name'");
  if (!c.type)
    return yf_fail(p, item, "xmpp node '%s': missing 'type' (ejabberd, prosody or openfire)",
                   n->name);
  if (!n->api_url)
    return yf_fail(p, item, "xmpp node '%s': missing 'api_url'", n->name);
  if (n->c2s_address && !n->domain)
    return yf_fail(p, item, "xmpp node '%s': c2s_address needs 'domain' (the stream's to)",
                   n->name);
  if (n->s2s_address && !n->domain)
    return yf_fail(p, item, "xmpp node '%s': s2s_address needs 'domain' (the stream's to)",
                   n->name);
  if (n->c2s_direct_tls && !n->c2s_address)
    return yf_fail(p, c.direct_tls, "c2s_direct_tls: needs the node's c2s_address");
  if (n->s2s_address && n->c2s_address && n->s2s_port == n->c2s_port)
    return yf_fail(p, c.s2s_address,
                   "s2s_address: port %u is c2s_address's too (the port label tells them apart)",
                   n->s2s_port);
  if (n->domain && strpbrk(n->domain, "'\"<>& "))
    return yf_fail(p, item, "xmpp node '%s': domain is not a domain name", n->name);
  if (c.probe_account && (rc = parse_probe_account(p, c.probe_account, n)) != 0)
    return rc;
  if (c.s2s_ping && (rc = parse_s2s_ping(p, c.s2s_ping, n)) != 0)
    return rc;
  return c.auth ? parse_auth(p, c.auth, n) : 0;
}

struct xmpp_cluster_ctx {
  struct xmpp_cluster_config *cl;
  yaml_node_t *nodes;
  yaml_node_t *delivery;
};

static int visit_xmpp_cluster(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value,
                              void *ctx) {
  struct xmpp_cluster_ctx *c = ctx;
  if (strcmp(yf_scalar(key), "cluster") == 0)
    return yf_expect_string(p, value, "cluster", &c->cl->name);
  if (strcmp(yf_scalar(key), "nodes") == 0) {
    c->nodes = value;
    return 0;
  }
  if (strcmp(yf_scalar(key), "clustered") == 0)
    return expect_bool(p, value, "clustered", &c->cl->clustered);
  if (strcmp(yf_scalar(key), "delivery") == 0) {
    c->delivery = value; /* read once the nodes are known */
    return 0;
  }
  return yf_unknown_key(p, key, "xmpp cluster");
}

/* delivery: [a, b]: two nodes of the cluster, each with a probe_account. */
static int parse_delivery(struct yaml_file *p, yaml_node_t *seq, struct xmpp_cluster_config *cl) {
  size_t count = seq->type == YAML_SEQUENCE_NODE
                     ? (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start)
                     : 0;
  if (count != 2)
    return yf_fail(p, seq, "delivery: expected the names of two nodes, e.g. [ej1, ej2]");
  for (size_t k = 0; k < 2; k++) {
    yaml_node_t *item = yf_node(p, seq->data.sequence.items.start[k]);
    const char *name = yf_scalar(item);
    size_t i = 0;
    while (name && i < cl->n_nodes && strcmp(cl->nodes[i].name, name) != 0)
      i++;
    if (!name || i == cl->n_nodes)
      return yf_fail(p, item, "delivery: '%s' is not a node of this cluster", name ? name : "");
    if (!cl->nodes[i].probe_jid)
      return yf_fail(p, item, "delivery: node '%s' has no probe_account to send and receive with",
                     name);
    if (k == 1 && i == cl->delivery_nodes[0])
      return yf_fail(p, item, "delivery: name two different nodes");
    cl->delivery_nodes[k] = i;
  }
  struct buf name = BUF_INIT;
  buf_printf(&name, "%s<->%s", cl->nodes[cl->delivery_nodes[0]].name,
             cl->nodes[cl->delivery_nodes[1]].name);
  cl->delivery_name = buf_steal(&name, NULL);
  cl->delivery = true;
  return cl->delivery_name ? 0 : yf_fail(p, seq, "out of memory");
}

static int parse_xmpp_cluster(struct yaml_file *p, yaml_node_t *item, size_t index) {
  struct xmpp_cluster_ctx c = {.cl = &CONFIG(p)->xmpp[index]};
  int rc = yf_each_pair(p, item, "xmpp cluster", visit_xmpp_cluster, &c);
  if (rc)
    return rc;
  if (!c.cl->name)
    return yf_fail(p, item, "xmpp cluster: missing 'cluster'");
  for (size_t i = 0; i < index; i++)
    if (strcmp(CONFIG(p)->xmpp[i].name, c.cl->name) == 0)
      return yf_fail(p, item, "xmpp cluster '%s': duplicate cluster name", c.cl->name);
  if (!c.nodes)
    return yf_fail(p, item, "xmpp cluster '%s': missing 'nodes'", c.cl->name);
  if (c.nodes->type != YAML_SEQUENCE_NODE)
    return yf_fail(p, c.nodes, "nodes: expected a list of nodes");
  size_t count = (size_t)(c.nodes->data.sequence.items.top - c.nodes->data.sequence.items.start);
  if (count == 0)
    return yf_fail(p, c.nodes, "nodes: the list is empty");
  struct xmpp_cluster_config *cl = c.cl; /* owned by CONFIG(p), which frees it on error */
  cl->nodes = calloc(count, sizeof(*cl->nodes));
  if (!cl->nodes)
    return yf_fail(p, c.nodes, "out of memory");
  for (size_t i = 0; i < count; i++) {
    cl->n_nodes = i + 1;
    rc = parse_xmpp_node(p, yf_node(p, c.nodes->data.sequence.items.start[i]), &cl->nodes[i]);
    if (rc)
      return rc;
  }
  return c.delivery ? parse_delivery(p, c.delivery, cl) : 0;
}

static int parse_xmpp(struct yaml_file *p, yaml_node_t *seq) {
  if (seq->type != YAML_SEQUENCE_NODE)
    return yf_fail(p, seq, "xmpp: expected a list of clusters");
  size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  CONFIG(p)->xmpp = calloc(count ? count : 1, sizeof(*CONFIG(p)->xmpp));
  if (!CONFIG(p)->xmpp)
    return yf_fail(p, seq, "out of memory");
  for (size_t i = 0; i < count; i++) {
    CONFIG(p)->n_xmpp = i + 1;
    int rc = parse_xmpp_cluster(p, yf_node(p, seq->data.sequence.items.start[i]), i);
    if (rc)
      return rc;
  }
  return 0;
}

static int visit_top(struct yaml_file *p, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  (void)ctx;
  if (strcmp(yf_scalar(key), "global") == 0) {
    if (yf_scalar(value) && !*yf_scalar(value) &&
        value->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
      return 0; /* "global:" with nothing under it */
    return yf_each_pair(p, value, "global", visit_global, NULL);
  }
  if (strcmp(yf_scalar(key), "mariadb") == 0)
    return parse_mariadb(p, value);
  if (strcmp(yf_scalar(key), "xmpp") == 0)
    return parse_xmpp(p, value);
  return yf_unknown_key(p, key, "top level");
}

/* Node names label every series and name /health/<node>: unique across the whole file. */
static int check_unique_names(struct yaml_file *p) {
  const struct config *c = CONFIG(p);
  struct named {
    const char *name;
    yaml_mark_t mark;
  };
  size_t total = 0, n = 0;
  for (size_t i = 0; i < c->n_mariadb; i++)
    total += c->mariadb[i].n_nodes;
  for (size_t i = 0; i < c->n_xmpp; i++)
    total += c->xmpp[i].n_nodes;
  struct named *all = calloc(total ? total : 1, sizeof(*all));
  if (!all)
    return yf_fail(p, NULL, "out of memory");
  for (size_t i = 0; i < c->n_mariadb; i++)
    for (size_t j = 0; j < c->mariadb[i].n_nodes; j++)
      all[n++] = (struct named){c->mariadb[i].nodes[j].name, c->mariadb[i].nodes[j].mark};
  for (size_t i = 0; i < c->n_xmpp; i++)
    for (size_t j = 0; j < c->xmpp[i].n_nodes; j++)
      all[n++] = (struct named){c->xmpp[i].nodes[j].name, c->xmpp[i].nodes[j].mark};
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    for (size_t j = 0; j < n && !rc; j++) {
      bool later = all[j].mark.index < all[i].mark.index;
      if (later && strcmp(all[i].name, all[j].name) == 0)
        rc = yf_fail_mark(p, all[i].mark, "node '%s': duplicate node name (also at line %zu)",
                          all[i].name, all[j].mark.line + 1);
    }
  }
  free(all);
  return rc;
}

/* Finds the MariaDB node each depends_on names. */
static int resolve_dependencies(struct yaml_file *p) {
  struct config *c = CONFIG(p);
  for (size_t x = 0; x < c->n_xmpp; x++) {
    for (size_t i = 0; i < c->xmpp[x].n_nodes; i++) {
      const struct xmpp_node_config *n = &c->xmpp[x].nodes[i];
      for (size_t d = 0; d < n->n_depends; d++) {
        struct xmpp_dependency *dep = &n->depends[d];
        bool found = false;
        for (size_t m = 0; m < c->n_mariadb && !found; m++)
          for (size_t j = 0; j < c->mariadb[m].n_nodes && !found; j++)
            if (strcmp(c->mariadb[m].nodes[j].name, dep->name) == 0) {
              dep->cluster = m;
              dep->node = j;
              found = true;
            }
        if (!found)
          return yf_fail_mark(p, dep->mark,
                              "depends_on: '%s' is not a MariaDB node of this configuration",
                              dep->name);
      }
    }
  }
  return 0;
}

static int validate(struct yaml_file *p, yaml_node_t *root) {
  const struct config *c = CONFIG(p);
  if (c->lag_warning_s > c->lag_critical_s)
    return yf_fail(p, root, "global: lag_warning must not be longer than lag_critical");
  size_t targets = 0;
  for (size_t i = 0; i < c->n_mariadb; i++) {
    targets += c->mariadb[i].n_nodes;
    if (isnan(c->mariadb[i].stall_after_s))
      CONFIG(p)->mariadb[i].stall_after_s = 3 * c->poll_interval_s;
  }
  for (size_t i = 0; i < c->n_xmpp; i++)
    targets += c->xmpp[i].n_nodes;
  if (targets == 0)
    return yf_fail(p, root, "nothing to monitor: add a 'mariadb' or 'xmpp' section with nodes");
  int rc = check_unique_names(p);
  return rc ? rc : resolve_dependencies(p);
}

/* The probes' settings of a cluster's nodes, pointing into the config. 0 or -ENOMEM. */
static int mariadb_settings(struct mariadb_cluster_config *cl, const struct config *c) {
  cl->peers = calloc(cl->n_nodes ? cl->n_nodes : 1, sizeof(*cl->peers));
  if (!cl->peers)
    return -ENOMEM;
  for (size_t i = 0; i < cl->n_nodes; i++)
    cl->peers[i] = (struct mariadb_peer){cl->nodes[i].name, cl->nodes[i].host, cl->nodes[i].port};
  for (size_t i = 0; i < cl->n_nodes; i++) {
    const struct mariadb_node_config *node = &cl->nodes[i];
    struct mariadb_target where = {
        .host = node->host,
        .port = node->port,
        .socket = node->socket,
        .user = cl->user,
        .password = cl->password,
        .connect_timeout_s = c->connect_timeout_s,
        .query_timeout_s = c->query_timeout_s,
        .heartbeat_table = cl->heartbeat_table,
        .heartbeat_write = cl->heartbeat_write,
        .tls = {cl->tls.enabled, cl->tls.ca_file, cl->tls.cert_file, cl->tls.key_file,
                cl->tls.verify_server_cert},
    };
    cl->nodes[i].probe = (struct mariadb_settings){where, cl->peers, cl->n_nodes};
  }
  return 0;
}

static void xmpp_settings(struct xmpp_node_config *n, bool clustered) {
  n->stream_target = n->login_target = -1;
  n->login =
      (struct xmpp_login_settings){{n->c2s_host, n->c2s_port, n->probe_jid, n->probe_password,
                                    n->tls_ca_file, n->tls_insecure_skip_verify, n->c2s_direct_tls},
                                   n->relogin_interval_s,
                                   (const char *const *)n->s2s_ping,
                                   n->n_s2s_ping};
  n->api = (struct xmpp_api_settings){n->type,     n->api_url, n->basic_user,
                                      n->password, n->secret,  clustered};
  n->stream =
      (struct xmpp_stream_settings){n->c2s_host, n->c2s_port, n->domain,     n->c2s_direct_tls,
                                    n->s2s_host, n->s2s_port, n->tls_ca_file};
}

static struct target *add_target(struct config *c, enum probe_kind kind, const char *cluster,
                                 const char *name, const void *settings, size_t group,
                                 size_t node_index) {
  struct target *t = &c->targets[c->n_targets++];
  t->kind = kind;
  t->ops = probe_kind_ops(kind);
  t->settings = settings;
  t->cluster = cluster;
  t->name = name;
  t->group = group;
  t->node_index = node_index;
  return t;
}

/* The flat list of targets the pollers and renderers walk, in configuration order. */
static int build_targets(struct yaml_file *p) {
  struct config *c = CONFIG(p);
  size_t count = 0;
  for (size_t i = 0; i < c->n_mariadb; i++)
    count += c->mariadb[i].n_nodes;
  for (size_t i = 0; i < c->n_xmpp; i++)
    count += 3 * c->xmpp[i].n_nodes + 1; /* at most: the API, stream and logged-in probes of
                                             each node, and the cluster's delivery probe */
  c->targets = calloc(count ? count : 1, sizeof(*c->targets));
  if (!c->targets)
    return yf_fail(p, NULL, "out of memory");
  for (size_t i = 0; i < c->n_mariadb; i++) {
    struct mariadb_cluster_config *cl = &c->mariadb[i];
    if (mariadb_settings(cl, c) != 0)
      return yf_fail(p, NULL, "out of memory");
    cl->first_target = c->n_targets;
    for (size_t j = 0; j < cl->n_nodes; j++) {
      struct target *t =
          add_target(c, PROBE_MARIADB, cl->name, cl->nodes[j].name, &cl->nodes[j].probe, i, j);
      t->mariadb_cluster = cl;
      t->mariadb_node = &cl->nodes[j];
      /* A node read just as its source writes cannot tell a heartbeat on its way (a few
       * milliseconds) from one a whole interval late: its lag would read 0 or half an
       * interval by chance. Spread evenly, a node is read 1/n of an interval or more after
       * each source wrote. */
      if (cl->heartbeat_table && cl->heartbeat_write)
        t->phase = (double)j / (double)cl->n_nodes;
    }
  }
  for (size_t i = 0; i < c->n_xmpp; i++)
    for (size_t j = 0; j < c->xmpp[i].n_nodes; j++)
      xmpp_settings(&c->xmpp[i].nodes[j],
                    c->xmpp[i].clustered && c->xmpp[i].nodes[j].type == XMPP_EJABBERD);
  /* The XMPP APIs, then the stream probes, then the logged-in probes. */
  static const enum probe_kind xmpp_kinds[] = {PROBE_XMPP_API, PROBE_XMPP_STREAM, PROBE_XMPP_LOGIN};
  for (size_t k = 0; k < sizeof(xmpp_kinds) / sizeof(xmpp_kinds[0]); k++) {
    for (size_t i = 0; i < c->n_xmpp; i++) {
      for (size_t j = 0; j < c->xmpp[i].n_nodes; j++) {
        struct xmpp_node_config *n = &c->xmpp[i].nodes[j];
        const void *settings = &n->api;
        if (xmpp_kinds[k] == PROBE_XMPP_API) {
          n->api_target = c->n_targets;
        } else if (xmpp_kinds[k] == PROBE_XMPP_STREAM) {
          if (!n->c2s_address && !n->s2s_address)
            continue;
          n->stream_target = (long)c->n_targets;
          settings = &n->stream;
        } else {
          if (!n->probe_jid)
            continue;
          n->login_target = (long)c->n_targets;
          settings = &n->login;
        }
        struct target *t =
            add_target(c, xmpp_kinds[k], c->xmpp[i].name, n->name, settings, c->n_mariadb + i, j);
        t->xmpp_node = n;
      }
    }
  }
  /* Then the delivery probes, one per cluster that has one. */
  for (size_t i = 0; i < c->n_xmpp; i++) {
    struct xmpp_cluster_config *cl = &c->xmpp[i];
    cl->delivery_target = -1;
    if (!cl->delivery)
      continue;
    for (int k = 0; k < 2; k++) {
      const struct xmpp_node_config *n = &cl->nodes[cl->delivery_nodes[k]];
      cl->delivery_settings.nodes[k] = n->name;
      cl->delivery_settings.accounts[k] = n->login.account;
    }
    cl->delivery_target = (long)c->n_targets;
    add_target(c, PROBE_XMPP_DELIVERY, cl->name, cl->delivery_name, &cl->delivery_settings,
               c->n_mariadb + i, cl->n_nodes);
  }
  return 0;
}

static struct config *config_new(const char *path) {
  struct config *config = calloc(1, sizeof(*config));
  if (!config)
    return NULL;
  atomic_init(&config->refs, 1);
  config->path = strdup(path);
  config->poll_interval_s = 1;
  config->connect_timeout_s = 1;
  config->query_timeout_s = 2;
  config->lag_warning_s = 5;
  config->lag_critical_s = 30;
  if (!config->path) {
    free(config);
    return NULL;
  }
  return config;
}

int config_load(const char *path, struct config **out, char **error) {
  struct yaml_file p = {.path = path, .error = BUF_INIT};
  *out = NULL;
  *error = NULL;
  p.owner = config_new(path);
  int rc = p.owner ? yf_load(&p, path, CONFIG_FILE_LIMIT) : yf_fail(&p, NULL, "out of memory");
  if (rc == 0) {
    yaml_node_t *root = yaml_document_get_root_node(&p.doc);
    if (!root)
      rc = yf_fail(&p, NULL, "the file is empty");
    else
      rc = yf_each_pair(&p, root, "top level", visit_top, NULL);
    if (!rc)
      rc = validate(&p, root);
    if (!rc)
      rc = build_targets(&p);
  }
  if (rc == 0)
    CONFIG(&p)->warnings = yf_take_warnings(&p);
  *error = yf_close(&p);
  if (rc) {
    config_unref(CONFIG(&p));
    return rc < 0 ? rc : -EINVAL;
  }
  *out = CONFIG(&p);
  return 0;
}

struct config *config_ref(struct config *config) {
  atomic_fetch_add(&config->refs, 1);
  return config;
}

static void wipe(char *secret) {
  if (secret) {
    explicit_bzero(secret, strlen(secret));
    free(secret);
  }
}

void config_unref(struct config *config) {
  if (!config || atomic_fetch_sub(&config->refs, 1) != 1)
    return;
  for (size_t c = 0; c < config->n_mariadb; c++) {
    struct mariadb_cluster_config *cl = &config->mariadb[c];
    for (size_t i = 0; i < cl->n_nodes; i++) {
      free(cl->nodes[i].name);
      free(cl->nodes[i].address);
      free(cl->nodes[i].host);
      free(cl->nodes[i].socket);
    }
    free(cl->nodes);
    free(cl->name);
    free(cl->user);
    free(cl->heartbeat_table);
    free(cl->links);
    free(cl->peers);
    free(cl->tls.ca_file);
    free(cl->tls.cert_file);
    free(cl->tls.key_file);
    wipe(cl->password);
  }
  free(config->mariadb);
  for (size_t c = 0; c < config->n_xmpp; c++) {
    struct xmpp_cluster_config *cl = &config->xmpp[c];
    for (size_t i = 0; i < cl->n_nodes; i++) {
      struct xmpp_node_config *n = &cl->nodes[i];
      free(n->name);
      free(n->api_url);
      free(n->basic_user);
      wipe(n->password);
      wipe(n->secret);
      free(n->c2s_address);
      free(n->c2s_host);
      free(n->s2s_address);
      free(n->s2s_host);
      free(n->domain);
      free(n->probe_jid);
      wipe(n->probe_password);
      free(n->tls_ca_file);
      for (size_t r = 0; r < n->n_s2s_ping; r++)
        free(n->s2s_ping[r]);
      free(n->s2s_ping);
      for (size_t d = 0; d < n->n_depends; d++)
        free(n->depends[d].name);
      free(n->depends);
    }
    free(cl->nodes);
    free(cl->name);
    free(cl->delivery_name);
  }
  free(config->xmpp);
  free(config->targets);
  free(config->warnings);
  free(config->path);
  free(config);
}

void config_warning_lines(const struct config *config,
                          void (*fn)(const char *line, size_t len, void *ctx), void *ctx) {
  for (const char *line = config->warnings; line && *line;) {
    size_t len = strcspn(line, "\n");
    fn(line, len, ctx);
    line += len + (line[len] == '\n');
  }
}
