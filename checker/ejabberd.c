#include "ejabberd.h"
#include "buf.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The error object of mod_http_api: {"status":"error","code":32,"message":"..."}. */
static int api_error(const char *command, const struct http_answer *answer,
                     struct probe_error *err) {
  json_t *root = json_loadb(answer->body, answer->len, 0, NULL);
  json_int_t code = 0;
  const char *message = NULL;
  if (json_is_object(root)) {
    json_t *c = json_object_get(root, "code");
    json_t *m = json_object_get(root, "message");
    code = json_is_integer(c) ? json_integer_value(c) : 0;
    message = json_is_string(m) ? json_string_value(m) : NULL;
  }
  int rc;
  if (answer->status == 401) {
    probe_error_set(err, REASON_AUTH, "%s: credentials refused (HTTP 401%s%s)", command,
                    message ? ": " : "", message ? message : "");
    rc = -EACCES;
  } else if (answer->status == 403 && code == 32) {
    probe_error_set(err, REASON_PERMISSION,
                    "%s: not allowed by api_permissions (HTTP 403 code 32); allow it for this "
                    "client to export its value",
                    command);
    rc = -EACCES;
  } else if (answer->status == 404 && code == 40) {
    probe_error_set(err, REASON_HTTP,
                    "%s: unknown command (HTTP 404 code 40): load the module "
                    "that provides it (mod_admin_extra, mod_muc_admin)",
                    command);
    rc = -ENOENT;
  } else {
    probe_error_set(err, REASON_HTTP, "%s: HTTP status %ld%s%.200s", command, answer->status,
                    message ? ": " : "", message ? message : "");
    rc = -EIO;
  }
  json_decref(root);
  return rc;
}

int ejabberd_parse_answer(const char *command, const struct http_answer *answer, const char *key,
                          double *value, char **text, struct probe_error *err) {
  if (answer->status < 200 || answer->status > 299)
    return api_error(command, answer, err);
  json_error_t jerr;
  json_t *root = json_loadb(answer->body, answer->len, JSON_DECODE_ANY, &jerr);
  if (!root) {
    probe_error_set(err, REASON_PARSE, "%s: the answer is not JSON (%s at byte %d)", command,
                    jerr.text, jerr.position);
    return -EINVAL;
  }
  int rc = 0;
  if (!key) {
    if (json_is_array(root))
      *value = (double)json_array_size(root);
    else
      rc = -EINVAL;
  } else if (!*key) {
    if (json_is_string(root)) {
      *text = strdup(json_string_value(root));
      rc = *text ? 0 : -ENOMEM;
    } else {
      rc = -EINVAL;
    }
  } else {
    json_t *v = json_is_object(root) ? json_object_get(root, key) : NULL;
    if (json_is_number(v) && json_number_value(v) >= 0)
      *value = json_number_value(v);
    else
      rc = -EINVAL;
  }
  if (rc == -EINVAL)
    probe_error_set(err, REASON_PARSE, "%s: unexpected answer (expected %s)", command,
                    !key    ? "a JSON array"
                    : !*key ? "a JSON string"
                            : key);
  else if (rc)
    probe_error_set(err, REASON_PARSE, "%s: out of memory", command);
  json_decref(root);
  return rc;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ejabberd_parse_members(const struct http_answer *answer, double *count, char **members,
                           struct probe_error *err) {
  if (answer->status < 200 || answer->status > 299)
    return api_error("list_cluster", answer, err);
  json_t *root = json_loadb(answer->body, answer->len, JSON_DECODE_ANY, NULL);
  size_t n = json_is_array(root) ? json_array_size(root) : 0;
  const char **names = n && n <= EJABBERD_MEMBERS_LIMIT ? calloc(n, sizeof(*names)) : NULL;
  int rc = names ? 0 : -EINVAL;
  for (size_t i = 0; rc == 0 && i < n; i++) {
    json_t *name = json_array_get(root, i);
    names[i] = json_is_string(name) ? json_string_value(name) : NULL;
    if (!names[i] || !*names[i] || strpbrk(names[i], ", \n"))
      rc = -EINVAL;
  }
  struct buf joined = BUF_INIT;
  if (rc == 0) {
    /* Each node lists the cluster in its own order: sorted, the lists compare as text. */
    qsort(names, n, sizeof(*names), compare_names);
    for (size_t i = 0; i < n; i++)
      buf_printf(&joined, "%s%s", i ? "," : "", names[i]);
    *members = buf_steal(&joined, NULL);
    *count = (double)n;
    rc = *members ? 0 : -ENOMEM;
  }
  if (rc == -EINVAL)
    probe_error_set(err, REASON_PARSE,
                    "list_cluster: unexpected answer (expected a list of 1 to %d node names)",
                    EJABBERD_MEMBERS_LIMIT);
  else if (rc)
    probe_error_set(err, REASON_PARSE, "list_cluster: out of memory");
  free(names);
  json_decref(root);
  return rc;
}

char *ejabberd_version_from_status(const char *status_text) {
  const char *running = strstr(status_text, " is running");
  if (!running)
    return NULL;
  const char *start = running;
  while (start > status_text && start[-1] != ' ' && start[-1] != '\n')
    start--;
  size_t len = (size_t)(running - start);
  if (len == 0 || len > 64)
    return NULL;
  return strndup(start, len);
}

enum target_field { SESSIONS, REGISTERED, UPTIME, S2S_IN, S2S_OUT, ROOMS, VERSION };

struct command {
  const char *name;
  const char *body;
  const char *key; /* see ejabberd_parse_answer */
  enum target_field field;
};

static const struct command commands[] = {
    {"connected_users_number", "{}", "num_sessions", SESSIONS},
    {"stats", "{\"name\":\"registeredusers\"}", "stat", REGISTERED},
    {"stats", "{\"name\":\"uptimeseconds\"}", "stat", UPTIME},
    {"incoming_s2s_number", "{}", "s2s_incoming", S2S_IN},
    {"outgoing_s2s_number", "{}", "s2s_outgoing", S2S_OUT},
    {"muc_online_rooms", "{\"service\":\"global\"}", NULL, ROOMS},
    {"status", "{}", "", VERSION},
};

static void store(struct xmpp_status *out, enum target_field field, double value, char *text) {
  switch (field) {
  case SESSIONS:
    out->c2s_sessions = value;
    break;
  case REGISTERED:
    out->registered_users = value;
    break;
  case UPTIME:
    out->uptime_seconds = value;
    break;
  case S2S_IN:
    out->s2s_in = value;
    break;
  case S2S_OUT:
    out->s2s_out = value;
    break;
  case ROOMS:
    out->muc_rooms = value;
    break;
  case VERSION:
    out->version = ejabberd_version_from_status(text);
    break;
  }
}

/* One command: 0 with the answer, or a negative errno with *err set. */
static int call(struct http_client *client, const char *api_url, size_t base, const char *name,
                const char *body, struct http_answer *answer, struct probe_error *err) {
  struct buf url = BUF_INIT;
  buf_printf(&url, "%.*s/%s", (int)base, api_url, name);
  int rc = url.data ? http_client_request(client, url.data, body, "application/json", answer, err)
                    : -ENOMEM;
  buf_free(&url);
  return rc;
}

/* Keeps the first failure of a poll, or a later one that ends it (nothing more will answer
 * when the server is gone or refuses these credentials). Returns whether the poll ends. */
static bool keep_failure(int rc, struct probe_error *one, int *first_rc,
                         struct probe_error *first) {
  bool fatal =
      one->reason == REASON_CONNECT || one->reason == REASON_TIMEOUT || one->reason == REASON_AUTH;
  if (!*first_rc || fatal) {
    probe_error_clear(first);
    *first_rc = rc;
    *first = *one;
    *one = (struct probe_error){REASON_NONE, NULL};
  }
  probe_error_clear(one);
  return fatal;
}

int ejabberd_poll(struct http_client *client, const char *api_url, bool want_version,
                  bool want_members, struct xmpp_status *out, struct probe_error *err) {
  xmpp_status_reset(out);
  struct probe_error first = {REASON_NONE, NULL};
  struct probe_error one = {REASON_NONE, NULL};
  size_t base = strlen(api_url);
  while (base && api_url[base - 1] == '/')
    base--;
  int rc = 0;
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
    const struct command *cmd = &commands[i];
    if (cmd->key && !*cmd->key && !want_version)
      continue;
    struct http_answer answer;
    int called = call(client, api_url, base, cmd->name, cmd->body, &answer, &one);
    if (called == 0) {
      double value = NAN;
      char *text = NULL;
      called = ejabberd_parse_answer(cmd->name, &answer, cmd->key, &value, &text, &one);
      if (called == 0) {
        out->up = true;
        store(out, cmd->field, value, text);
      }
      free(text);
      http_answer_clear(&answer);
    }
    if (called != 0 && keep_failure(called, &one, &rc, &first))
      break;
  }
  bool ended = rc && (first.reason == REASON_CONNECT || first.reason == REASON_TIMEOUT ||
                      first.reason == REASON_AUTH);
  if (want_members && !ended) {
    struct http_answer answer;
    int called = call(client, api_url, base, "list_cluster", "{}", &answer, &one);
    if (called == 0) {
      called = ejabberd_parse_members(&answer, &out->cluster_members, &out->members, &one);
      out->up = out->up || called == 0;
      http_answer_clear(&answer);
    }
    if (called != 0)
      keep_failure(called, &one, &rc, &first);
  }
  if (rc) {
    probe_error_clear(err);
    *err = first;
  }
  return rc;
}
