/* ejabberd through mod_http_api: sessions, registered users, uptime, s2s and MUC rooms. */
#ifndef REPLMON_EJABBERD_H
#define REPLMON_EJABBERD_H

#include "http_client.h"
#include "xmpp.h"

#include <stdbool.h>

/* Reads one command's answer. key NULL: the answer is a JSON array, *value its length;
 * key "": the answer is a JSON string, returned in *text (owned); otherwise *value is the
 * number under key. Errors set *err: 401 auth, 403 with code 32 permission (the command is
 * named), other statuses http, anything unreadable parse. Returns 0 or -EINVAL/-EACCES. */
int ejabberd_parse_answer(const char *command, const struct http_answer *answer, const char *key,
                          double *value, char **text, struct probe_error *err);

/* The version from the answer of `status`, e.g. "23.01" from "...\nejabberd 23.01 is running
 * in that node". NULL when absent; otherwise owned by the caller. */
char *ejabberd_version_from_status(const char *status_text);

/* Polls every command (want_version adds `status`, want_members `list_cluster`). out gets what
 * answered; err the first failure. An unreachable server or refused credentials stop the poll at
 * the first call. Returns 0 when every call succeeded, else a negative errno. */
int ejabberd_poll(struct http_client *client, const char *api_url, bool want_version,
                  bool want_members, struct xmpp_status *out, struct probe_error *err);

#define EJABBERD_MEMBERS_LIMIT 64 /* a list_cluster answer with more names is refused */

/* Reads the answer of list_cluster (a JSON list of Erlang node names): *count, and
 * *members (owned by the caller) the names sorted and joined with commas, so that two nodes'
 * views compare as text. 0, or a negative errno with *err set. */
int ejabberd_parse_members(const struct http_answer *answer, double *count, char **members,
                           struct probe_error *err);

#endif
