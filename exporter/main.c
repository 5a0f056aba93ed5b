/* replmon: start-up, signals, reload and shutdown. */
#include "config.h"
#include "daemon.h"
#include "flags.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "poller.h"
#include "probe.h"
#include "snapshot.h"
#include "version.h"
#include "watch.h"

#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <mysql.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_CONFIG 2
#define HTTP_CONNECTION_LIMIT 256
/* Half of them: a load test with wrk -c64 still fits, one hostile address takes at most half. */
#define HTTP_PER_IP_CONNECTION_LIMIT 128
#define HTTP_CONNECTION_TIMEOUT_S 10

static int load_config(const char *path, struct config **out) {
  char *error = NULL;
  int rc = config_load(path, out, &error);
  if (rc) {
    fprintf(stderr, "%s\n", error);
    free(error);
  }
  return rc;
}

/* --config.check: one warning line on stderr, in the compiler form FILE: warning: TEXT. */
static void print_warning_line(const char *line, size_t len, void *file) {
  fprintf(stderr, "%s: warning: %.*s\n", (const char *)file, (int)len, line);
}

/* POST /-/reload: the same reload as SIGHUP, run on the HTTP thread that asked. */
static int reload_from_http(void *ctx, char **error) {
  return daemon_reload(ctx, error);
}

int main(int argc, char **argv) {
  /* Blocked before anything else (a SIGHUP during start-up must not kill us); every thread
   * inherits this mask, and only the sigwait below receives these signals. */
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);

  struct flags flags;
  switch (flags_parse(argc, argv, &flags, stdout, stderr)) {
  case FLAGS_EXIT_OK:
    return 0;
  case FLAGS_EXIT_USAGE:
    return EXIT_CONFIG;
  case FLAGS_RUN:
    break;
  }
  log_setup(flags.log_level, flags.log_format);

  struct config *config = NULL;
  if (load_config(flags.config_file, &config) != 0)
    return EXIT_CONFIG;
  struct web_config *web = NULL;
  char *web_error = NULL;
  if (flags.web_config_file && web_config_load(flags.web_config_file, &web, &web_error) != 0) {
    fprintf(stderr, "%s\n", web_error);
    free(web_error);
    config_unref(config);
    return EXIT_CONFIG;
  }
  if (flags.config_check) {
    /* What the daemon would log as warnings (a secret others can read), on stderr. */
    config_warning_lines(config, print_warning_line, (void *)flags.config_file);
    printf("%s: configuration is valid (%zu target%s)\n", flags.config_file, config->n_targets,
           config->n_targets == 1 ? "" : "s");
    config_unref(config);
    web_config_free(web);
    return 0;
  }

  /* Blocks of 128 KiB and more (the /metrics body of many nodes, its gzip copy, zlib's state)
   * always come from mmap and go back to the system when freed. By default glibc raises this
   * threshold to the size of the largest block freed so far, and then such bodies, rendered
   * by several HTTP threads at once under load, stay in the heap: with 500 nodes, RSS stayed
   * 4 MB above idle after a wrk run, against 0.7 MB with the threshold fixed. */
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);

  /* Libraries that keep global state are set up before any thread exists. */
  if (mysql_library_init(0, NULL, NULL) != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
    log_event(LOG_ERROR, "cannot initialise the client libraries");
    config_unref(config);
    web_config_free(web);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);

  int status = 1;
  struct http_server *http = NULL;
  struct daemon daemon = {.config_path = flags.config_file, .config = config};
  pthread_mutex_init(&daemon.lock, NULL);
  daemon.store = snapshot_store_new(config);
  if (!daemon.store) {
    log_event(LOG_ERROR, "out of memory");
    goto out;
  }
  log_event(LOG_INFO, "starting replmon", "version", REPLMON_VERSION, "revision", REPLMON_REVISION,
            "config", flags.config_file);
  daemon_log_config_warnings(config);
  struct http_options http_options = {
      .listen_address = flags.listen_address,
      .telemetry_path = flags.telemetry_path,
      .store = daemon.store,
      .build = {REPLMON_VERSION, REPLMON_REVISION},
      .connection_limit = HTTP_CONNECTION_LIMIT,
      .per_ip_connection_limit = HTTP_PER_IP_CONNECTION_LIMIT,
      .connection_timeout_s = HTTP_CONNECTION_TIMEOUT_S,
      .reload = reload_from_http,
      .reload_ctx = &daemon,
      .web = web, /* the server takes it over */
  };
  daemon.web_config_path = flags.web_config_file;
  /* HTTP first: an address in use stops replmon before it polls anything. The lock makes a
   * POST /-/reload that arrives meanwhile wait until the pollers exist. */
  pthread_mutex_lock(&daemon.lock);
  int started = http_start(&http_options, &http);
  web = NULL; /* the server took it over, started or not */
  if (started == 0) {
    daemon.http = http;
    started = pollers_start(config, daemon.store, &daemon.pollers);
    if (started == 0)
      notify_ready();
  }
  pthread_mutex_unlock(&daemon.lock);
  if (started != 0)
    goto out;

  struct watch *watch = watch_new();
  for (;;) {
    /* Between signals, once per poll interval, log what changed. */
    struct snapshot *s = snapshot_store_acquire(daemon.store);
    double interval = s->config->poll_interval_s;
    snapshot_unref(s);
    struct timespec tick = timespec_from_seconds(interval);
    int sig = sigtimedwait(&signals, NULL, &tick);
    if (sig < 0) {
      if (watch) {
        s = snapshot_store_acquire(daemon.store);
        watch_update(watch, daemon.store, s);
        snapshot_unref(s);
      }
      continue;
    }
    if (sig == SIGHUP) {
      log_event(LOG_INFO, "SIGHUP: reloading the configuration", "file", flags.config_file);
      char *error = NULL;
      int rc = daemon_reload(&daemon, &error);
      free(error);
      if (rc >= 0)
        continue;
      notify_stopping();
      break; /* status stays 1: better restarted by systemd than half polling */
    }
    log_event(LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    notify_stopping();
    status = 0;
    break;
  }
  watch_free(watch);
out:
  web_config_free(web);
  http_stop(http);
  pollers_stop(daemon.pollers);
  snapshot_store_free(daemon.store);
  config_unref(daemon.config);
  pthread_mutex_destroy(&daemon.lock);
  curl_global_cleanup();
  mysql_library_end();
  if (status == 0)
    log_event(LOG_INFO, "stopped");
  return status;
}
