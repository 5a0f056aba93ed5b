#include "web_config.h"
#include "buf.h"
#include "config.h"
#include "yaml_file.h"

#include <crypt.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WEB_CONFIG_LIMIT (1024 * 1024)
#define PEM_LIMIT (1024 * 1024)

#define WEB(f) ((struct web_config *)(f)->owner)

struct tls_ctx {
  yaml_node_t *map;
  yaml_node_t *cert_file, *key_file, *client_ca_file, *cert, *key, *client_ca, *client_auth,
      *min_version, *max_version;
  yaml_node_t *cipher_suites, *curve_preferences, *allowed_sans; /* sequences */
};

/* The keys whose value is a list of strings. */
static int expect_string_list(struct yaml_file *f, yaml_node_t *value, const char *name) {
  if (value->type != YAML_SEQUENCE_NODE)
    return yf_fail(f, value, "tls_server_config.%s: expected a list of strings", name);
  for (yaml_node_item_t *i = value->data.sequence.items.start; i < value->data.sequence.items.top;
       i++) {
    const yaml_node_t *item = yf_node(f, *i);
    if (!yf_scalar(item) || !*yf_scalar(item) ||
        strlen(yf_scalar(item)) != item->data.scalar.length)
      return yf_fail(f, item, "tls_server_config.%s: expected a list of strings", name);
  }
  return 0;
}

static int visit_tls(struct yaml_file *f, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  struct tls_ctx *t = ctx;
  const char *name = yf_scalar(key);
  yaml_node_t **list = strcmp(name, "cipher_suites") == 0         ? &t->cipher_suites
                       : strcmp(name, "curve_preferences") == 0   ? &t->curve_preferences
                       : strcmp(name, "client_allowed_sans") == 0 ? &t->allowed_sans
                                                                  : NULL;
  if (list) {
    *list = value;
    return expect_string_list(f, value, name);
  }
  /* Go has ignored it since 1.17 (the server's order always wins); so does replmon. */
  if (strcmp(name, "prefer_server_cipher_suites") == 0) {
    const char *v = yf_scalar(value);
    if (!v || (strcmp(v, "true") != 0 && strcmp(v, "false") != 0))
      return yf_fail(f, value, "tls_server_config.%s: expected true or false", name);
    return 0;
  }
  yaml_node_t **slot = strcmp(name, "cert_file") == 0          ? &t->cert_file
                       : strcmp(name, "key_file") == 0         ? &t->key_file
                       : strcmp(name, "client_ca_file") == 0   ? &t->client_ca_file
                       : strcmp(name, "cert") == 0             ? &t->cert
                       : strcmp(name, "key") == 0              ? &t->key
                       : strcmp(name, "client_ca") == 0        ? &t->client_ca
                       : strcmp(name, "client_auth_type") == 0 ? &t->client_auth
                       : strcmp(name, "min_version") == 0      ? &t->min_version
                       : strcmp(name, "max_version") == 0      ? &t->max_version
                                                               : NULL;
  if (!slot)
    return yf_unknown_key(f, key, "tls_server_config");
  if (!yf_scalar(value) || !*yf_scalar(value))
    return yf_fail(f, value, "tls_server_config.%s: expected a string", name);
  *slot = value;
  return 0;
}

/* PEM material from its file (file_node) or written in the web configuration (inline_node),
 * exactly one of them. */
static int read_pem(struct yaml_file *f, const yaml_node_t *file_node,
                    const yaml_node_t *inline_node, const char *file_key, const char *inline_key,
                    char **out) {
  if (file_node && inline_node)
    return yf_fail(f, inline_node, "tls_server_config: %s and %s both given; keep one", file_key,
                   inline_key);
  if (inline_node) {
    if (strlen(yf_scalar(inline_node)) != inline_node->data.scalar.length)
      return yf_fail(f, inline_node, "tls_server_config.%s: NUL byte in the PEM text", inline_key);
    *out = strdup(yf_scalar(inline_node));
    return *out ? 0 : yf_fail(f, NULL, "out of memory");
  }
  size_t len;
  return yf_read_named_file(f, file_node, file_key, PEM_LIMIT, NULL, out, &len);
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

/* The certificate key a TLS 1.2 suite needs. */
enum suite_key { SUITE_KEY_RSA, SUITE_KEY_ECDSA, SUITE_KEY_TLS13 };

/* Go's tls.CipherSuites() (what exporter-toolkit accepts), plus the RSA key exchange suites
 * older Go versions listed there, each as the GnuTLS key exchange, cipher and MAC that make it.
 * The TLS 1.3 suites are accepted and, as in Go, change nothing. */
static const struct cipher_suite {
  const char *name;
  enum suite_key key;
  const char *kx, *cipher, *mac;
} cipher_suites[] = {
    {"TLS_RSA_WITH_AES_128_CBC_SHA", SUITE_KEY_RSA, "RSA", "AES-128-CBC", "SHA1"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", SUITE_KEY_RSA, "RSA", "AES-256-CBC", "SHA1"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", SUITE_KEY_RSA, "RSA", "AES-128-GCM", "AEAD"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", SUITE_KEY_RSA, "RSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", SUITE_KEY_ECDSA, "ECDHE-ECDSA", "AES-128-CBC", "SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", SUITE_KEY_ECDSA, "ECDHE-ECDSA", "AES-256-CBC", "SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", SUITE_KEY_RSA, "ECDHE-RSA", "AES-128-CBC", "SHA1"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", SUITE_KEY_RSA, "ECDHE-RSA", "AES-256-CBC", "SHA1"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", SUITE_KEY_ECDSA, "ECDHE-ECDSA", "AES-128-GCM",
     "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", SUITE_KEY_ECDSA, "ECDHE-ECDSA", "AES-256-GCM",
     "AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", SUITE_KEY_RSA, "ECDHE-RSA", "AES-128-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", SUITE_KEY_RSA, "ECDHE-RSA", "AES-256-GCM", "AEAD"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", SUITE_KEY_RSA, "ECDHE-RSA", "CHACHA20-POLY1305",
     "AEAD"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", SUITE_KEY_ECDSA, "ECDHE-ECDSA",
     "CHACHA20-POLY1305", "AEAD"},
    {"TLS_AES_128_GCM_SHA256", SUITE_KEY_TLS13, NULL, NULL, NULL},
    {"TLS_AES_256_GCM_SHA384", SUITE_KEY_TLS13, NULL, NULL, NULL},
    {"TLS_CHACHA20_POLY1305_SHA256", SUITE_KEY_TLS13, NULL, NULL, NULL},
};

/* Go's curve names (tls.CurveID) and GnuTLS's groups. */
static const struct {
  const char *name, *group;
} curves[] = {{"CurveP256", "GROUP-SECP256R1"},
              {"CurveP384", "GROUP-SECP384R1"},
              {"CurveP521", "GROUP-SECP521R1"},
              {"X25519", "GROUP-X25519"}};

/* A priority string being built, with the YAML node each token came from, so that the token
 * gnutls_priority_init refuses is reported at the name that made it. */
/* What a "+NAME" token of the priority string enables. */
enum token_kind { TOKEN_OTHER, TOKEN_VERSION, TOKEN_KX, TOKEN_CIPHER, TOKEN_MAC, TOKEN_GROUP };

struct priority_token {
  size_t start, end; /* where the token is in the text */
  const yaml_node_t *node;
  enum token_kind kind;
};

struct priority_text {
  struct buf text;
  struct priority_token tokens[64];
  size_t n;
};

static void priority_add(struct priority_text *p, const char *token, const yaml_node_t *node,
                         enum token_kind kind) {
  if (p->text.len)
    buf_putc(&p->text, ':');
  size_t start = p->text.len;
  buf_puts(&p->text, token);
  if (p->n < sizeof(p->tokens) / sizeof(p->tokens[0]))
    p->tokens[p->n++] = (struct priority_token){start, p->text.len, node, kind};
}

/* Adds token unless the string already holds it (a cipher or MAC shared by several suites). */
static void priority_add_once(struct priority_text *p, const char *token, const yaml_node_t *node,
                              enum token_kind kind) {
  for (size_t i = 0; i < p->n; i++)
    if (p->tokens[i].end - p->tokens[i].start == strlen(token) &&
        strncmp(p->text.data + p->tokens[i].start, token, strlen(token)) == 0)
      return;
  priority_add(p, token, node, kind);
}

static const char *const key_names[] = {"RSA", "ECDSA or Ed25519"};

/* The certificate's key decides which TLS 1.2 suites can be served at all. GnuTLS enables
 * every combination of the key exchanges, ciphers and MACs it is given: keeping only the key
 * exchanges the key can serve keeps out suites it could never serve, but a list that mixes
 * key exchanges or MACs still enables their cross combinations (the README says so). */
static int certificate_key(struct yaml_file *f, const struct tls_ctx *t, const char *pem,
                           enum suite_key *key) {
  gnutls_x509_crt_t crt;
  if (gnutls_x509_crt_init(&crt) < 0)
    return yf_fail(f, NULL, "out of memory");
  gnutls_datum_t data = {(unsigned char *)pem, (unsigned)strlen(pem)};
  int g = gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM);
  int pk = g < 0 ? g : gnutls_x509_crt_get_pk_algorithm(crt, NULL);
  gnutls_x509_crt_deinit(crt);
  if (g < 0)
    return yf_fail(f, t->cert_file ? t->cert_file : t->cert,
                   "tls_server_config: not a PEM certificate: %s", gnutls_strerror(g));
  *key = pk == GNUTLS_PK_RSA || pk == GNUTLS_PK_RSA_PSS ? SUITE_KEY_RSA : SUITE_KEY_ECDSA;
  return 0;
}

/* cipher_suites as GnuTLS key exchanges, ciphers and MACs (TLS 1.2 and below). */
static int add_cipher_suites(struct yaml_file *f, const struct tls_ctx *t, enum suite_key key,
                             bool tls13, struct priority_text *p) {
  const yaml_node_t *seq = t->cipher_suites;
  bool any = false, any_tls13_cipher = false;
  priority_add(p, "-KX-ALL", seq, TOKEN_OTHER);
  for (int pass = 0; pass < 3; pass++) {
    if (pass == 1)
      priority_add(p, "-CIPHER-ALL", seq, TOKEN_OTHER);
    if (pass == 2)
      priority_add(p, "-MAC-ALL", seq, TOKEN_OTHER);
    for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
         i++) {
      const yaml_node_t *item = yf_node(f, *i);
      const char *name = yf_scalar(item);
      size_t s = 0;
      while (s < sizeof(cipher_suites) / sizeof(cipher_suites[0]) &&
             strcmp(cipher_suites[s].name, name) != 0)
        s++;
      if (s == sizeof(cipher_suites) / sizeof(cipher_suites[0]))
        return yf_fail(f, item,
                       "cipher_suites: unknown cipher suite '%s' (Go's names from "
                       "tls.CipherSuites(), e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)",
                       name);
      const struct cipher_suite *c = &cipher_suites[s];
      if (c->key != key)
        continue;
      char token[64];
      snprintf(token, sizeof(token), "+%s", pass == 0 ? c->kx : pass == 1 ? c->cipher : c->mac);
      priority_add_once(p, token, item,
                        pass == 0   ? TOKEN_KX
                        : pass == 1 ? TOKEN_CIPHER
                                    : TOKEN_MAC);
      any = true;
      any_tls13_cipher = any_tls13_cipher || strcmp(c->mac, "AEAD") == 0;
    }
  }
  if (!any)
    return yf_fail(f, seq,
                   "cipher_suites: none of them can be served with the certificate's %s key "
                   "(GnuTLS cannot honour the list; name a suite for that key)",
                   key_names[key]);
  /* GnuTLS has one list of ciphers for every version: TLS 1.3 gets the listed AEAD ones. */
  if (tls13 && !any_tls13_cipher)
    return yf_fail(f, seq,
                   "cipher_suites: GnuTLS applies these ciphers to TLS 1.3 too, and none of them "
                   "is a TLS 1.3 cipher; add an AES-GCM or CHACHA20 suite, or set max_version: "
                   "TLS12");
  return 0;
}

static int add_curves(struct yaml_file *f, const struct tls_ctx *t, struct priority_text *p) {
  const yaml_node_t *seq = t->curve_preferences;
  priority_add(p, "-GROUP-ALL", seq, TOKEN_OTHER);
  for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
       i++) {
    const yaml_node_t *item = yf_node(f, *i);
    size_t c = 0;
    while (c < sizeof(curves) / sizeof(curves[0]) && strcmp(curves[c].name, yf_scalar(item)) != 0)
      c++;
    if (c == sizeof(curves) / sizeof(curves[0]))
      return yf_fail(f, item,
                     "curve_preferences: unknown curve '%s' (one of CurveP256, CurveP384, "
                     "CurveP521, X25519)",
                     yf_scalar(item));
    char token[32];
    snprintf(token, sizeof(token), "+%s", curves[c].group);
    priority_add_once(p, token, item, TOKEN_GROUP);
  }
  return 0;
}

/* Whether prio enables what token (kind, "+NAME") asks for. GnuTLS drops a name its
 * configuration disables (a system policy, FIPS mode) without an error. */
static bool token_honoured(gnutls_priority_t prio, enum token_kind kind, const char *token) {
  const unsigned *list = NULL;
  int n = 0;
  unsigned id = 0;
  switch (kind) {
  case TOKEN_VERSION:
    id = (unsigned)gnutls_protocol_get_id(token + strlen("+VERS-"));
    n = gnutls_priority_protocol_list(prio, &list);
    break;
  case TOKEN_KX:
    id = (unsigned)gnutls_kx_get_id(token + 1);
    n = gnutls_priority_kx_list(prio, &list);
    break;
  case TOKEN_CIPHER:
    id = (unsigned)gnutls_cipher_get_id(token + 1);
    n = gnutls_priority_cipher_list(prio, &list);
    break;
  case TOKEN_MAC:
    id = (unsigned)gnutls_mac_get_id(token + 1);
    n = gnutls_priority_mac_list(prio, &list);
    break;
  case TOKEN_GROUP:
    id = (unsigned)gnutls_group_get_id(token + strlen("+GROUP-"));
    n = gnutls_priority_group_list(prio, &list);
    break;
  case TOKEN_OTHER:
    return true;
  }
  for (int i = 0; id && i < n; i++)
    if (list[i] == id)
      return true;
  return false;
}

/* Whether the token alone, in a string of its own, is accepted and honoured. */
static bool token_alone_honoured(const struct priority_token *token, const char *text) {
  static const char *const reset[] = {"",         "-VERS-ALL", "-KX-ALL", "-CIPHER-ALL",
                                      "-MAC-ALL", "-GROUP-ALL"};
  char alone[128], name[64];
  snprintf(name, sizeof(name), "%.*s", (int)(token->end - token->start), text + token->start);
  snprintf(alone, sizeof(alone), "NORMAL:%s:%s", reset[token->kind], name);
  gnutls_priority_t prio;
  if (gnutls_priority_init(&prio, alone, NULL) < 0)
    return false;
  bool honoured = token_honoured(prio, token->kind, name);
  gnutls_priority_deinit(prio);
  return honoured;
}

/* gnutls_priority_init must accept the string, and every name asked for must be in the
 * result: a refusal or a name dropped is reported at the YAML name that made the token. */
static int check_priorities(struct yaml_file *f, const struct tls_ctx *t, struct priority_text *p) {
  gnutls_priority_t prio;
  int g = gnutls_priority_init(&prio, p->text.data, NULL);
  const struct priority_token *refused = NULL;
  for (size_t i = 0; i < p->n && !refused; i++) {
    const struct priority_token *token = &p->tokens[i];
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)(token->end - token->start),
             p->text.data + token->start);
    if (token->kind != TOKEN_OTHER && (g == 0 ? !token_honoured(prio, token->kind, name)
                                              : !token_alone_honoured(token, p->text.data)))
      refused = token;
  }
  if (g == 0)
    gnutls_priority_deinit(prio);
  if (!refused && g == 0)
    return 0;
  if (!refused)
    return yf_fail(f, t->map, "tls_server_config: GnuTLS refuses the priorities '%s': %s",
                   p->text.data, gnutls_strerror(g));
  const yaml_node_t *node = refused->node ? refused->node : t->map;
  const char *name =
      refused->node && yf_scalar(refused->node) ? yf_scalar(refused->node) : "the default versions";
  return yf_fail(f, node,
                 "tls_server_config: GnuTLS cannot honour '%s' here: %.*s is disabled by this "
                 "system's GnuTLS configuration or unknown to it",
                 name, (int)(refused->end - refused->start - 1), p->text.data + refused->start + 1);
}

static int build_priorities(struct yaml_file *f, const struct tls_ctx *t, struct web_config *w) {
  static const char *const order[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
  const char *min = t->min_version ? yf_scalar(t->min_version) : "TLS12";
  const char *max = t->max_version ? yf_scalar(t->max_version) : "TLS13";
  if (!tls_version(min))
    return yf_fail(f, t->min_version, "min_version: one of TLS10, TLS11, TLS12, TLS13");
  if (!tls_version(max))
    return yf_fail(f, t->max_version, "max_version: one of TLS10, TLS11, TLS12, TLS13");
  struct priority_text p = {.text = BUF_INIT};
  priority_add(&p, "NORMAL", NULL, TOKEN_OTHER);
  priority_add(&p, "-VERS-ALL", NULL, TOKEN_OTHER);
  bool in = false, any = false, below_tls13 = false, tls13 = false;
  for (size_t i = 0; i < 4; i++) {
    in = in || strcmp(order[i], min) == 0;
    if (in) {
      char token[32];
      snprintf(token, sizeof(token), "+%s", tls_version(order[i]));
      /* A version the file names must be there; the others (the defaults, those between
       * min and max) GnuTLS may leave out as its configuration says. */
      const yaml_node_t *named = t->min_version && strcmp(order[i], min) == 0   ? t->min_version
                                 : t->max_version && strcmp(order[i], max) == 0 ? t->max_version
                                                                                : NULL;
      priority_add(&p, token, named, named ? TOKEN_VERSION : TOKEN_OTHER);
      any = true;
      below_tls13 = below_tls13 || i < 3;
      tls13 = tls13 || i == 3;
    }
    if (strcmp(order[i], max) == 0)
      break;
  }
  int rc = 0;
  enum suite_key key = SUITE_KEY_RSA;
  if (!any)
    rc = yf_fail(f, t->max_version, "max_version is below min_version");
  /* As in Go, cipher_suites rule TLS 1.2 and below only: with TLS 1.3 alone they change
   * nothing. An empty list keeps the defaults. */
  else if (t->cipher_suites && below_tls13 &&
           t->cipher_suites->data.sequence.items.top > t->cipher_suites->data.sequence.items.start)
    if ((rc = certificate_key(f, t, w->cert_pem, &key)) == 0)
      rc = add_cipher_suites(f, t, key, tls13, &p);
  if (!rc && t->curve_preferences &&
      t->curve_preferences->data.sequence.items.top >
          t->curve_preferences->data.sequence.items.start)
    rc = add_curves(f, t, &p);
  if (!rc && p.text.failed)
    rc = yf_fail(f, NULL, "out of memory");
  if (!rc)
    rc = check_priorities(f, t, &p);
  if (!rc)
    w->priorities = buf_steal(&p.text, NULL);
  buf_free(&p.text);
  return rc;
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
  /* exporter-toolkit still takes the older name. */
  if (strcmp(yf_scalar(node), "RequireClientCert") == 0) {
    *out = CLIENT_AUTH_REQUIRE_ANY;
    return 0;
  }
  return yf_fail(f, node,
                 "client_auth_type: one of NoClientCert, RequestClientCert, "
                 "RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert");
}

/* Parses every certificate in pem: 0 or a GnuTLS error. GnuTLS 3.7's credential loaders leak
 * a certificate that does not parse (an invalid DER time, for one), so a bad one is refused
 * here before they see it. */
static int parse_certificates(const char *pem) {
  gnutls_datum_t data = {(unsigned char *)pem, (unsigned)strlen(pem)};
  gnutls_x509_crt_t *list = NULL;
  unsigned n = 0;
  int g = gnutls_x509_crt_list_import2(&list, &n, &data, GNUTLS_X509_FMT_PEM, 0);
  if (g < 0)
    return g;
  for (unsigned i = 0; i < n; i++)
    gnutls_x509_crt_deinit(list[i]);
  gnutls_free(list);
  return 0;
}

/* The certificate and key must load together, as the server will load them. */
static int check_key_pair(struct yaml_file *f, const struct tls_ctx *t, struct web_config *w) {
  int g = parse_certificates(w->cert_pem);
  if (g < 0)
    return yf_fail(f, t->cert_file ? t->cert_file : t->cert, "%s: not a PEM certificate: %s",
                   t->cert_file ? "cert_file" : "cert", gnutls_strerror(g));
  if (w->client_ca_pem && (g = parse_certificates(w->client_ca_pem)) < 0)
    return yf_fail(f, t->client_ca_file ? t->client_ca_file : t->client_ca,
                   "%s: not a PEM certificate: %s",
                   t->client_ca_file ? "client_ca_file" : "client_ca", gnutls_strerror(g));
  gnutls_certificate_credentials_t creds;
  if (gnutls_certificate_allocate_credentials(&creds) < 0)
    return yf_fail(f, NULL, "out of memory");
  gnutls_datum_t cert = {(unsigned char *)w->cert_pem, (unsigned)strlen(w->cert_pem)};
  gnutls_datum_t key = {(unsigned char *)w->key_pem, (unsigned)strlen(w->key_pem)};
  g = gnutls_certificate_set_x509_key_mem(creds, &cert, &key, GNUTLS_X509_FMT_PEM);
  int rc = 0;
  if (g < 0)
    rc = yf_fail(f, t->cert_file ? t->cert_file : t->cert,
                 "%s/%s: not a matching PEM certificate and key: %s",
                 t->cert_file ? "cert_file" : "cert", t->key_file ? "key_file" : "key",
                 gnutls_strerror(g));
  if (!rc && w->client_ca_pem) {
    gnutls_datum_t ca = {(unsigned char *)w->client_ca_pem, (unsigned)strlen(w->client_ca_pem)};
    g = gnutls_certificate_set_x509_trust_mem(creds, &ca, GNUTLS_X509_FMT_PEM);
    if (g <= 0)
      rc = yf_fail(f, t->client_ca_file ? t->client_ca_file : t->client_ca,
                   "%s: no PEM certificate in it%s%s",
                   t->client_ca_file ? "client_ca_file" : "client_ca", g < 0 ? ": " : "",
                   g < 0 ? gnutls_strerror(g) : "");
  }
  gnutls_certificate_free_credentials(creds);
  return rc;
}

static int copy_allowed_sans(struct yaml_file *f, const yaml_node_t *seq, struct web_config *w) {
  size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  w->allowed_sans = calloc(n ? n : 1, sizeof(*w->allowed_sans));
  if (!w->allowed_sans)
    return yf_fail(f, NULL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    w->allowed_sans[i] = strdup(yf_scalar(yf_node(f, seq->data.sequence.items.start[i])));
    if (!w->allowed_sans[i])
      return yf_fail(f, NULL, "out of memory");
    w->n_allowed_sans++;
  }
  return 0;
}

static int parse_tls(struct yaml_file *f, yaml_node_t *map) {
  struct web_config *w = WEB(f);
  struct tls_ctx t = {.map = map};
  int rc = yf_each_pair(f, map, "tls_server_config", visit_tls, &t);
  if (rc)
    return rc;
  if ((!t.cert_file && !t.cert) || (!t.key_file && !t.key))
    return yf_fail(f, map,
                   "tls_server_config: a certificate (cert_file or cert) and a key (key_file or "
                   "key) are both required");
  w->tls = true;
  if ((rc = read_pem(f, t.cert_file, t.cert, "cert_file", "cert", &w->cert_pem)) ||
      (rc = read_pem(f, t.key_file, t.key, "key_file", "key", &w->key_pem)))
    return rc;
  if (t.client_auth && (rc = parse_client_auth(f, t.client_auth, &w->client_auth)))
    return rc;
  /* libmicrohttpd asks for client certificates only when it has a CA to offer. Without one,
   * RequestClientCert and VerifyClientCertIfGiven serve every client without a certificate,
   * as Go does (where a certificate sent anyway could not be verified). */
  bool requires_certificate =
      w->client_auth == CLIENT_AUTH_REQUIRE_ANY || w->client_auth == CLIENT_AUTH_REQUIRE_AND_VERIFY;
  if (requires_certificate && !t.client_ca_file && !t.client_ca)
    return yf_fail(f, t.client_auth,
                   "client_auth_type %s needs client_ca_file or client_ca (the CA whose names "
                   "replmon sends when it asks for a certificate)",
                   yf_scalar(t.client_auth));
  if ((t.client_ca_file || t.client_ca) &&
      (rc = read_pem(f, t.client_ca_file, t.client_ca, "client_ca_file", "client_ca",
                     &w->client_ca_pem)))
    return rc;
  if (t.allowed_sans &&
      t.allowed_sans->data.sequence.items.top > t.allowed_sans->data.sequence.items.start) {
    /* Names on a certificate nobody verified prove nothing: anyone can make one. */
    bool verified = w->client_auth == CLIENT_AUTH_REQUIRE_AND_VERIFY ||
                    w->client_auth == CLIENT_AUTH_VERIFY_IF_GIVEN;
    if (!verified || !w->client_ca_pem)
      return yf_fail(f, t.allowed_sans,
                     "client_allowed_sans: only checked on verified client certificates; set "
                     "client_auth_type (RequireAndVerifyClientCert) and client_ca_file");
    if ((rc = copy_allowed_sans(f, t.allowed_sans, w)))
      return rc;
  }
  if ((rc = check_key_pair(f, &t, w)))
    return rc;
  return build_priorities(f, &t, w);
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

struct rate_ctx {
  bool interval_seen, burst_seen;
};

/* exporter-toolkit's rate_limit: a Go duration ("1s") or 0 for the interval, and a burst. */
static int visit_rate(struct yaml_file *f, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  struct rate_ctx *r = ctx;
  struct web_config *w = WEB(f);
  const char *name = yf_scalar(key);
  const char *text = yf_scalar(value);
  if (strcmp(name, "interval") == 0) {
    double seconds = 0;
    if (!text || (strcmp(text, "0") != 0 && config_parse_duration(text, &seconds) != 0))
      return yf_fail(f, value,
                     "rate_limit.interval: a duration such as 1s or 100ms, or 0 (no "
                     "limit)");
    w->rate_limit_interval_s = seconds;
    r->interval_seen = true;
    return 0;
  }
  if (strcmp(name, "burst") == 0) {
    char *end;
    errno = 0;
    unsigned long burst = text && *text >= '0' && *text <= '9' ? strtoul(text, &end, 10) : 0;
    if (!text || *text < '0' || *text > '9' || *end || errno || burst > 1000000)
      return yf_fail(f, value, "rate_limit.burst: a number of requests from 0 to 1000000");
    w->rate_limit_burst = (unsigned)burst;
    r->burst_seen = true;
    return 0;
  }
  return yf_unknown_key(f, key, "rate_limit");
}

static int parse_rate_limit(struct yaml_file *f, yaml_node_t *map) {
  struct rate_ctx r = {false, false};
  int rc = yf_each_pair(f, map, "rate_limit", visit_rate, &r);
  /* As in Go's rate.Limiter, a burst of 0 would refuse every request: say so instead. */
  if (!rc && WEB(f)->rate_limit_interval_s > 0 && WEB(f)->rate_limit_burst == 0)
    return yf_fail(f, map,
                   "rate_limit: with burst 0 every request would be refused; set burst to 1 or "
                   "more, or interval to 0");
  return rc;
}

static int visit_top(struct yaml_file *f, const yaml_node_t *key, yaml_node_t *value, void *ctx) {
  (void)ctx;
  const char *name = yf_scalar(key);
  if (strcmp(name, "tls_server_config") == 0)
    return parse_tls(f, value);
  if (strcmp(name, "basic_auth_users") == 0) {
    /* "basic_auth_users:" with nothing after it: no users, as in Go. */
    if (yf_scalar(value) && (!*yf_scalar(value) || strcmp(yf_scalar(value), "~") == 0 ||
                             strcmp(yf_scalar(value), "null") == 0))
      return 0;
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
  if (strcmp(name, "rate_limit") == 0)
    return parse_rate_limit(f, value);
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
  for (size_t i = 0; i < w->n_allowed_sans; i++)
    free(w->allowed_sans[i]);
  free(w->allowed_sans);
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

bool web_config_san_allowed(const struct web_config *w, const char *const *sans, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < w->n_allowed_sans; j++)
      if (strcmp(sans[i], w->allowed_sans[j]) == 0)
        return true;
  return false;
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
