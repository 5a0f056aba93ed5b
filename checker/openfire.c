#include "openfire.h"
#include "buf.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The plugin answers numbers; some versions quote them. */
static int count_field(json_t *root, const char *key, double *out) {
  json_t *v = json_object_get(root, key);
  if (json_is_number(v)) {
    *out = json_number_value(v);
  } else if (json_is_string(v)) {
    char *end;
    *out = strtod(json_string_value(v), &end);
    if (end == json_string_value(v) || *end)
      return -EINVAL;
  } else {
    return -EINVAL;
  }
  return *out >= 0 ? 0 : -EINVAL;
}

int openfire_parse_sessions(const struct http_answer *answer, struct xmpp_status *out,
                            struct probe_error *err) {
  if (answer->status == 401 || answer->status == 403) {
    probe_error_set(err, REASON_AUTH, "HTTP %ld: the REST API refused the secret or account",
                    answer->status);
    return -EACCES;
  }
  if (answer->status != 200) {
    probe_error_set(err, REASON_HTTP, "HTTP status %ld from /system/statistics/sessions",
                    answer->status);
    return -EIO;
  }
  json_error_t jerr;
  json_t *root = json_loadb(answer->body, answer->len, 0, &jerr);
  if (!root) {
    probe_error_set(err, REASON_PARSE,
                    "/system/statistics/sessions: not JSON (%s); is the answer XML because "
                    "Accept: application/json was ignored?",
                    jerr.text);
    return -EINVAL;
  }
  double local = NAN, cluster = NAN;
  int rc = count_field(root, "localSessions", &local);
  if (rc == 0)
    rc = count_field(root, "clusterSessions", &cluster);
  json_decref(root);
  if (rc) {
    probe_error_set(err, REASON_PARSE,
                    "/system/statistics/sessions: no localSessions/clusterSessions counts");
    return rc;
  }
  out->c2s_sessions = local;
  out->cluster_c2s_sessions = cluster;
  return 0;
}

int openfire_poll(struct http_client *client, const char *api_url, struct xmpp_status *out,
                  struct probe_error *err) {
  xmpp_status_reset(out);
  struct buf url = BUF_INIT;
  size_t base = strlen(api_url);
  while (base && api_url[base - 1] == '/')
    base--;
  buf_printf(&url, "%.*s/system/statistics/sessions", (int)base, api_url);
  if (!url.data) {
    probe_error_set(err, REASON_PARSE, "out of memory");
    return -ENOMEM;
  }
  struct http_answer answer;
  int rc = http_client_request(client, url.data, NULL, "application/json", &answer, err);
  buf_free(&url);
  if (rc)
    return rc;
  rc = openfire_parse_sessions(&answer, out, err);
  out->up = rc == 0;
  http_answer_clear(&answer);
  return rc;
}
