/* Which answer each request gets: the paths, their methods, their arguments and the headers
 * that shape an answer. http.c asks before it answers anything. */
#include "http_route.h"
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* /probe waits at most the scrape timeout Prometheus announces, less this margin for the
 * answer to travel, and PROBE_DEFAULT_TIMEOUT_S without the header. */
#define PROBE_DEFAULT_TIMEOUT_S 10.0
#define PROBE_TIMEOUT_OFFSET_S 0.5
#define SCRAPE_TIMEOUT_HEADER "X-Prometheus-Scrape-Timeout-Seconds"

static const char NOT_FOUND[] = "404 page not found\n";

bool http_accepts_gzip(const char *header) {
  if (!header)
    return false;
  int by_name = -1, by_star = -1; /* -1 unseen, 0 refused, 1 accepted */
  const char *p = header;
  while (*p) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t len = strcspn(p, ",;");
    size_t token_len = len;
    while (token_len && p[token_len - 1] == ' ')
      token_len--;
    bool match =
        (token_len == 4 && strncasecmp(p, "gzip", 4) == 0) || (token_len == 1 && p[0] == '*');
    p += len;
    bool zero_q = false;
    if (*p == ';') {
      size_t params = strcspn(p, ",");
      const char *q = strstr(p, "q=");
      if (q && q < p + params) {
        double weight = strtod(q + 2, NULL);
        zero_q = weight <= 0;
      }
      p += params;
    }
    if (match) {
      bool star = token_len == 1;
      if (star)
        by_star = !zero_q;
      else
        by_name = !zero_q;
    }
  }
  return by_name >= 0 ? by_name == 1 : by_star == 1;
}

static void text(struct http_route *out, unsigned status, const char *body) {
  out->action = HTTP_TEXT;
  out->status = status;
  out->text = body;
}

static void not_allowed(struct http_route *out, const char *allow) {
  out->action = HTTP_NOT_ALLOWED;
  out->allow = allow;
}

/* ---- percent-decoding ---- */

enum decoded { DECODED, BAD_ESCAPE, HAS_NUL, HAS_SLASH };

/* Which slashes a decoded text may hold. */
enum slashes {
  SLASHES_KEPT,    /* any */
  SLASHES_LITERAL, /* those sent as such: the path, whose segments they separate */
  SLASHES_REFUSED, /* none: a node's name */
};

static int hex_digit(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* Percent-decodes in[0, len) into out (room for len + 1 bytes, NUL-terminated; NULL to only
 * check) and sets *out_len. Refuses a '%' without two hex digits after it, and a NUL byte
 * (decoded or not), so that the result is a C string that says all the request said; and the
 * slashes that slashes refuses. */
static enum decoded percent_decode(const char *in, size_t len, enum slashes slashes, char *out,
                                   size_t *out_len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    bool encoded = c == '%';
    if (encoded) {
      int hi = len - i >= 3 ? hex_digit(in[i + 1]) : -1;
      int lo = hi >= 0 ? hex_digit(in[i + 2]) : -1;
      if (lo < 0)
        return BAD_ESCAPE;
      c = (char)(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0')
      return HAS_NUL;
    if (c == '/' && (slashes == SLASHES_REFUSED || (encoded && slashes == SLASHES_LITERAL)))
      return HAS_SLASH;
    if (out)
      out[n] = c;
    n++;
  }
  if (out)
    out[n] = '\0';
  *out_len = n;
  return DECODED;
}

/* A decoded copy of in[0, len) in *out (owned by the caller). */
static enum decoded decode_copy(const char *in, size_t len, enum slashes slashes, char **out) {
  *out = NULL;
  size_t n;
  enum decoded d = percent_decode(in, len, slashes, NULL, &n);
  if (d != DECODED)
    return d;
  *out = malloc(n + 1);
  if (*out)
    percent_decode(in, len, slashes, *out, &n);
  return DECODED;
}

/* Why a path or an argument was refused, as the 400 answer says it. */
static const char *refusal(enum decoded d, const char *bad_escape, const char *nul,
                           const char *slash) {
  return d == BAD_ESCAPE ? bad_escape : d == HAS_NUL ? nul : slash;
}

/* ---- the query ---- */

struct query {
  char *target;  /* decoded, owned */
  char *max_lag; /* decoded, owned */
};

static void query_clear(struct query *q) {
  free(q->target);
  free(q->max_lag);
}

/* Reads the arguments of /health and /probe: target and max_lag, each at most once; other
 * arguments are ignored once their names decode. 0, -ENOMEM, or 1 with a 400 in out. */
static int read_query(const struct http_request *req, struct query *q, struct http_route *out) {
  for (size_t i = 0; i < req->n_args; i++) {
    const struct http_arg *arg = &req->args[i];
    char key[8]; /* room for the names we know */
    size_t key_len;
    enum decoded d = percent_decode(arg->key, arg->key_len, SLASHES_KEPT, NULL, &key_len);
    if (d != DECODED) {
      text(out, 400,
           refusal(d, "400 bad query: a % not followed by two hex digits\n",
                   "400 bad query: a NUL byte (%00) in an argument's name\n", ""));
      return 1;
    }
    if (key_len >= sizeof(key))
      continue;
    percent_decode(arg->key, arg->key_len, SLASHES_KEPT, key, &key_len);
    bool target = strcmp(key, "target") == 0;
    char **slot = target ? &q->target : strcmp(key, "max_lag") == 0 ? &q->max_lag : NULL;
    if (!slot)
      continue;
    if (*slot) {
      text(out, 400,
           target ? "400 target given more than once\n" : "400 max_lag given more than once\n");
      return 1;
    }
    d = decode_copy(arg->value ? arg->value : "", arg->value ? arg->value_len : 0,
                    target ? SLASHES_REFUSED : SLASHES_KEPT, slot);
    if (d != DECODED) {
      text(out, 400,
           target ? refusal(d, "400 target: a % not followed by two hex digits\n",
                            "400 target: a NUL byte (%00) in the name\n",
                            "400 target: a slash in the name\n")
                  : refusal(d, "400 max_lag: a % not followed by two hex digits\n",
                            "400 max_lag: a NUL byte (%00) in the duration\n", ""));
      return 1;
    }
    if (!*slot)
      return -ENOMEM;
  }
  return 0;
}

static double probe_timeout(const struct http_request *req) {
  double timeout = PROBE_DEFAULT_TIMEOUT_S;
  const char *header = req->header(req->header_ctx, SCRAPE_TIMEOUT_HEADER);
  if (header) {
    char *end;
    double t = strtod(header, &end);
    if (end != header && !*end && t > 0 && t < 3600)
      timeout = t;
  }
  return timeout > 2 * PROBE_TIMEOUT_OFFSET_S ? timeout - PROBE_TIMEOUT_OFFSET_S : timeout / 2;
}

/* /health/<node> (node already decoded and owned) and /probe?target=<node>. */
static int route_node(const struct http_request *req, char *node, struct http_route *out) {
  struct query q = {NULL, NULL};
  int rc = read_query(req, &q, out);
  if (rc == 0 && node) {
    if (q.max_lag && config_parse_duration(q.max_lag, &out->max_lag_s) != 0) {
      text(out, 400, "400 max_lag must be a duration such as 10s or 1m30s\n");
    } else {
      out->action = HTTP_HEALTH;
      out->node = node;
      node = NULL;
    }
  } else if (rc == 0) {
    if (!q.target || !*q.target) {
      text(out, 400, "400 missing target=NODE\n");
    } else {
      out->action = HTTP_PROBE;
      out->node = q.target;
      q.target = NULL;
      out->timeout_s = probe_timeout(req);
    }
  }
  free(node);
  query_clear(&q);
  return rc < 0 ? rc : 0;
}

int http_route(const struct http_request *req, const struct http_site *site,
               struct http_route *out) {
  *out = (struct http_route){.max_lag_s = NAN};
  /* libmicrohttpd hands the path over as the client sent it (http.c keeps it from decoding):
   * decoded here, it is exactly what the client asked for, or refused. */
  char small[256]; /* every path served fits; a longer one is decoded on the heap */
  size_t len = 0;
  enum decoded d = percent_decode(req->path, req->path_len, SLASHES_LITERAL, NULL, &len);
  char *path = d != DECODED ? NULL : len < sizeof(small) ? small : malloc(len + 1);
  if (d == DECODED && !path)
    return -ENOMEM;
  if (path)
    percent_decode(req->path, req->path_len, SLASHES_LITERAL, path, &len);
  bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
  bool post = strcmp(req->method, "POST") == 0;
  /* replmon's own liveness stays open, as in every Prometheus exporter. */
  out->open = path && strcmp(path, "/-/healthy") == 0;
  bool health = path && strncmp(path, "/health/", 8) == 0 && path[8] && !strchr(path + 8, '/');
  bool probe = path && strcmp(path, "/probe") == 0;
  bool metrics = path && strcmp(path, site->telemetry_path) == 0;
  int rc = 0;
  if (!path) {
    text(out, 400,
         refusal(d, "400 bad path: a % not followed by two hex digits\n",
                 "400 bad path: a NUL byte (%00)\n", "400 bad path: an encoded slash (%2F)\n"));
  } else if (strcmp(path, "/-/reload") == 0) {
    if (!post)
      not_allowed(out, "POST");
    else if (!site->reload)
      text(out, 404, NOT_FOUND);
    else
      out->action = HTTP_RELOAD;
  } else if (!metrics && !out->open && !health && !probe && strcmp(path, "/") != 0) {
    text(out, 404, NOT_FOUND);
  } else if (!get) {
    not_allowed(out, "GET, HEAD");
  } else if (metrics) {
    out->action = HTTP_METRICS;
    out->gzip = http_accepts_gzip(req->header(req->header_ctx, "Accept-Encoding"));
  } else if (out->open) {
    text(out, 200, "Healthy\n");
  } else if (health || probe) {
    char *node = health ? strdup(path + 8) : NULL;
    rc = health && !node ? -ENOMEM : route_node(req, node, out);
  } else {
    out->action = HTTP_STATUS_PAGE;
  }
  if (path != small)
    free(path);
  return rc;
}

void http_route_clear(struct http_route *route) {
  free(route->node);
  route->node = NULL;
}
