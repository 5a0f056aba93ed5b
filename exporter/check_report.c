#include "check_report.h"
#include "analysis.h"
#include "pair.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ANSI_GREEN "\033[32m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_RED "\033[31m"
#define ANSI_RESET "\033[0m"
#define COLUMN_GAP 2

int check_format_parse(const char *name, enum check_format *out) {
  if (strcmp(name, "text") == 0)
    *out = CHECK_FORMAT_TEXT;
  else if (strcmp(name, "nagios") == 0)
    *out = CHECK_FORMAT_NAGIOS;
  else if (strcmp(name, "json") == 0)
    *out = CHECK_FORMAT_JSON;
  else
    return -EINVAL;
  return 0;
}

#define RANK_WORST 3

enum health_state check_worst(const struct check_node *nodes, size_t n) {
  if (n == 0)
    return HEALTH_UNKNOWN;
  enum health_state worst = HEALTH_OK;
  for (size_t i = 0; i < n; i++)
    if (health_severity(nodes[i].health->state) > health_severity(worst))
      worst = nodes[i].health->state;
  return worst;
}

int check_exit_status(enum health_state state) {
  switch (state) {
  case HEALTH_OK:
    return 0;
  case HEALTH_WARNING:
    return 1;
  case HEALTH_CRITICAL:
    return 2;
  default:
    return 3;
  }
}

/* "OK", "WARNING", "CRITICAL", "UNKNOWN": the plugin guidelines' spelling. */
static const char *upper_name(enum health_state state) {
  static const char *const names[HEALTH_COUNT] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
  return state >= 0 && state < HEALTH_COUNT ? names[state] : "UNKNOWN";
}

/* Appends text on one line: control characters become spaces (a MariaDB error text may hold
 * a newline), and with no_pipe '|' becomes '/' (Nagios reads perfdata after it). */
static void put_line_text(struct buf *out, const char *text, bool no_pipe) {
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if (*p < 0x20 || *p == 0x7f)
      buf_putc(out, ' ');
    else if (no_pipe && *p == '|')
      buf_putc(out, '/');
    else
      buf_putc(out, (char)*p);
  }
}

/* ---- links: the io= and sql= perfdata ---- */

static void node_links(const struct group_analysis *g, size_t i, struct check_node *node) {
  const struct pair_node *me = &g->nodes[i];
  if (!me->status || !me->up)
    return;
  node->io_running = 1;
  node->sql_running = 1;
  for (size_t l = 0; l < g->n_links; l++) {
    if (g->links[l].replica != i)
      continue;
    const struct replica_status *rep = pair_find_link(me, g->links[l].source);
    if (!rep || rep->io_state != IO_STATE_YES)
      node->io_running = 0;
    if (!rep || !rep->sql_running)
      node->sql_running = 0;
  }
}

int check_links(const struct snapshot *s, struct check_node *nodes, size_t n) {
  for (size_t k = 0; k < n; k++) {
    struct check_node *node = &nodes[k];
    node->io_running = -1;
    node->sql_running = -1;
    if (node->health->kind != NODE_MARIADB || !s->analysis)
      continue;
    const struct target *t = &s->config->targets[node->health->target];
    node_links(s->analysis->groups[t->group], t->node_index, node);
  }
  return 0;
}

/* ---- text ---- */

static void format_lag(struct buf *out, double lag_s) {
  if (isnan(lag_s))
    buf_putc(out, '-');
  else
    buf_printf(out, "%.1fs", lag_s);
}

static void pad(struct buf *out, size_t used, size_t width) {
  for (size_t i = used; i < width + COLUMN_GAP; i++)
    buf_putc(out, ' ');
}

void check_format_text(const struct check_node *nodes, size_t n, bool colour, struct buf *out) {
  enum { NODE, KIND, CLUSTER, STATE, LAG, PADDED };
  static const char *const heads[PADDED] = {"NODE", "KIND", "CLUSTER", "STATE", "LAG"};
  size_t width[PADDED];
  for (int c = 0; c < PADDED; c++)
    width[c] = strlen(heads[c]);
  struct buf lag = BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    const struct node_health *h = nodes[i].health;
    const char *cells[PADDED - 1] = {h->node, node_kind_name(h->kind), h->cluster,
                                     upper_name(h->state)};
    for (int c = 0; c < LAG; c++)
      if (strlen(cells[c]) > width[c])
        width[c] = strlen(cells[c]);
    buf_reset(&lag);
    format_lag(&lag, h->lag_s);
    if (lag.len > width[LAG])
      width[LAG] = lag.len;
  }
  for (int c = 0; c < PADDED; c++) {
    buf_puts(out, heads[c]);
    pad(out, strlen(heads[c]), width[c]);
  }
  buf_puts(out, "REASON\n");
  for (size_t i = 0; i < n; i++) {
    const struct node_health *h = nodes[i].health;
    const char *cells[PADDED - 1] = {h->node, node_kind_name(h->kind), h->cluster,
                                     upper_name(h->state)};
    for (int c = 0; c < LAG; c++) {
      const char *on = NULL;
      if (colour && c == STATE)
        on = h->state == HEALTH_OK         ? ANSI_GREEN
             : h->state == HEALTH_WARNING  ? ANSI_YELLOW
             : h->state == HEALTH_CRITICAL ? ANSI_RED
                                           : NULL;
      if (on)
        buf_printf(out, "%s%s%s", on, cells[c], ANSI_RESET);
      else
        put_line_text(out, cells[c], false);
      pad(out, strlen(cells[c]), width[c]);
    }
    buf_reset(&lag);
    format_lag(&lag, h->lag_s);
    buf_append(out, lag.data, lag.len);
    pad(out, lag.len, width[LAG]);
    put_line_text(out, h->reason, false);
    buf_putc(out, '\n');
  }
  buf_free(&lag);
}

/* ---- nagios ---- */

/* The node whose perfdata the line carries: the worst MariaDB node, then the larger lag,
 * then the first. -1 without a MariaDB node. */
static long perfdata_node(const struct check_node *nodes, size_t n) {
  long best = -1;
  for (size_t i = 0; i < n; i++) {
    const struct node_health *h = nodes[i].health;
    if (h->kind != NODE_MARIADB)
      continue;
    if (best < 0) {
      best = (long)i;
      continue;
    }
    const struct node_health *b = nodes[best].health;
    int r = health_severity(h->state), rb = health_severity(b->state);
    if (r > rb || (r == rb && !isnan(h->lag_s) && (isnan(b->lag_s) || h->lag_s > b->lag_s)))
      best = (long)i;
  }
  return best;
}

static void put_bit(struct buf *out, const char *name, int value) {
  if (value >= 0)
    buf_printf(out, " %s=%d", name, value ? 1 : 0);
}

void check_format_nagios(const struct check_node *nodes, size_t n, double lag_warning_s,
                         double lag_critical_s, struct buf *out) {
  enum health_state worst = check_worst(nodes, n);
  buf_printf(out, "REPLMON %s - ", upper_name(worst));
  if (n == 0) {
    buf_puts(out, "no nodes to check\n");
    return;
  }
  /* Worst first; when something is wrong the ok nodes are only named, at the end. */
  bool first = true;
  size_t ok = 0;
  for (int r = RANK_WORST; r >= 0; r--) {
    for (size_t i = 0; i < n; i++) {
      const struct node_health *h = nodes[i].health;
      if (health_severity(h->state) != r)
        continue;
      if (r == 0 && worst != HEALTH_OK) {
        buf_puts(out, ok++ ? ", " : first ? "ok: " : "; ok: ");
        put_line_text(out, h->node, true);
        continue;
      }
      buf_puts(out, first ? "" : "; ");
      first = false;
      put_line_text(out, h->node, true);
      buf_puts(out, ": ");
      put_line_text(out, h->reason, true);
    }
  }
  long p = perfdata_node(nodes, n);
  if (p >= 0) {
    const struct check_node *node = &nodes[p];
    buf_puts(out, " | lag=");
    if (isnan(node->health->lag_s)) {
      buf_putc(out, 'U');
    } else {
      buf_put_double(out, round(node->health->lag_s * 1e3) / 1e3);
      buf_putc(out, 's');
    }
    buf_putc(out, ';');
    buf_put_double(out, lag_warning_s);
    buf_putc(out, ';');
    buf_put_double(out, lag_critical_s);
    put_bit(out, "io", node->io_running);
    put_bit(out, "sql", node->sql_running);
  }
  buf_putc(out, '\n');
}

/* ---- json ---- */

/* A JSON string of text; bytes that are not valid UTF-8 (a server's error text may hold
 * some) make jansson refuse it, so they are then replaced with '?'. NULL when out of
 * memory. */
static json_t *json_text(const char *text) {
  json_t *s = json_string(text);
  if (s)
    return s;
  char *copy = strdup(text);
  if (!copy)
    return NULL;
  for (char *p = copy; *p; p++)
    if ((unsigned char)*p >= 0x80)
      *p = '?';
  s = json_string(copy);
  free(copy);
  return s;
}

/* Adds key to object, taking over value; false when value is NULL (out of memory). */
static bool put(json_t *object, const char *key, json_t *value) {
  return value && json_object_set_new(object, key, value) == 0;
}

int check_format_json(const struct check_node *nodes, size_t n, struct buf *out) {
  json_t *root = json_object();
  json_t *list = json_array();
  bool ok = root && list && put(root, "state", json_text(health_state_name(check_worst(nodes, n))));
  for (size_t i = 0; i < n && ok; i++) {
    const struct node_health *h = nodes[i].health;
    json_t *node = json_object();
    /* Lag to the millisecond, as the other formats show it. */
    json_t *lag = isnan(h->lag_s) ? json_null() : json_real(round(h->lag_s * 1e3) / 1e3);
    ok = node && put(node, "cluster", json_text(h->cluster)) &&
         put(node, "node", json_text(h->node)) &&
         put(node, "kind", json_text(node_kind_name(h->kind))) &&
         put(node, "state", json_text(health_state_name(h->state))) &&
         put(node, "reason", json_text(h->reason)) && put(node, "lag_seconds", lag);
    if (!ok)
      json_decref(node);
    else
      ok = json_array_append_new(list, node) == 0;
  }
  if (ok) {
    ok = json_object_set(root, "nodes", list) == 0;
  }
  char *text = ok ? json_dumps(root, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) : NULL;
  json_decref(list);
  json_decref(root);
  if (!text)
    return -ENOMEM;
  buf_puts(out, text);
  buf_putc(out, '\n');
  free(text);
  return out->failed ? -ENOMEM : 0;
}

void check_format_error(enum check_format format, const char *message, struct buf *out) {
  if (format == CHECK_FORMAT_NAGIOS) {
    buf_puts(out, "REPLMON UNKNOWN - ");
    put_line_text(out, message, true);
    buf_putc(out, '\n');
  } else if (format == CHECK_FORMAT_JSON) {
    json_t *root = json_object();
    char *text = NULL;
    if (root && put(root, "state", json_text("unknown")) &&
        put(root, "error", json_text(message)) && put(root, "nodes", json_array()))
      text = json_dumps(root, JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text) {
      buf_puts(out, text);
      buf_putc(out, '\n');
      free(text);
    } else {
      out->failed = true;
    }
  }
}
