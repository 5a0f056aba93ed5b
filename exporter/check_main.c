/* replmon-check: the main function of the one-shot check. */
/* replmon-check: one health check without a daemon, for cron, Nagios/Icinga, keepalived and
 * people at a shell. It loads the daemon's configuration, runs the daemon's own pollers
 * until every node it needs was polled twice (the second round gives the heartbeat lag its
 * meaning), evaluates the daemon's health rules and exits 0 OK, 1 WARNING, 2 CRITICAL or
 * 3 UNKNOWN. */
#include "analysis.h"
#include "check_report.h"
#include "config.h"
#include "health.h"
#include "log.h"
#include "poller.h"
#include "probe_kind.h"
#include "probe.h"
#include "snapshot.h"
#include "version.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_UNKNOWN 3
#define POLLS_WANTED 2      /* results per target before the evaluation */
#define WAIT_STEP_S 0.02    /* how often the store is looked at while waiting */
#define TIMEOUT_SLACK_S 1.0 /* added to the default timeout */

struct options {
  const char *config_file;
  const char *node; /* NULL: every node */
  enum check_format format;
  double timeout_s; /* NaN: the default, from the configuration */
};

enum { OPT_CONFIG_FILE = 256, OPT_NODE, OPT_FORMAT, OPT_TIMEOUT, OPT_VERSION, OPT_HELP };

static const struct option long_options[] = {
    {"config.file", required_argument, NULL, OPT_CONFIG_FILE},
    {"node", required_argument, NULL, OPT_NODE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out) {
  fputs("usage: replmon-check --config.file=FILE [--node=NAME] [--format=text|nagios|json]\n"
        "                     [--timeout=DURATION]\n"
        "\n"
        "Polls the nodes of replmon's configuration twice, without a daemon, and tells their\n"
        "health with replmon's own rules.\n"
        "\n"
        "Flags:\n"
        "  --config.file=FILE   replmon's configuration file (YAML); required\n"
        "  --node=NAME          check this node only (its cluster is polled for the pair\n"
        "                       analysis)\n"
        "  --format=FORMAT      text (a table; default), nagios (one line with perfdata) or\n"
        "                       json\n"
        "  --timeout=DURATION   how long to wait for the polls (default: 2 * poll_interval +\n"
        "                       connect_timeout + 2 * query_timeout + 1s)\n"
        "  --version            print the version and exit\n"
        "  --help               print this help and exit\n"
        "\n"
        "Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (a bad flag or configuration, or\n"
        "a node that did not answer in time). NO_COLOR turns the colours of the table off.\n",
        out);
}

/* Returns -1 to go on, or the exit status (after --help, --version or a bad flag). */
static int parse_flags(int argc, char **argv, struct options *o) {
  *o = (struct options){.format = CHECK_FORMAT_TEXT, .timeout_s = NAN};
  opterr = 0;
  optind = 1;
  for (int opt; (opt = getopt_long_only(argc, argv, "", long_options, NULL)) != -1;) {
    switch (opt) {
    case OPT_CONFIG_FILE:
      o->config_file = optarg;
      break;
    case OPT_NODE:
      o->node = optarg;
      break;
    case OPT_FORMAT:
      if (check_format_parse(optarg, &o->format) != 0) {
        fprintf(stderr, "replmon-check: --format must be text, nagios or json, not '%s'\n", optarg);
        return EXIT_UNKNOWN;
      }
      break;
    case OPT_TIMEOUT:
      if (config_parse_duration(optarg, &o->timeout_s) != 0 || !(o->timeout_s > 0)) {
        fprintf(stderr,
                "replmon-check: --timeout must be a duration above zero such as 10s or "
                "1m30s, not '%s'\n",
                optarg);
        return EXIT_UNKNOWN;
      }
      break;
    case OPT_VERSION:
      printf("replmon-check, version %s (revision: %s)\n", REPLMON_VERSION, REPLMON_REVISION);
      return 0;
    case OPT_HELP:
      usage(stdout);
      return 0;
    default:
      if (optopt >= OPT_CONFIG_FILE && optopt <= OPT_HELP)
        fprintf(stderr,
                "replmon-check: flag --%s is missing its value or takes none (see --help)\n",
                long_options[optopt - OPT_CONFIG_FILE].name);
      else
        fprintf(stderr, "replmon-check: unknown flag '%s' (see --help)\n", argv[optind - 1]);
      return EXIT_UNKNOWN;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "replmon-check: unexpected argument '%s' (see --help)\n", argv[optind]);
    return EXIT_UNKNOWN;
  }
  if (!o->config_file) {
    fprintf(stderr, "replmon-check: --config.file is required (see --help)\n");
    return EXIT_UNKNOWN;
  }
  return -1;
}

/* Writes the whole text to stdout; false when stdout refused it. */
static bool print_out(const char *text, size_t len) {
  return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0;
}

/* The one stderr line of a run that cannot check, and its stdout form for the format. */
static int fail(const struct options *o, const char *message) {
  fprintf(stderr, "replmon-check: %s\n", message);
  struct buf out = BUF_INIT;
  check_format_error(o->format, message, &out);
  if (out.len)
    print_out(out.data, out.len);
  buf_free(&out);
  return EXIT_UNKNOWN;
}

/* Whether node (a node name of the configuration) exists; fills *names with every node's
 * name for the message when it does not. */
static bool node_exists(const struct config *config, const char *node, struct buf *names) {
  bool found = false;
  for (size_t c = 0; c < config->n_mariadb; c++)
    for (size_t i = 0; i < config->mariadb[c].n_nodes; i++) {
      const char *name = config->mariadb[c].nodes[i].name;
      found = found || strcmp(name, node) == 0;
      buf_printf(names, "%s%s", names->len ? ", " : "", name);
    }
  for (size_t c = 0; c < config->n_xmpp; c++)
    for (size_t i = 0; i < config->xmpp[c].n_nodes; i++) {
      const char *name = config->xmpp[c].nodes[i].name;
      found = found || strcmp(name, node) == 0;
      buf_printf(names, "%s%s", names->len ? ", " : "", name);
    }
  return found;
}

/* Whether the evaluation of node (NULL: every node) needs target t: a MariaDB node needs
 * every node of its cluster (lag and pair checks compare them), an XMPP node its API and
 * its stream probe. */
static bool needed(const struct config *config, size_t t, const char *node) {
  if (!node)
    return true;
  const struct target *tg = &config->targets[t];
  for (size_t u = 0; u < config->n_targets; u++) {
    const struct target *sel = &config->targets[u];
    if (strcmp(sel->name, node) != 0)
      continue;
    if (sel->kind == PROBE_MARIADB)
      return tg->kind == PROBE_MARIADB && tg->mariadb_cluster == sel->mariadb_cluster;
    return tg->kind != PROBE_MARIADB && tg->xmpp_node == sel->xmpp_node;
  }
  return false;
}

static void sleep_seconds(double seconds) {
  struct timespec ts = timespec_from_seconds(seconds);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Waits until every needed target has published POLLS_WANTED results or timeout_s passed.
 * A new result is a new pointer in the snapshot; the last one seen is held by reference, so
 * its address cannot come back for the next one. Returns 0 or -ENOMEM. */
static int wait_for_polls(struct snapshot_store *store, const struct config *config,
                          const char *node, double timeout_s) {
  size_t n = config->n_targets;
  struct target_result **seen = calloc(n ? n : 1, sizeof(*seen));
  unsigned *count = calloc(n ? n : 1, sizeof(*count));
  bool *wanted = calloc(n ? n : 1, sizeof(*wanted));
  if (!seen || !count || !wanted) {
    free(seen);
    free(count);
    free(wanted);
    return -ENOMEM;
  }
  for (size_t t = 0; t < n; t++)
    wanted[t] = needed(config, t, node);
  double deadline = clock_monotonic_seconds() + timeout_s;
  for (;;) {
    struct snapshot *s = snapshot_store_acquire(store);
    bool done = true;
    for (size_t t = 0; t < n && t < s->n_targets; t++) {
      if (!wanted[t])
        continue;
      struct target_result *r = s->results[t];
      if (r && r != seen[t]) {
        target_result_unref(seen[t]);
        seen[t] = target_result_ref(r);
        count[t]++;
      }
      done = done && count[t] >= POLLS_WANTED;
    }
    snapshot_unref(s);
    double left = deadline - clock_monotonic_seconds();
    if (done || left <= 0)
      break;
    sleep_seconds(left < WAIT_STEP_S ? left : WAIT_STEP_S);
  }
  for (size_t t = 0; t < n; t++)
    target_result_unref(seen[t]);
  free(seen);
  free(count);
  free(wanted);
  return 0;
}

/* Evaluates, prints in the chosen format and returns the exit status. */
static int report(const struct options *o, struct snapshot *s, double timeout_s) {
  struct node_health *list = NULL;
  size_t n = 0;
  if (analysis_copy_health(s->analysis, &list, &n) != 0)
    return fail(o, "out of memory");
  struct check_node *nodes = calloc(n ? n : 1, sizeof(*nodes));
  size_t k = 0;
  int status = EXIT_UNKNOWN;
  struct buf out = BUF_INIT;
  if (!nodes) {
    status = fail(o, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    struct node_health *h = &list[i];
    if (o->node && strcmp(h->node, o->node) != 0)
      continue;
    if (h->state == HEALTH_UNKNOWN) {
      /* The daemon's "not polled yet" means here that the wait ran out. */
      struct buf why = BUF_INIT;
      buf_printf(&why, "no answer within %.1fs (--timeout)", timeout_s);
      char *reason = buf_steal(&why, NULL);
      if (reason) {
        free(h->reason);
        h->reason = reason;
      }
    }
    nodes[k++].health = h;
  }
  if (check_links(s, nodes, k) != 0) {
    status = fail(o, "out of memory");
    goto out;
  }
  switch (o->format) {
  case CHECK_FORMAT_TEXT: {
    const char *no_color = getenv("NO_COLOR");
    bool colour = isatty(STDOUT_FILENO) && !(no_color && *no_color);
    check_format_text(nodes, k, colour, &out);
    break;
  }
  case CHECK_FORMAT_NAGIOS:
    check_format_nagios(nodes, k, s->config->lag_warning_s, s->config->lag_critical_s, &out);
    break;
  case CHECK_FORMAT_JSON:
    check_format_json(nodes, k, &out);
    break;
  }
  if (out.failed) {
    status = fail(o, "out of memory");
    goto out;
  }
  if (!print_out(out.data ? out.data : "", out.len)) {
    fprintf(stderr, "replmon-check: cannot write the report to stdout: %s\n", strerror(errno));
    goto out;
  }
  status = check_exit_status(check_worst(nodes, k));
out:
  buf_free(&out);
  free(nodes);
  health_free(list, n);
  return status;
}

int main(int argc, char **argv) {
  struct options o;
  int status = parse_flags(argc, argv, &o);
  if (status >= 0)
    return status;
  /* Probe failures are in the report; the log only keeps what the report cannot say. */
  log_setup(LOG_ERROR, LOG_LOGFMT);

  struct config *config = NULL;
  char *error = NULL;
  if (config_load(o.config_file, &config, &error) != 0) {
    status = fail(&o, error ? error : "cannot load the configuration");
    free(error);
    return status;
  }
  if (o.node) {
    struct buf names = BUF_INIT;
    if (!node_exists(config, o.node, &names)) {
      struct buf message = BUF_INIT;
      buf_printf(&message, "no node '%s' in %s; its nodes are: %s", o.node, o.config_file,
                 names.data ? names.data : "(none)");
      status = fail(&o, message.failed ? "out of memory" : message.data);
      buf_free(&message);
    }
    buf_free(&names);
    if (status >= 0) {
      config_unref(config);
      return status;
    }
  }
  double timeout_s = isnan(o.timeout_s) ? 2 * config->poll_interval_s + config->connect_timeout_s +
                                              2 * config->query_timeout_s + TIMEOUT_SLACK_S
                                        : o.timeout_s;

  /* Libraries that keep global state are set up before any thread exists. */
  if (probe_kinds_library_init() != 0) {
    config_unref(config);
    return fail(&o, "cannot initialise the client libraries");
  }
  signal(SIGPIPE, SIG_IGN);

  struct pollers *pollers = NULL;
  struct snapshot_store *store = snapshot_store_new(config);
  if (!store) {
    status = fail(&o, "out of memory");
  } else if (pollers_start(config, store, &pollers) != 0) {
    status = fail(&o, "cannot start the pollers");
  } else {
    int rc = wait_for_polls(store, config, o.node, timeout_s);
    pollers_stop(pollers);
    /* A source whose poll is late by now shows in its replicas' lag as it would in the
     * daemon's. */
    if (rc == 0)
      rc = snapshot_store_refresh(store);
    if (rc != 0) {
      status = fail(&o, "out of memory");
    } else {
      struct snapshot *s = snapshot_store_acquire(store);
      status = report(&o, s, timeout_s);
      snapshot_unref(s);
    }
  }
  snapshot_store_free(store);
  config_unref(config);
  probe_kinds_library_end();
  return status;
}
