/* Shared by the unit tests: a config from inline YAML, and result builders. */
#ifndef REPLMON_TEST_HELPERS_H
#define REPLMON_TEST_HELPERS_H

#include "config.h"
#include "mariadb.h"
#include "snapshot.h"
#include "xmpp.h"
#include "xmpp_stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Loads yaml through a temporary file; aborts the test run on error. */
static inline struct config *config_from_yaml(const char *yaml) {
  char path[] = "/tmp/replmon-test-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || write(fd, yaml, strlen(yaml)) != (ssize_t)strlen(yaml)) {
    perror("config_from_yaml");
    abort();
  }
  close(fd);
  struct config *config = NULL;
  char *error = NULL;
  if (config_load(path, &config, &error) != 0) {
    fprintf(stderr, "config_from_yaml: %s\n", error);
    abort();
  }
  unlink(path);
  return config;
}

/* A result of each kind, and its data. */
#define MARIADB(r) ((struct mariadb_status *)(r)->data)
#define XMPP(r) ((struct xmpp_status *)(r)->data)
#define STREAM(r) ((struct xmpp_stream_status *)(r)->data)

static inline struct target_result *mariadb_result(void) {
  return target_result_new(&mariadb_probe_ops);
}

static inline struct target_result *xmpp_result(void) {
  return target_result_new(&xmpp_api_probe_ops);
}

static inline struct target_result *stream_result(void) {
  return target_result_new(&xmpp_stream_probe_ops);
}

/* Appends a replica connection to a result (strings copied). */
static inline struct replica_status *add_replica(struct target_result *r, const char *connection,
                                                 const char *source) {
  struct mariadb_status *m = MARIADB(r);
  struct replica_status *grown = realloc(m->replicas, (m->n_replicas + 1) * sizeof(*grown));
  if (!grown)
    abort();
  m->replicas = grown;
  struct replica_status *rep = &m->replicas[m->n_replicas++];
  memset(rep, 0, sizeof(*rep));
  rep->connection = strdup(connection);
  rep->master_host = strdup("127.0.0.1");
  rep->source = strdup(source);
  rep->last_io_error = strdup("");
  rep->last_sql_error = strdup("");
  rep->time_diff_seconds = NAN; /* a 10.11 server: no Master_Slave_time_diff */
  return rep;
}

#endif
