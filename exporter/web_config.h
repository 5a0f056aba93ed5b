/* The web configuration file of every Prometheus exporter (exporter-toolkit's
 * --web.config.file): TLS for the HTTP server, HTTP Basic users with bcrypt hashes, and the
 * headers added to every answer. */
#ifndef REPLMON_WEB_CONFIG_H
#define REPLMON_WEB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum client_auth {
  CLIENT_AUTH_NONE,               /* NoClientCert */
  CLIENT_AUTH_REQUEST,            /* RequestClientCert */
  CLIENT_AUTH_REQUIRE_ANY,        /* RequireAnyClientCert */
  CLIENT_AUTH_VERIFY_IF_GIVEN,    /* VerifyClientCertIfGiven */
  CLIENT_AUTH_REQUIRE_AND_VERIFY, /* RequireAndVerifyClientCert */
};

struct web_user {
  char *name;
  char *hash; /* bcrypt ($2a$, $2b$, $2y$) */
};

/* A header of http_server_config.headers, one of the five exporter-toolkit lets a file set. */
struct web_header {
  char *name;
  char *value; /* "" removes the header, replmon's default included */
};

struct web_config {
  bool tls;
  char *cert_pem; /* the certificate chain and the key, as read; the key is a secret */
  char *key_pem;
  char *client_ca_pem; /* NULL without client_ca_file or client_ca */
  enum client_auth client_auth;
  /* GnuTLS priority string from min_version/max_version, cipher_suites and
   * curve_preferences, accepted by gnutls_priority_init when the file was loaded. */
  char *priorities;
  /* client_allowed_sans: a client certificate must carry one of these (DNS, e-mail, IP or
   * URI) subject alternative names; n_allowed_sans 0 checks none. */
  size_t n_allowed_sans;
  char **allowed_sans;
  /* rate_limit: a token bucket of rate_limit_burst requests, one more every
   * rate_limit_interval_s seconds; 0 s: no limit. Read at start only, as TLS is. */
  double rate_limit_interval_s;
  unsigned rate_limit_burst;
  size_t n_users;
  struct web_user *users;
  size_t n_headers;
  struct web_header *headers;
  /* http_server_config.http2 (exporter-toolkit's default: true). Accepted so that the same
   * file serves every exporter; libmicrohttpd serves HTTP/1.1 only. */
  bool http2;
};

/* Loads and checks the whole file (certificates are parsed with GnuTLS, hashes must be
 * bcrypt). On failure *error (owned by the caller) is one line FILE:LINE:COL: message. */
int web_config_load(const char *path, struct web_config **out, char **error);
void web_config_free(struct web_config *config);

/* Whether one of a client certificate's subject alternative names, each as text (an IP address
 * as inet_ntop writes it), is in client_allowed_sans. */
bool web_config_san_allowed(const struct web_config *config, const char *const *sans, size_t n);

/* Whether user/password match a configured user. Takes the same time whether or not the user
 * exists, and compares the hashes in constant time. */
bool web_config_check_password(const struct web_config *config, const char *user,
                               const char *password);

#endif
