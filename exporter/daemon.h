/* The running daemon's configuration and pollers, and the one way to reload them, shared by
 * SIGHUP (main thread) and POST /-/reload (an HTTP thread). */
#ifndef REPLMON_DAEMON_H
#define REPLMON_DAEMON_H

#include "config.h"
#include "http.h"
#include "poller.h"
#include "snapshot.h"

#include <pthread.h>

struct daemon {
  pthread_mutex_t lock; /* one reload at a time */
  const char *config_path;
  struct config *config; /* a reference; replaced by a reload */
  struct pollers *pollers;
  struct snapshot_store *store;
  const char *web_config_path; /* NULL without --web.config.file */
  struct http_server *http;    /* gets the re-read web configuration */
};

/* Logs the configuration's warnings (a secret file others can read), one line each. */
void daemon_log_config_warnings(const struct config *config);

/* Re-reads config_path and web_config_path: a bad file keeps the running configuration; otherwise
 * targets added, removed or changed are started, stopped or restarted, and the others keep polling.
 * Returns 0; 1 when the file was refused (*error, owned by the caller, says why); -1 when
 * some targets could not be started. */
int daemon_reload(struct daemon *daemon, char **error);

#endif
