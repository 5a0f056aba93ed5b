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

int ejabberd_poll(struct http_client *client, const char *api_url, bool want_version,
                  struct xmpp_status *out, struct probe_error *err) {
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
    struct buf url = BUF_INIT;
    buf_printf(&url, "%.*s/%s", (int)base, api_url, cmd->name);
    struct http_answer answer;
    int call = url.data ? http_client_request(client, url.data, cmd->body, "application/json",
                                              &answer, &one)
                        : -ENOMEM;
    buf_free(&url);
    if (call == 0) {
      double value = NAN;
      char *text = NULL;
      call = ejabberd_parse_answer(cmd->name, &answer, cmd->key, &value, &text, &one);
      if (call == 0) {
        out->up = true;
        store(out, cmd->field, value, text);
      }
      free(text);
      http_answer_clear(&answer);
    }
    if (call != 0) {
      /* Nothing more will answer when the server is gone or refuses these credentials:
       * that is then the poll's reason, whatever failed before. */
      bool fatal =
          one.reason == REASON_CONNECT || one.reason == REASON_TIMEOUT || one.reason == REASON_AUTH;
      if (!rc || fatal) {
        probe_error_clear(&first);
        rc = call;
        first = one;
        one = (struct probe_error){REASON_NONE, NULL};
      }
      probe_error_clear(&one);
      if (fatal)
        break;
    }
  }
  if (rc) {
    probe_error_clear(err);
    *err = first;
  }
  return rc;
}
