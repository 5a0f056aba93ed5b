#include "flags.h"
#include "http.h"
#include "version.h"

#include <stdlib.h>
#include <getopt.h>
#include <string.h>

enum {
  OPT_CONFIG_FILE = 256,
  OPT_CONFIG_CHECK,
  OPT_LISTEN,
  OPT_SYSTEMD_SOCKET,
  OPT_PATH,
  OPT_WEB_CONFIG,
  OPT_LEVEL,
  OPT_FORMAT,
  OPT_VERSION,
  OPT_HELP
};

static const struct option options[] = {
    {"config.file", required_argument, NULL, OPT_CONFIG_FILE},
    {"config.check", no_argument, NULL, OPT_CONFIG_CHECK},
    {"web.listen-address", required_argument, NULL, OPT_LISTEN},
    {"web.systemd-socket", no_argument, NULL, OPT_SYSTEMD_SOCKET},
    {"web.telemetry-path", required_argument, NULL, OPT_PATH},
    {"web.config.file", required_argument, NULL, OPT_WEB_CONFIG},
    {"log.level", required_argument, NULL, OPT_LEVEL},
    {"log.format", required_argument, NULL, OPT_FORMAT},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out) {
  fputs("usage: replmon --config.file=FILE [flags]\n"
        "\n"
        "Watches MariaDB replication and XMPP servers in the background and serves the "
        "results\n"
        "to Prometheus.\n"
        "\n"
        "Flags:\n"
        "  --config.file=FILE          configuration file (YAML); required\n"
        "  --config.check              validate the configuration, then exit 0 (valid) or 2\n"
        "  --web.listen-address=ADDR   address to listen on (default \":" REPLMON_DEFAULT_PORT
        "\");\n"
        "                              repeat it to listen on several\n"
        "  --web.systemd-socket        serve the sockets systemd passed (socket activation)\n"
        "                              instead of --web.listen-address\n"
        "  --web.telemetry-path=PATH   path of the metrics (default \"/metrics\")\n"
        "  --web.config.file=FILE      TLS and basic auth (exporter-toolkit's format)\n"
        "  --log.level=LEVEL           debug, info, warn or error (default info)\n"
        "  --log.format=FORMAT         logfmt or json (default logfmt)\n"
        "  --version                   print the version and exit\n"
        "  --help                      print this help and exit\n"
        "\n"
        "Signals: SIGHUP reloads the configuration; SIGTERM and SIGINT stop.\n",
        out);
}

enum flags_outcome flags_parse(int argc, char **argv, struct flags *flags, FILE *out, FILE *err) {
  *flags = (struct flags){
      .telemetry_path = "/metrics",
      .log_level = LOG_INFO,
      .log_format = LOG_LOGFMT,
  };
  opterr = 0;
  optind = 1;
  for (int opt; (opt = getopt_long_only(argc, argv, "", options, NULL)) != -1;) {
    switch (opt) {
    case OPT_CONFIG_FILE:
      flags->config_file = optarg;
      break;
    case OPT_CONFIG_CHECK:
      flags->config_check = true;
      break;
    case OPT_LISTEN: {
      char *host = NULL;
      unsigned port = 0;
      int rc = http_parse_listen_address(optarg, &host, &port);
      free(host);
      if (rc != 0 || port == 0) {
        fprintf(err,
                "replmon: --web.listen-address must be host:port, :port or [v6]:port with a "
                "port from 1 to 65535, not '%s'\n",
                optarg);
        return FLAGS_EXIT_USAGE;
      }
      if (flags->n_listen_addresses == FLAGS_MAX_LISTEN_ADDRESSES) {
        fprintf(err, "replmon: --web.listen-address given more than %d times\n",
                FLAGS_MAX_LISTEN_ADDRESSES);
        return FLAGS_EXIT_USAGE;
      }
      flags->listen_addresses[flags->n_listen_addresses++] = optarg;
      break;
    }
    case OPT_SYSTEMD_SOCKET:
      flags->systemd_socket = true;
      break;
    case OPT_PATH:
      if (optarg[0] != '/' || strcmp(optarg, "/") == 0 || strcmp(optarg, "/-/healthy") == 0) {
        fprintf(err, "replmon: --web.telemetry-path must start with / and not be / or "
                     "/-/healthy\n");
        return FLAGS_EXIT_USAGE;
      }
      flags->telemetry_path = optarg;
      break;
    case OPT_WEB_CONFIG:
      flags->web_config_file = optarg;
      break;
    case OPT_LEVEL:
      if (log_level_parse(optarg, &flags->log_level) != 0) {
        fprintf(err, "replmon: --log.level must be debug, info, warn or error, not '%s'\n", optarg);
        return FLAGS_EXIT_USAGE;
      }
      break;
    case OPT_FORMAT:
      if (log_format_parse(optarg, &flags->log_format) != 0) {
        fprintf(err, "replmon: --log.format must be logfmt or json, not '%s'\n", optarg);
        return FLAGS_EXIT_USAGE;
      }
      break;
    case OPT_VERSION:
      fprintf(out, "replmon, version %s (revision: %s)\n", REPLMON_VERSION, REPLMON_REVISION);
      return FLAGS_EXIT_OK;
    case OPT_HELP:
      usage(out);
      return FLAGS_EXIT_OK;
    default:
      if (optopt)
        fprintf(err, "replmon: flag --%s is missing its value or takes none (see --help)\n",
                options[optopt - OPT_CONFIG_FILE].name);
      else
        fprintf(err, "replmon: unknown flag '%s' (see --help)\n", argv[optind - 1]);
      return FLAGS_EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(err, "replmon: unexpected argument '%s' (see --help)\n", argv[optind]);
    return FLAGS_EXIT_USAGE;
  }
  if (flags->n_listen_addresses == 0)
    flags->listen_addresses[flags->n_listen_addresses++] = ":" REPLMON_DEFAULT_PORT;
  if (!flags->config_file) {
    fprintf(err, "replmon: --config.file is required (see --help)\n");
    return FLAGS_EXIT_USAGE;
  }
  return FLAGS_RUN;
}
