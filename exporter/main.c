/* replmon: start-up, signals, reload and shutdown. */
#include "analysis.h"
#include "config.h"
#include "daemon.h"
#include "flags.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "poller.h"
#include "probe_kind.h"
#include "probe.h"
#include "snapshot.h"
#include "version.h"
#include "watch.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
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

/* Blocked before anything else (a SIGHUP during start-up must not kill us); every thread
 * inherits this mask, and only the sigtimedwait in run() receives these signals. */
static void block_signals(sigset_t *signals) {
  sigemptyset(signals);
  sigaddset(signals, SIGHUP);
  sigaddset(signals, SIGINT);
  sigaddset(signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, signals, NULL);
}

/* Loads the configuration and the web configuration (*web NULL without --web.config.file).
 * Returns 0 with both owned by the caller, or a negative errno after printing why on stderr
 * (nothing left to free). */
static int load_files(const struct flags *flags, struct config **config, struct web_config **web) {
  char *error = NULL;
  int rc = config_load(flags->config_file, config, &error);
  if (rc) {
    fprintf(stderr, "%s\n", error);
    free(error);
    return rc;
  }
  *web = NULL;
  if (flags->web_config_file) {
    rc = web_config_load(flags->web_config_file, web, &error);
    if (rc) {
      fprintf(stderr, "%s\n", error);
      free(error);
      config_unref(*config);
      *config = NULL;
      return rc;
    }
  }
  return 0;
}

/* --config.check: one warning line on stderr, in the compiler form FILE: warning: TEXT. */
static void print_warning_line(const char *line, size_t len, void *file) {
  fprintf(stderr, "%s: warning: %.*s\n", (const char *)file, (int)len, line);
}

/* --config.check, once both files loaded: says so and exits 0 without starting anything.
 * Frees config and web. */
static int check_config_only(const struct flags *flags, struct config *config,
                             struct web_config *web) {
  /* What the daemon would log as warnings (a secret others can read), on stderr. */
  config_warning_lines(config, print_warning_line, (void *)flags->config_file);
  printf("%s: configuration is valid (%zu target%s)\n", flags->config_file, config->n_targets,
         config->n_targets == 1 ? "" : "s");
  config_unref(config);
  web_config_free(web);
  return 0;
}

/* POST /-/reload: the same reload as SIGHUP, run on the HTTP thread that asked. */
static int reload_from_http(void *ctx, char **error) {
  return daemon_reload(ctx, error);
}

/* Starts the HTTP server (which takes web over, started or not), then the pollers. */
static int start_serving(const struct flags *flags, struct web_config *web, struct daemon *d) {
  struct http_options http_options = {
      .listen_addresses = flags->listen_addresses,
      .n_listen_addresses = flags->n_listen_addresses,
      .telemetry_path = flags->telemetry_path,
      .store = d->store,
      .build = {REPLMON_VERSION, REPLMON_REVISION},
      .connection_limit = HTTP_CONNECTION_LIMIT,
      .per_ip_connection_limit = HTTP_PER_IP_CONNECTION_LIMIT,
      .connection_timeout_s = HTTP_CONNECTION_TIMEOUT_S,
      .reload = reload_from_http,
      .reload_ctx = d,
      .web = web, /* the server takes it over */
  };
  if (flags->systemd_socket) {
    int n = notify_listen_fds(&http_options.first_listen_fd);
    if (n < 0) {
      web_config_free(web);
      return n;
    }
    http_options.n_listen_fds = (size_t)n;
  }
  /* HTTP first: an address in use stops replmon before it polls anything. The lock makes a
   * POST /-/reload that arrives meanwhile wait until the pollers exist. */
  pthread_mutex_lock(&d->lock);
  int started = http_start(&http_options, &d->http);
  if (started == 0) {
    started = pollers_start(d->config, d->store, &d->pollers);
    if (started == 0)
      notify_ready();
  }
  pthread_mutex_unlock(&d->lock);
  return started;
}

/* Stops what start() started, in order: HTTP, the pollers, the store, the libraries. */
static void stop(struct daemon *d) {
  http_stop(d->http);
  pollers_stop(d->pollers);
  snapshot_store_free(d->store);
  config_unref(d->config);
  pthread_mutex_destroy(&d->lock);
  probe_kinds_library_end();
}

/* Tunes the allocator, sets up the libraries, then the snapshot store, the HTTP server and the
 * pollers. Takes config and web over. Returns 0, or a negative errno with nothing left
 * running or allocated. */
static int start(const struct flags *flags, struct config *config, struct web_config *web,
                 struct daemon *d) {
  /* Blocks of 128 KiB and more (the /metrics body of many nodes, its gzip copy, zlib's state)
   * always come from mmap and go back to the system when freed. By default glibc raises this
   * threshold to the size of the largest block freed so far, and then such bodies, rendered
   * by several HTTP threads at once under load, stay in the heap: with 500 nodes, RSS stayed
   * 4 MB above idle after a wrk run, against 0.7 MB with the threshold fixed. */
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);

  int rc = probe_kinds_library_init();
  if (rc) {
    log_event(LOG_ERROR, "cannot initialise the client libraries");
    config_unref(config);
    web_config_free(web);
    return rc;
  }
  signal(SIGPIPE, SIG_IGN);

  *d = (struct daemon){.config_path = flags->config_file,
                       .config = config,
                       .web_config_path = flags->web_config_file};
  pthread_mutex_init(&d->lock, NULL);
  d->store = snapshot_store_new(config);
  if (!d->store) {
    log_event(LOG_ERROR, "out of memory");
    web_config_free(web);
    stop(d);
    return -ENOMEM;
  }
  log_event(LOG_INFO, "starting replmon", "version", REPLMON_VERSION, "revision", REPLMON_REVISION,
            "config", flags->config_file);
  daemon_log_config_warnings(config);
  rc = start_serving(flags, web, d);
  if (rc) {
    stop(d);
    return rc;
  }
  return 0;
}

static double poll_interval(struct snapshot_store *store) {
  struct snapshot *s = snapshot_store_acquire(store);
  double interval = s->config->poll_interval_s;
  snapshot_unref(s);
  return interval;
}

/* Until the watcher's next turn (once per poll interval of the running configuration, on
 * the monotonic clock: it logs what changed), the analysis going out of date with no new
 * poll (a growing lag; analyses are dated on the wall clock) or retry_at, whichever comes
 * first, and at most one interval, so that a step of the wall clock delays nothing long. */
static struct timespec next_tick(struct snapshot_store *store, double watch_at, double retry_at) {
  double interval = poll_interval(store);
  double wait = fmin(interval, watch_at - clock_monotonic_seconds());
  double refresh_at = fmax(snapshot_store_refresh_at(store), retry_at);
  wait = fmin(wait, refresh_at - clock_unix_seconds());
  return timespec_from_seconds(fmax(0.001, wait));
}

/* Waits for the signals, with the watcher's and the analysis' turns in between, until
 * SIGTERM or SIGINT (returns 0) or a SIGHUP whose reload left some targets unstarted
 * (returns 1: better restarted by systemd than half polling). */
static int run(struct daemon *d, const sigset_t *signals) {
  int status = 1;
  struct watch *watch = watch_new();
  double watch_at = clock_monotonic_seconds() + poll_interval(d->store);
  double retry_at = 0; /* after a failed refresh, not before then */
  for (;;) {
    struct timespec tick = next_tick(d->store, watch_at, retry_at);
    int sig = sigtimedwait(signals, NULL, &tick);
    if (sig < 0) {
      if (clock_unix_seconds() >= retry_at) {
        int rc = snapshot_store_refresh(d->store);
        if (rc < 0 && retry_at == 0) /* once: it would fail at every step */
          log_event(LOG_ERROR, "cannot analyse the snapshot again", "error", strerror(-rc));
        else if (rc == 0 && retry_at != 0)
          log_event(LOG_INFO, "analysing the snapshot again");
        retry_at =
            rc < 0 ? clock_unix_seconds() + poll_interval(d->store) / ANALYSIS_REFRESH_STEPS : 0;
      }
      if (clock_monotonic_seconds() < watch_at)
        continue;
      watch_at = clock_monotonic_seconds() + poll_interval(d->store);
      if (watch) {
        struct snapshot *s = snapshot_store_acquire(d->store);
        watch_update(watch, s);
        snapshot_unref(s);
      }
      continue;
    }
    if (sig == SIGHUP) {
      log_event(LOG_INFO, "SIGHUP: reloading the configuration", "file", d->config_path);
      char *error = NULL;
      int rc = daemon_reload(d, &error);
      free(error);
      watch_at = fmin(watch_at, clock_monotonic_seconds() + poll_interval(d->store));
      if (rc >= 0)
        continue;
      notify_stopping();
      break; /* status stays 1 */
    }
    log_event(LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    notify_stopping();
    status = 0;
    break;
  }
  watch_free(watch);
  return status;
}

int main(int argc, char **argv) {
  sigset_t signals;
  block_signals(&signals);

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
  struct web_config *web = NULL;
  if (load_files(&flags, &config, &web) != 0)
    return EXIT_CONFIG;
  if (flags.config_check)
    return check_config_only(&flags, config, web);

  struct daemon daemon;
  if (start(&flags, config, web, &daemon) != 0)
    return 1;
  int status = run(&daemon, &signals);
  stop(&daemon);
  if (status == 0)
    log_event(LOG_INFO, "stopped");
  return status;
}
