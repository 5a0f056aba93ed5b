/* What replmon-check prints: the health of the selected nodes (health.h) as a table for
 * people, one Nagios plugin line with perfdata, or a JSON object for scripts. Pure functions
 * of the evaluated health, so they are tested without a server. */
#ifndef REPLMON_CHECK_REPORT_H
#define REPLMON_CHECK_REPORT_H

#include "buf.h"
#include "health.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stddef.h>

enum check_format { CHECK_FORMAT_TEXT, CHECK_FORMAT_NAGIOS, CHECK_FORMAT_JSON };

/* "text", "nagios" or "json". Returns 0 or -EINVAL. */
int check_format_parse(const char *name, enum check_format *out);

/* One node as replmon-check reports it. */
struct check_node {
  const struct node_health *health; /* borrowed */
  /* MariaDB: 1 when every replication link of the node (expected or not) runs that thread,
   * 0 when one does not or an expected link is missing, -1 when the node's state is unknown
   * (never polled, or its last poll failed). Always -1 for XMPP nodes. */
  int io_running;
  int sql_running;
};

/* Fills io_running and sql_running of each node from the snapshot the health was evaluated
 * on. Returns 0 or -ENOMEM. */
int check_links(const struct snapshot *s, struct check_node *nodes, size_t n);

/* The worst state of the nodes, ranked as the monitoring plugins rank them (max_state_alt):
 * ok < unknown < warning < critical, so a known problem outranks a node that could not be
 * told. HEALTH_UNKNOWN when n is 0. */
enum health_state check_worst(const struct check_node *nodes, size_t n);

/* The plugin exit status of a state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
int check_exit_status(enum health_state state);

/* A table (NODE KIND CLUSTER STATE LAG REASON), one node per line in the given order; the
 * state in green, yellow or red when colour is true. */
void check_format_text(const struct check_node *nodes, size_t n, bool colour, struct buf *out);

/* One line: "REPLMON <STATE> - <nodes, worst first> | lag=<s>s;<warn>;<crit> io=1 sql=1".
 * When some node is not ok, the others are summed up as "ok: a, b". The perfdata is that of
 * the worst MariaDB node (ties: the larger lag, then the first): lag "U" when unknown, io and
 * sql left out when unknown; none without a MariaDB node. '|' in a reason becomes '/'. */
void check_format_nagios(const struct check_node *nodes, size_t n, double lag_warning_s,
                         double lag_critical_s, struct buf *out);

/* {"state":..,"nodes":[{"cluster","node","kind","state","reason","lag_seconds"}]}, built
 * with jansson, then a newline. lag_seconds is null when unknown. Returns 0 or -ENOMEM. */
int check_format_json(const struct check_node *nodes, size_t n, struct buf *out);

/* What a run that could not check prints on stdout besides its stderr line: nagios
 * "REPLMON UNKNOWN - message", json {"state":"unknown","error":message,"nodes":[]}, text
 * nothing (the stderr line says it). */
void check_format_error(enum check_format format, const char *message, struct buf *out);

#endif
