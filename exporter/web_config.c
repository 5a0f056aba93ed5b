#include "web_config.h"
#include "buf.h"
#include "yaml_file.h"

#include <crypt.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WEB_CONFIG_LIMIT (1024 * 1024)
#define PEM_LIMIT (1024 * 1024)

#define WEB(f) ((struct web_config *)(f)->owner)

struct tls_ctx {
  yaml_node_t *cert_file, *key_file, *client_ca_file, *client_auth, *min_version, *max_version;
};

static int visit_tls(struct yaml_file *f, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  struct tls_ctx *t = ctx;
  const char *name = yf_scalar(key);
  yaml_node_t **slot = strcmp(name, "cert_file") == 0          ? &t->cert_file
                       : strcmp(name, "key_file") == 0         ? &t->key_file
                       : strcmp(name, "client_ca_file") == 0   ? &t->client_ca_file
                       : strcmp(name, "client_auth_type") == 0 ? &t->client_auth
                       : strcmp(name, "min_version") == 0      ? &t->min_version
                       : strcmp(name, "max_version") == 0      ? &t->max_version
                                                               : NULL;
  if (!slot) {
    if (strcmp(name, "cipher_suites") == 0 || strcmp(name, "curve_preferences") == 0 ||
        strcmp(name, "prefer_server_cipher_suites") == 0 ||
        strcmp(name, "client_allowed_sans") == 0)
      return yf_fail(f, key,
                     "tls_server_config: '%s' is not supported by replmon (GnuTLS's "
                     "defaults apply); remove it",
                     name);
    return yf_unknown_key(f, key, "tls_server_config");
  }
  if (!yf_scalar(value) || !*yf_scalar(value))
    return yf_fail(f, value, "tls_server_config.%s: expected a string", name);
  *slot = value;
  return 0;
}

static int read_pem(struct yaml_file *f, const yaml_node_t *node, const char *what, char **out) {
  size_t len;
  return yf_read_named_file(f, node, what, PEM_LIMIT, NULL, out, &len);
}

/* "TLS12" and friends, as exporter-toolkit spells them. */
static const char *tls_version(const char *name) {
  static const struct {
    const char *name, *gnutls;
  } versions[] = {{"TLS10", "VERS-TLS1.0"},
                  {"TLS11", "VERS-TLS1.1"},
                  {"TLS12", "VERS-TLS1.2"},
                  {"TLS13", "VERS-TLS1.3"}};
  for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
    if (strcmp(name, versions[i].name) == 0)
      return versions[i].gnutls;
  return NULL;
}

static int build_priorities(struct yaml_file *f, const struct tls_ctx *t, struct web_config *w) {
  static const char *const order[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
  const char *min = t->min_version ? yf_scalar(t->min_version) : "TLS12";
  const char *max = t->max_version ? yf_scalar(t->max_version) : "TLS13";
  if (!tls_version(min))
    return yf_fail(f, t->min_version, "min_version: one of TLS10, TLS11, TLS12, TLS13");
  if (!tls_version(max))
    return yf_fail(f, t->max_version, "max_version: one of TLS10, TLS11, TLS12, TLS13");
  struct buf p = BUF_INIT;
  buf_puts(&p, "NORMAL:-VERS-ALL");
  bool in = false, any = false;
  for (size_t i = 0; i < 4; i++) {
    in = in || strcmp(order[i], min) == 0;
    if (in) {
      buf_printf(&p, ":+%s", tls_version(order[i]));
      any = true;
    }
    if (strcmp(order[i], max) == 0)
      break;
  }
  if (!any) {
    buf_free(&p);
    return yf_fail(f, t->max_version, "max_version is below min_version");
  }
  w->priorities = buf_steal(&p, NULL);
  return w->priorities ? 0 : yf_fail(f, NULL, "out of memory");
}

static int parse_client_auth(struct yaml_file *f, const yaml_node_t *node, enum client_auth *out) {
  static const char *const names[] = {"NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                                      "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"};
  for (int i = 0; i < 5; i++) {
    if (strcmp(yf_scalar(node), names[i]) == 0) {
      *out = (enum client_auth)i;
      return 0;
    }
  }
  return yf_fail(f, node,
                 "client_auth_type: one of NoClientCert, RequestClientCert, "
                 "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert");
}

/* The certificate and key must load together, as the server will load them. */
static int check_key_pair(struct yaml_file *f, const struct tls_ctx *t, struct web_config *w) {
  gnutls_certificate_credentials_t creds;
  if (gnutls_certificate_allocate_credentials(&creds) < 0)
    return yf_fail(f, NULL, "out of memory");
  gnutls_datum_t cert = {(unsigned char *)w->cert_pem, (unsigned)strlen(w->cert_pem)};
  gnutls_datum_t key = {(unsigned char *)w->key_pem, (unsigned)strlen(w->key_pem)};
  int g = gnutls_certificate_set_x509_key_mem(creds, &cert, &key, GNUTLS_X509_FMT_PEM);
  int rc = 0;
  if (g < 0)
    rc = yf_fail(f, t->cert_file, "cert_file/key_file: not a matching PEM certificate and key: %s",
                 gnutls_strerror(g));
  if (!rc && w->client_ca_pem) {
    gnutls_datum_t ca = {(unsigned char *)w->client_ca_pem, (unsigned)strlen(w->client_ca_pem)};
    g = gnutls_certificate_set_x509_trust_mem(creds, &ca, GNUTLS_X509_FMT_PEM);
    if (g <= 0)
      rc = yf_fail(f, t->client_ca_file, "client_ca_file: no PEM certificate in it%s%s",
                   g < 0 ? ": " : "", g < 0 ? gnutls_strerror(g) : "");
  }
  gnutls_certificate_free_credentials(creds);
  return rc;
}

static int parse_tls(struct yaml_file *f, yaml_node_t *map) {
  struct web_config *w = WEB(f);
  struct tls_ctx t = {0};
  int rc = yf_each_pair(f, map, "tls_server_config", visit_tls, &t);
  if (rc)
    return rc;
  if (!t.cert_file || !t.key_file)
    return yf_fail(f, map, "tls_server_config: cert_file and key_file are both required");
  w->tls = true;
  if ((rc = read_pem(f, t.cert_file, "cert_file", &w->cert_pem)) ||
      (rc = read_pem(f, t.key_file, "key_file", &w->key_pem)))
    return rc;
  if (t.client_auth && (rc = parse_client_auth(f, t.client_auth, &w->client_auth)))
    return rc;
  /* libmicrohttpd asks for client certificates only when it has a CA to offer. */
  if (w->client_auth != CLIENT_AUTH_NONE && !t.client_ca_file)
    return yf_fail(f, t.client_auth, "client_auth_type %s needs client_ca_file",
                   yf_scalar(t.client_auth));
  if (t.client_ca_file && (rc = read_pem(f, t.client_ca_file, "client_ca_file", &w->client_ca_pem)))
    return rc;
  if ((rc = build_priorities(f, &t, w)))
    return rc;
  return check_key_pair(f, &t, w);
}

static int visit_user(struct yaml_file *f, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  (void)ctx;
  struct web_config *w = WEB(f);
  const char *hash = yf_scalar(value);
  if (!hash || strlen(hash) != 60 || hash[0] != '$' || hash[1] != '2' || !strchr("aby", hash[2]) ||
      hash[3] != '$')
    return yf_fail(f, value,
                   "basic_auth_users.%s: expected a bcrypt hash ($2y$..., 60 "
                   "characters; make one with htpasswd -nBC 10 \"\")",
                   yf_scalar(key));
  struct web_user *u = &w->users[w->n_users];
  u->name = strdup(yf_scalar(key));
  u->hash = strdup(hash);
  w->n_users++;
  return u->name && u->hash ? 0 : yf_fail(f, value, "out of memory");
}

/* The headers exporter-toolkit lets a file set (spelled as it spells them), and the values it
 * accepts where it restricts them: a file either accepts stays valid for the other. */
static const struct {
  const char *name;
  const char *values[3]; /* {NULL}: any value */
  const char *described;
} settable_headers[] = {
    {"Content-Security-Policy", {NULL}, NULL},
    {"Strict-Transport-Security", {NULL}, NULL},
    {"X-Content-Type-Options", {"nosniff", NULL}, "nosniff"},
    {"X-Frame-Options", {"deny", "sameorigin", NULL}, "deny or sameorigin"},
    {"X-XSS-Protection", {NULL}, NULL},
};

static int visit_header(struct yaml_file *f, const yaml_node_t *key, yaml_node_t *value,
                        void *ctx) {
  (void)ctx;
  struct web_config *w = WEB(f);
  const char *name = yf_scalar(key);
  size_t i = 0;
  while (i < sizeof(settable_headers) / sizeof(settable_headers[0]) &&
         strcmp(name, settable_headers[i].name) != 0)
    i++;
  if (i == sizeof(settable_headers) / sizeof(settable_headers[0]))
    return yf_fail(f, key,
                   "http_server_config.headers: '%s' cannot be set (exporter-toolkit's: "
                   "Content-Security-Policy, Strict-Transport-Security, X-Content-Type-Options, "
                   "X-Frame-Options, X-XSS-Protection)",
                   name);
  const char *text = yf_scalar(value);
  if (!text)
    return yf_fail(f, value, "http_server_config.headers.%s: expected a string", name);
  /* A header line ends at CR or LF: a value holding one would let the file write headers (or a
   * body) of its own into every answer. */
  for (size_t j = 0; j < value->data.scalar.length; j++) {
    unsigned char c = (unsigned char)text[j];
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return yf_fail(f, value,
                     "http_server_config.headers.%s: control character 0x%02x in the value", name,
                     c);
  }
  const char *const *values = settable_headers[i].values;
  bool allowed = !values[0];
  for (size_t j = 0; values[j] && !allowed; j++)
    allowed = strcmp(values[j], text) == 0;
  if (!allowed)
    return yf_fail(f, value, "http_server_config.headers.%s: %s, not '%s'", name,
                   settable_headers[i].described, text);
  struct web_header *h = &w->headers[w->n_headers];
  h->name = strdup(name);
  h->value = strdup(text);
  w->n_headers++;
  return h->name && h->value ? 0 : yf_fail(f, value, "out of memory");
}

static int visit_http(struct yaml_file *f, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  (void)ctx;
  struct web_config *w = WEB(f);
  const char *name = yf_scalar(key);
  if (strcmp(name, "http2") == 0) {
    const char *v = yf_scalar(value);
    if (!v || (strcmp(v, "true") != 0 && strcmp(v, "false") != 0))
      return yf_fail(f, value, "http_server_config.http2: expected true or false");
    w->http2 = strcmp(v, "true") == 0;
    return 0;
  }
  if (strcmp(name, "headers") == 0) {
    if (value->type != YAML_MAPPING_NODE)
      return yf_fail(f, value, "http_server_config.headers: expected a mapping of name: value");
    size_t n = (size_t)(value->data.mapping.pairs.top - value->data.mapping.pairs.start);
    w->headers = calloc(n ? n : 1, sizeof(*w->headers));
    if (!w->headers)
      return yf_fail(f, value, "out of memory");
    return yf_each_pair(f, value, "http_server_config.headers", visit_header, NULL);
  }
  return yf_unknown_key(f, key, "http_server_config");
}

static int visit_top(struct yaml_file *f, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  (void)ctx;
  const char *name = yf_scalar(key);
  if (strcmp(name, "tls_server_config") == 0)
    return parse_tls(f, value);
  if (strcmp(name, "basic_auth_users") == 0) {
    if (value->type != YAML_MAPPING_NODE)
      return yf_fail(f, value, "basic_auth_users: expected a mapping of user: bcrypt hash");
    size_t n = (size_t)(value->data.mapping.pairs.top - value->data.mapping.pairs.start);
    WEB(f)->users = calloc(n ? n : 1, sizeof(struct web_user));
    if (!WEB(f)->users)
      return yf_fail(f, value, "out of memory");
    return yf_each_pair(f, value, "basic_auth_users", visit_user, NULL);
  }
  if (strcmp(name, "http_server_config") == 0)
    return yf_each_pair(f, value, "http_server_config", visit_http, NULL);
  return yf_unknown_key(f, key, "web configuration");
}

int web_config_load(const char *path, struct web_config **out, char **error) {
  struct yaml_file f = {.path = path, .error = BUF_INIT};
  *out = NULL;
  f.owner = calloc(1, sizeof(struct web_config));
  int rc = f.owner ? yf_load(&f, path, WEB_CONFIG_LIMIT) : yf_fail(&f, NULL, "out of memory");
  if (rc == 0) {
    yaml_node_t *root = yaml_document_get_root_node(&f.doc);
    /* An empty file is a valid web configuration: no TLS, no authentication. */
    if (root && !(yf_scalar(root) && !*yf_scalar(root)))
      rc = yf_each_pair(&f, root, "web configuration", visit_top, NULL);
  }
  *error = yf_close(&f);
  if (rc) {
    web_config_free(WEB(&f));
    return rc < 0 ? rc : -EINVAL;
  }
  *out = WEB(&f);
  return 0;
}

static void wipe_free(char *secret) {
  if (secret) {
    explicit_bzero(secret, strlen(secret));
    free(secret);
  }
}

void web_config_free(struct web_config *w) {
  if (!w)
    return;
  free(w->cert_pem);
  wipe_free(w->key_pem);
  free(w->client_ca_pem);
  free(w->priorities);
  for (size_t i = 0; i < w->n_users; i++) {
    free(w->users[i].name);
    free(w->users[i].hash);
  }
  free(w->users);
  for (size_t i = 0; i < w->n_headers; i++) {
    free(w->headers[i].name);
    free(w->headers[i].value);
  }
  free(w->headers);
  free(w);
}

bool web_config_check_password(const struct web_config *w, const char *user, const char *password) {
  /* An unknown user is checked against a dummy hash, so that timing does not tell. */
  static const char dummy[] = "$2y$10$XXXXXXXXXXXXXXXXXXXXXOUQ1yP0T3VhV8DqV7o5wUhKX1vV8j9d6";
  const char *hash = dummy;
  bool known = false;
  for (size_t i = 0; i < w->n_users; i++) {
    if (strcmp(w->users[i].name, user) == 0) {
      hash = w->users[i].hash;
      known = true;
    }
  }
  struct crypt_data *data = calloc(1, sizeof(*data));
  if (!data)
    return false;
  const char *computed = crypt_r(password, hash, data);
  bool same = computed && strlen(computed) == strlen(hash);
  unsigned char diff = same ? 0 : 1;
  for (size_t i = 0; same && hash[i]; i++)
    diff |= (unsigned char)(computed[i] ^ hash[i]);
  explicit_bzero(data, sizeof(*data));
  free(data);
  return known && diff == 0;
}
