#include "daemon.h"
#include "log.h"
#include "notify.h"

#include <stdlib.h>
#include <string.h>

static void log_warning_line(const char *line, size_t len, void *path) {
  /* An empty line (a path with a newline in it) warns of nothing: it was never logged. */
  if (len == 0)
    return;
  char *text = strndup(line, len); /* log_event takes NUL-terminated values */
  if (text)
    log_event(LOG_WARN, "configuration warning", "file", (const char *)path, "warning", text);
  free(text);
}

void daemon_log_config_warnings(const struct config *config) {
  config_warning_lines(config, log_warning_line, config->path);
}

int daemon_reload(struct daemon *d, char **error) {
  *error = NULL;
  pthread_mutex_lock(&d->lock);
  notify_reloading();
  struct config *next = NULL;
  struct web_config *web = NULL;
  int rc = 0;
  if (d->web_config_path && web_config_load(d->web_config_path, &web, error) != 0) {
    log_event(LOG_ERROR, "reload failed; the running configuration stays", "err", *error);
    rc = 1;
  } else if (config_load(d->config_path, &next, error) != 0) {
    log_event(LOG_ERROR, "reload failed; the running configuration stays", "err", *error);
    rc = 1;
  } else if (snapshot_store_install(d->store, next) != 0) {
    log_event(LOG_ERROR, "reload failed: out of memory; the running configuration stays");
    config_unref(next);
    *error = strdup("out of memory");
    rc = 1;
  } else {
    if (web && d->http) {
      http_set_web_config(d->http, web);
      web = NULL;
    }
    daemon_log_config_warnings(next);
    rc = pollers_reload(&d->pollers, next, d->store) == 0 ? 0 : -1;
    config_unref(d->config);
    d->config = next;
    if (rc)
      log_event(LOG_ERROR, "some targets could not be started after the reload");
    else
      log_event(LOG_INFO, "configuration reloaded", "file", d->config_path);
  }
  web_config_free(web);
  /* Ready again whatever came of it: a refused file leaves the old configuration running. */
  notify_ready();
  pthread_mutex_unlock(&d->lock);
  return rc;
}
