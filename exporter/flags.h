/* Command-line flags, spelled like every Prometheus exporter's (--web.listen-address, ...). */
#ifndef REPLMON_FLAGS_H
#define REPLMON_FLAGS_H

#include "log.h"

#include <stdbool.h>
#include <stdio.h>

#define REPLMON_DEFAULT_PORT "9873"
#define FLAGS_MAX_LISTEN_ADDRESSES 16

struct flags {
  const char *config_file; /* the strings point into argv or to static defaults */
  bool config_check;
  /* --web.listen-address, repeatable: listen on each (":9873" when none is given). */
  const char *listen_addresses[FLAGS_MAX_LISTEN_ADDRESSES];
  size_t n_listen_addresses;
  bool systemd_socket; /* --web.systemd-socket: serve the sockets systemd passed instead */
  const char *telemetry_path;
  const char *web_config_file; /* NULL: plain HTTP, no authentication */
  enum log_level log_level;
  enum log_format log_format;
};

enum flags_outcome { FLAGS_RUN, FLAGS_EXIT_OK, FLAGS_EXIT_USAGE };

/* Parses argv. FLAGS_EXIT_OK after --help or --version (printed to out); FLAGS_EXIT_USAGE
 * after printing one line naming the bad flag to err. */
enum flags_outcome flags_parse(int argc, char **argv, struct flags *flags, FILE *out, FILE *err);

#endif
