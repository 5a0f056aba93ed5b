#include "status_page.h"
#include "analysis.h"
#include "health.h"
#include "pair.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define DASH "&#8212;" /* an unknown value */
#define SEP " &#183; " /* between items of a line */

/* Inline only: the page must work on a monitoring network without Internet access, and its
 * Content-Security-Policy (status_page_policy) allows this style sheet by its hash and nothing
 * else. Colours follow the state: green, yellow, red, grey; light and dark schemes. */
static const char style[] =
    ":root{--bg:#f3f5f7;--fg:#1f2328;--muted:#5c6670;--card:#fff;--line:#dde2e7;"
    "--link:#0a5fcc;--ok:#1a7f37;--ok-bg:#e3f6e8;--warn:#9a6700;--warn-bg:#fff4cc;"
    "--crit:#c9212b;--crit-bg:#ffebe9;--unk:#6b7580;--unk-bg:#eceff2;"
    "--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace}"
    "@media (prefers-color-scheme:dark){:root{--bg:#0f1317;--fg:#e4e8ec;--muted:#939ca6;"
    "--card:#171c22;--line:#2d343c;--link:#5aa2ff;--ok:#4ac26b;--ok-bg:#14291c;"
    "--warn:#dbab2a;--warn-bg:#2b2412;--crit:#ff6a64;--crit-bg:#331618;--unk:#939ca6;"
    "--unk-bg:#232a31}}"
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}"
    "body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,"
    "-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,'Noto Sans','Liberation Sans',"
    "sans-serif}"
    "a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}"
    ".state-ok,.tone-ok{--c:var(--ok);--cb:var(--ok-bg)}"
    ".state-warning,.tone-warning{--c:var(--warn);--cb:var(--warn-bg)}"
    ".state-critical,.tone-critical{--c:var(--crit);--cb:var(--crit-bg)}"
    ".state-unknown,.tone-unknown{--c:var(--unk);--cb:var(--unk-bg)}"
    ".top{background:#1d232a;color:#e8ecf0;padding:10px 24px}"
    ".top-in{max-width:1280px;margin:0 auto;display:flex;flex-wrap:wrap;align-items:center;"
    "justify-content:space-between;gap:6px 20px}"
    ".brand{display:flex;align-items:baseline;gap:10px;flex-wrap:wrap}"
    ".brand b{font-size:18px;letter-spacing:.01em}"
    ".brand span{font-size:12px;color:#aab4be}"
    ".top nav{display:flex;flex-wrap:wrap;gap:4px 18px}"
    ".top nav a{color:#e8ecf0;font-weight:500}"
    "main{max-width:1280px;margin:0 auto;padding:20px 24px 8px}"
    ".summary{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;"
    "gap:10px 20px;background:var(--card);border:1px solid var(--line);"
    "border-left:6px solid var(--c);border-radius:10px;padding:14px 18px}"
    ".overall{font-size:17px;font-weight:600}"
    ".overall em{font-style:normal;color:var(--c)}"
    ".counts{display:flex;flex-wrap:wrap;gap:6px;list-style:none;margin:0;padding:0}"
    ".counts li{background:var(--cb);color:var(--c);border-radius:999px;padding:2px 10px;"
    "font-size:12px;font-weight:600}"
    ".updated{flex-basis:100%;margin:0;color:var(--muted);font-size:12px}"
    ".cluster h2{display:flex;align-items:baseline;gap:10px;font-size:16px;margin:26px 0 10px}"
    ".cluster h2 span{font-size:12px;font-weight:500;color:var(--muted)}"
    ".checks{list-style:none;margin:0 0 12px;padding:0}"
    ".checks li{background:var(--warn-bg);border-left:4px solid var(--warn);"
    "border-radius:6px;padding:8px 12px;margin-bottom:6px;overflow-wrap:anywhere}"
    ".checks code{font-family:var(--mono);font-size:12.5px;font-weight:600}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,340px),1fr));"
    "gap:16px;align-items:start}"
    ".card{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--c);"
    "border-radius:10px;padding:14px 16px 12px;box-shadow:0 1px 3px rgba(0,0,0,.05);"
    "min-width:0}"
    ".card-head{display:flex;align-items:flex-start;justify-content:space-between;gap:10px}"
    ".card-head>div{min-width:0}"
    ".card h3{margin:0;font-size:17px;line-height:1.3;overflow-wrap:anywhere}"
    ".card h4{margin:14px 0 6px;font-size:12px;font-weight:600;text-transform:uppercase;"
    "letter-spacing:.04em;color:var(--muted)}"
    ".card h4 small{font-size:12px;font-weight:400;text-transform:none;letter-spacing:0;"
    "margin-left:4px}"
    ".badge{flex:none;background:var(--cb);color:var(--c);border-radius:999px;"
    "padding:2px 10px;font-size:11px;font-weight:700;letter-spacing:.05em;"
    "text-transform:uppercase}"
    ".sub{margin:2px 0 0;color:var(--muted);font-size:12.5px;overflow-wrap:anywhere}"
    ".badge{margin-top:2px}"
    ".status{background:var(--cb);border-radius:6px;padding:8px 11px;margin:12px 0 12px}"
    ".since{margin:0 0 1px;color:var(--c);font-size:12.5px;font-weight:700}"
    ".reason{margin:0;overflow-wrap:anywhere}"
    ".facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(92px,1fr));"
    "gap:8px 12px;margin:0}"
    ".facts dt{font-size:11px;text-transform:uppercase;letter-spacing:.04em;"
    "color:var(--muted)}"
    ".facts dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums;"
    "overflow-wrap:break-word}"
    ".facts dd small{font-weight:400;color:var(--muted)}"
    "table{width:100%;border-collapse:collapse;margin-top:12px;font-size:13px;"
    "font-variant-numeric:tabular-nums}"
    "th{text-align:left;font-size:11px;font-weight:600;text-transform:uppercase;"
    "letter-spacing:.04em;color:var(--muted);border-bottom:1px solid var(--line);"
    "padding:4px 6px}"
    "td{padding:6px;border-bottom:1px solid var(--line);vertical-align:top}"
    "tr.err td{border-top:0;padding-top:0}"
    "td small{color:var(--muted)}"
    ".y{color:var(--ok);font-weight:600}.n{color:var(--crit);font-weight:600}"
    ".m{color:var(--warn);font-weight:600}"
    ".errtext{font-family:var(--mono);font-size:12px;color:var(--crit);"
    "overflow-wrap:anywhere}"
    ".note{margin:10px 0 0;font-size:12.5px;color:var(--muted);overflow-wrap:anywhere}"
    ".note.bad{color:var(--crit)}"
    ".card-foot{margin:12px 0 0;font-size:12px;display:flex;flex-wrap:wrap;gap:4px 14px}"
    ".empty{color:var(--muted)}"
    ".endpoints{margin:30px 0 0;padding-top:14px;border-top:1px solid var(--line);"
    "color:var(--muted);font-size:12.5px}"
    ".endpoints h2{margin:0 0 4px;font-size:13px;font-weight:600;color:var(--fg)}"
    ".endpoints ul{margin:6px 0 0;padding-left:18px}"
    ".endpoints code{font-family:var(--mono)}"
    "form{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-top:10px}"
    "select,button{font:inherit;font-size:13px;padding:3px 8px;border-radius:6px;"
    "border:1px solid var(--line);background:var(--card);color:var(--fg)}"
    "footer{max-width:1280px;margin:0 auto;padding:14px 24px 24px;color:var(--muted);"
    "font-size:12px}"
    "@media (max-width:520px){.top{padding:10px 14px}main{padding:14px 12px 4px}"
    "footer{padding:12px 14px 20px}.card{padding:12px 13px 10px}}";

/* The one HTML escaper: every text from the configuration or a server goes through it, in
 * element content and in attribute values alike. Control characters (which have no business
 * on the page) become spaces. */
static void html_escape_n(struct buf *out, const char *text, size_t len) {
  const char *run = text;
  for (const char *p = text; p < text + len; p++) {
    const char *rep = NULL;
    switch (*p) {
    case '&':
      rep = "&amp;";
      break;
    case '<':
      rep = "&lt;";
      break;
    case '>':
      rep = "&gt;";
      break;
    case '"':
      rep = "&quot;";
      break;
    case '\'':
      rep = "&#39;";
      break;
    default:
      if ((unsigned char)*p < 0x20 || *p == 0x7f)
        rep = " ";
    }
    if (rep) {
      buf_append(out, run, (size_t)(p - run));
      buf_puts(out, rep);
      run = p + 1;
    }
  }
  buf_append(out, run, (size_t)(text + len - run));
}

static void html_escape(struct buf *out, const char *text) {
  if (text)
    html_escape_n(out, text, strlen(text));
}

/* Percent-encodes text for a URL path segment or query value (then safe in an attribute). */
static void url_escape(struct buf *out, const char *text) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '.' || *p == '_' || *p == '~') {
      buf_putc(out, (char)*p);
    } else {
      buf_putc(out, '%');
      buf_putc(out, hex[*p >> 4]);
      buf_putc(out, hex[*p & 15]);
    }
  }
}

/* "45s", "3m12s", "1h02m", "2d03h": how long, to a person. */
static void put_duration(struct buf *out, double seconds) {
  if (isnan(seconds) || seconds < 0)
    seconds = 0;
  if (seconds >= 1e9) { /* nobody needs more; keeps the casts below defined */
    buf_puts(out, "years");
    return;
  }
  long s = (long)seconds;
  if (s < 60)
    buf_printf(out, "%lds", s);
  else if (s < 3600)
    buf_printf(out, "%ldm%02lds", s / 60, s % 60);
  else if (s < 86400)
    buf_printf(out, "%ldh%02ldm", s / 3600, s % 3600 / 60);
  else
    buf_printf(out, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
}

/* A lag or delay: tenths of a second below a minute, then as a duration. */
static void put_seconds(struct buf *out, double seconds) {
  if (isnan(seconds))
    buf_puts(out, DASH);
  else if (seconds < 60)
    buf_printf(out, "%.1fs", seconds < 0 ? 0 : seconds);
  else
    put_duration(out, seconds);
}

/* A duration from the configuration: "1s", "1m30s", "0.5s". */
static void put_setting(struct buf *out, double seconds) {
  if (seconds >= 1 && seconds == floor(seconds))
    put_duration(out, seconds);
  else
    buf_printf(out, "%gs", seconds);
}

static void put_count(struct buf *out, double v) {
  if (isnan(v))
    buf_puts(out, DASH);
  else
    buf_printf(out, "%.0f", v);
}

/* A Unix time as "2026-11-22 08:44:33 UTC" (or only the date). */
static void put_utc(struct buf *out, double unix_s, bool with_time) {
  if (isnan(unix_s) || unix_s < 0 || unix_s > 253402300799.0) {
    buf_puts(out, DASH);
    return;
  }
  time_t t = (time_t)unix_s;
  struct tm tm;
  if (!gmtime_r(&t, &tm)) {
    buf_puts(out, DASH);
    return;
  }
  buf_printf(out, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  if (with_time)
    buf_printf(out, " %02d:%02d:%02d UTC", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* One <div><dt>..</dt><dd>..</dd></div> of a card's facts; value is already HTML. */
static void fact_open(struct buf *out, const char *label) {
  buf_puts(out, "<div><dt>");
  buf_puts(out, label);
  buf_puts(out, "</dt><dd>");
}

static void fact_close(struct buf *out) {
  buf_puts(out, "</dd></div>");
}

/* The host[:port] of an API URL: no user info, path or query, which could hold a secret. */
static void put_url_host(struct buf *out, const char *url) {
  const char *start = strstr(url, "://");
  start = start ? start + 3 : url;
  size_t len = strcspn(start, "/?#");
  const char *at = memchr(start, '@', len);
  while (at) { /* the last '@' before the path ends the user info */
    len -= (size_t)(at + 1 - start);
    start = at + 1;
    at = memchr(start, '@', len);
  }
  html_escape_n(out, start, len);
}

/* What the since-line says for a state: "down for 3m12s", "ok for 1h02m". */
static const char *since_word(enum health_state state) {
  switch (state) {
  case HEALTH_OK:
    return "ok";
  case HEALTH_WARNING:
    return "warning";
  case HEALTH_CRITICAL:
    return "down";
  default:
    return "unknown";
  }
}

static const char *state_title(enum health_state state) {
  static const char *const titles[HEALTH_COUNT] = {"OK", "Warning", "Critical", "Unknown"};
  return state < HEALTH_COUNT ? titles[state] : "Unknown";
}

static void put_head(struct buf *out, const struct snapshot *s, const size_t counts[HEALTH_COUNT],
                     size_t n) {
  double refresh = ceil(s->config->poll_interval_s);
  if (isnan(refresh) || refresh < 1)
    refresh = 1;
  buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  buf_printf(out, "<meta http-equiv=\"refresh\" content=\"%.0f\">\n", refresh);
  /* An empty icon of its own: otherwise browsers fetch /favicon.ico, which the policy refuses
   * (and reports in the console). */
  buf_puts(out, "<meta name=\"color-scheme\" content=\"light dark\">\n"
                "<meta name=\"robots\" content=\"noindex\">\n"
                "<link rel=\"icon\" href=\"data:,\">\n<title>replmon");
  static const int worst_first[] = {HEALTH_CRITICAL, HEALTH_WARNING, HEALTH_UNKNOWN, HEALTH_OK};
  const char *sep = ": ";
  for (size_t i = 0; n && i < sizeof(worst_first) / sizeof(worst_first[0]); i++) {
    if (counts[worst_first[i]]) {
      buf_printf(out, "%s%zu %s", sep, counts[worst_first[i]],
                 health_state_name((enum health_state)worst_first[i]));
      sep = ", ";
    }
  }
  buf_puts(out, "</title>\n<style>");
  buf_puts(out, style);
  buf_puts(out, "</style>\n</head>\n<body>\n");
}

static void put_top(struct buf *out, const struct status_page_options *o) {
  buf_puts(out, "<header class=\"top\"><div class=\"top-in\"><div class=\"brand\"><b>replmon</b>"
                "<span>MariaDB replication &amp; XMPP exporter" SEP "version ");
  html_escape(out, o->build.version);
  buf_puts(out, SEP "revision ");
  html_escape(out, o->build.revision);
  buf_puts(out, "</span></div><nav><a href=\"");
  html_escape(out, o->telemetry_path);
  buf_puts(out, "\">Metrics</a><a href=\"#endpoints\">Probe</a>"
                "<a href=\"/-/healthy\">/-/healthy</a></nav></div></header>\n<main>\n");
}

static void put_summary(struct buf *out, const struct snapshot *s,
                        const struct status_page_options *o, const size_t counts[HEALTH_COUNT],
                        size_t n) {
  enum health_state worst = HEALTH_OK;
  for (int st = 0; st < HEALTH_COUNT; st++)
    if (counts[st] && health_severity((enum health_state)st) > health_severity(worst))
      worst = (enum health_state)st;
  if (!n)
    worst = HEALTH_UNKNOWN;
  buf_printf(out, "<section class=\"summary tone-%s\" data-state=\"%s\"><div class=\"overall\">",
             health_state_name(worst), health_state_name(worst));
  size_t bad = n - counts[HEALTH_OK];
  if (!n)
    buf_puts(out, "No node is configured");
  else if (!bad)
    buf_printf(out, "<em>All %zu node%s OK</em>", n, n == 1 ? "" : "s");
  else
    buf_printf(out, "<em>%s</em>" SEP "%zu of %zu node%s need%s attention", state_title(worst), bad,
               n, n == 1 ? "" : "s", bad == 1 ? "s" : "");
  buf_puts(out, "</div><ul class=\"counts\">");
  static const int order[] = {HEALTH_CRITICAL, HEALTH_WARNING, HEALTH_UNKNOWN, HEALTH_OK};
  for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
    if (counts[order[i]])
      buf_printf(out, "<li class=\"tone-%s\">%zu %s</li>",
                 health_state_name((enum health_state)order[i]), counts[order[i]],
                 health_state_name((enum health_state)order[i]));
  buf_puts(out, "</ul><p class=\"updated\">Updated ");
  put_utc(out, o->now_unix, true);
  buf_puts(out, SEP "refreshes every ");
  put_duration(out, fmax(1, ceil(s->config->poll_interval_s)));
  buf_puts(out, SEP "lag warning at ");
  put_setting(out, s->config->lag_warning_s);
  buf_puts(out, ", critical at ");
  put_setting(out, s->config->lag_critical_s);
  buf_puts(out, "</p></section>\n");
}

/* The card's head: name, state badge, kind, cluster and where the node is (the caller
 * appends the address, then calls card_status). */
static void card_open(struct buf *out, const struct node_health *h, const char *kind_title) {
  const char *state = health_state_name(h->state);
  buf_printf(out, "<article class=\"card state-%s\" data-node=\"", state);
  html_escape(out, h->node);
  buf_printf(out, "\" data-state=\"%s\" data-kind=\"%s\" data-cluster=\"", state,
             node_kind_name(h->kind));
  html_escape(out, h->cluster);
  buf_puts(out, "\">\n<div class=\"card-head\"><div><h3 class=\"node\">");
  html_escape(out, h->node);
  buf_printf(out, "</h3><p class=\"sub\">%s" SEP, kind_title);
  html_escape(out, h->cluster);
  buf_puts(out, SEP);
}

/* Closes the head, then the state box: since when and the reason. */
static void card_status(struct buf *out, const struct node_health *h,
                        const struct status_page_options *o) {
  buf_printf(out, "</p></div><span class=\"badge\">%s</span></div>\n<div class=\"status\">",
             health_state_name(h->state));
  if (h->since_unix > 0 && o->now_unix >= h->since_unix) {
    buf_printf(out, "<p class=\"since\">%s for ", since_word(h->state));
    put_duration(out, o->now_unix - h->since_unix);
    buf_puts(out, "</p>");
  } else if (h->since_unix > 0) { /* the clock went back, or the page's now is earlier */
    buf_puts(out, "<p class=\"since\">changed just now</p>");
  }
  buf_puts(out, "<p class=\"reason\">");
  html_escape(out, h->reason);
  buf_puts(out, "</p></div>\n");
}

static void card_close(struct buf *out, const struct node_health *h) {
  buf_puts(out, "<p class=\"card-foot\"><a href=\"/health/");
  url_escape(out, h->node);
  buf_puts(out, "\">/health/");
  html_escape(out, h->node);
  buf_puts(out, "</a><a href=\"/probe?target=");
  url_escape(out, h->node);
  buf_puts(out, "\">probe now</a></p>\n</article>\n");
}

/* When a failing target last answered: "3m12s ago", or that it never did. */
static void put_last_answer(struct buf *out, const struct target_result *r,
                            const struct status_page_options *o) {
  buf_puts(out, "<p class=\"note bad\">");
  if (r->last_success_unix > 0) {
    buf_puts(out, "Last good poll ");
    put_duration(out, o->now_unix - r->last_success_unix);
    buf_puts(out, " ago (");
    put_utc(out, r->last_success_unix, true);
    buf_puts(out, ")");
  } else {
    buf_puts(out, "Never answered since replmon started");
  }
  buf_puts(out, "</p>\n");
}

static void put_io_state(struct buf *out, enum replica_io_state state) {
  const char *cls = state == IO_STATE_YES ? "y" : state == IO_STATE_NO ? "n" : "m";
  buf_printf(out, "<span class=\"%s\">%s</span>", cls, replica_io_state_name(state));
}

static void put_replica_row(struct buf *out, const struct replica_status *rep) {
  buf_puts(out, "<tr><td>");
  html_escape(out, rep->source);
  if (rep->connection && rep->connection[0]) {
    buf_puts(out, " <small>(");
    html_escape(out, rep->connection);
    buf_puts(out, ")</small>");
  }
  buf_puts(out, "</td><td>");
  put_io_state(out, rep->io_state);
  buf_printf(out, "</td><td><span class=\"%s\">%s</span></td><td>", rep->sql_running ? "y" : "n",
             rep->sql_running ? "yes" : "no");
  put_seconds(out, rep->seconds_behind_master);
  if (!isnan(rep->sql_delay_seconds) && rep->sql_delay_seconds > 0) {
    buf_puts(out, " <small>(delay ");
    put_seconds(out, rep->sql_delay_seconds);
    buf_puts(out, ")</small>");
  }
  buf_puts(out, "</td></tr>\n");
  bool io_err = !isnan(rep->last_io_errno) && rep->last_io_errno > 0;
  bool sql_err = !isnan(rep->last_sql_errno) && rep->last_sql_errno > 0;
  if (!io_err && !sql_err)
    return;
  buf_puts(out, "<tr class=\"err\"><td colspan=\"4\">");
  if (sql_err) {
    buf_printf(out, "<div class=\"errtext\">SQL error %.0f: ", rep->last_sql_errno);
    html_escape(out, rep->last_sql_error);
    buf_puts(out, "</div>");
  }
  if (io_err) {
    buf_printf(out, "<div class=\"errtext\">IO error %.0f: ", rep->last_io_errno);
    html_escape(out, rep->last_io_error);
    buf_puts(out, "</div>");
  }
  buf_puts(out, "</td></tr>\n");
}

static void mariadb_card(struct buf *out, const struct group_analysis *g, size_t i,
                         const struct status_page_options *o) {
  const struct node_health *h = &g->health[i];
  const struct target_result *r = g->results[i];
  const struct mariadb_status *m = r ? r->data : NULL;
  const struct mariadb_node_config *nc = &g->mariadb->nodes[i];
  card_open(out, h, "MariaDB");
  html_escape(out, nc->address ? nc->address : nc->socket);
  card_status(out, h, o);
  bool known = r && r->success && m->known;
  buf_puts(out, "<dl class=\"facts\">");
  fact_open(out, "Lag");
  put_seconds(out, h->lag_s);
  fact_close(out);
  fact_open(out, "Server ID");
  put_count(out, known ? m->server_id : NAN);
  fact_close(out);
  fact_open(out, "Read-only");
  if (!known || isnan(m->read_only))
    buf_puts(out, DASH);
  else
    buf_puts(out, m->read_only != 0 ? "yes" : "no");
  fact_close(out);
  buf_puts(out, "</dl>\n");

  if (!r) {
    buf_puts(out, "<p class=\"note\">Waiting for the first poll.</p>\n");
  } else if (!known) {
    put_last_answer(out, r, o);
  } else {
    size_t rows = 0;
    buf_puts(out, "<table><thead><tr><th>Source</th><th>IO</th><th>SQL</th>"
                  "<th>Behind</th></tr></thead><tbody>\n");
    for (size_t j = 0; j < m->n_replicas; j++, rows++)
      put_replica_row(out, &m->replicas[j]);
    for (size_t l = 0; l < g->n_links; l++) {
      const struct link_analysis *link = &g->links[l];
      if (link->replica != i || !link->expected || pair_find_link(&g->nodes[i], link->source))
        continue;
      buf_puts(out, "<tr><td>");
      html_escape(out, link->source);
      buf_puts(out, "</td><td colspan=\"3\"><span class=\"n\">missing</span> "
                    "<small>(an expected link)</small></td></tr>\n");
      rows++;
    }
    if (!rows)
      buf_puts(out, "<tr><td colspan=\"4\" class=\"empty\">No replication connection</td></tr>\n");
    buf_puts(out, "</tbody></table>\n");
    if (m->heartbeat_error) {
      buf_puts(out, "<p class=\"note bad\">Heartbeat: ");
      html_escape(out, m->heartbeat_error);
      buf_puts(out, "</p>\n");
    }
  }
  card_close(out, h);
}

/* One XMPP number as a fact, when the server type provides it and it is known. */
static void xmpp_fact(struct buf *out, enum xmpp_type type, enum xmpp_value what, const char *label,
                      double v) {
  if (!xmpp_provides(type, what) || isnan(v))
    return;
  fact_open(out, label);
  if (what == XMPP_UPTIME)
    put_duration(out, v);
  else
    put_count(out, v);
  fact_close(out);
}

/* Whether each TLS endpoint's certificate was verified, and why not (the reason the log
 * names once per change). */
static void put_certificates(struct buf *out, const struct xmpp_node_config *xn,
                             const struct xmpp_stream_status *st) {
  for (int e = 0; e < XMPP_ENDPOINTS; e++) {
    const struct xmpp_tls_endpoint *ep = &st->endpoints[e];
    if (!ep->handshake_done)
      continue;
    char label[48];
    snprintf(label, sizeof(label), "TLS %s :%u", xmpp_endpoint_name((enum xmpp_endpoint)e),
             ep->port);
    fact_open(out, label);
    if (ep->verified) {
      buf_puts(out, "<span class=\"y\">verified</span>");
    } else {
      buf_printf(out,
                 "<span class=\"%s\">not verified: ", xn->tls_insecure_skip_verify ? "m" : "n");
      html_escape(out, ep->tls_problem ? ep->tls_problem : "");
      buf_puts(out, "</span>");
      if (xn->tls_insecure_skip_verify)
        buf_puts(out, "<br><small>tls.insecure_skip_verify</small>");
    }
    if (!isnan(ep->earliest_expiry_unix) && ep->earliest_expiry_unix != ep->leaf_expiry_unix) {
      buf_puts(out, "<br><small>chain expires ");
      put_utc(out, ep->earliest_expiry_unix, false);
      buf_puts(out, "</small>");
    }
    fact_close(out);
  }
}

/* The stream probe: what the server's c2s stream features said, and its certificates. */
static void put_stream(struct buf *out, const struct xmpp_node_config *xn,
                       const struct target_result *stream, const struct status_page_options *o) {
  buf_puts(out, "<h4>Stream probe <small>");
  if (xn->c2s_address) {
    html_escape(out, xn->c2s_address);
    buf_puts(out, SEP);
  }
  if (xn->s2s_address) {
    buf_puts(out, "s2s ");
    html_escape(out, xn->s2s_address);
    buf_puts(out, SEP);
  }
  html_escape(out, xn->domain);
  buf_puts(out, "</small></h4>\n");
  if (!stream) {
    buf_puts(out, "<p class=\"note\">Not run yet.</p>\n");
    return;
  }
  const struct xmpp_stream_status *st = stream->data;
  buf_puts(out, "<dl class=\"facts\">");
  fact_open(out, "Features");
  buf_puts(out, stream->success ? "<span class=\"y\">received</span>"
                                : "<span class=\"n\">failed</span>");
  fact_close(out);
  if (st->known) {
    fact_open(out, "STARTTLS");
    if (st->starttls_required)
      buf_puts(out, "<span class=\"y\">required</span>");
    else if (st->starttls_offered)
      buf_puts(out, "<span class=\"y\">offered</span>");
    else
      buf_puts(out, "<span class=\"m\">not offered</span>");
    fact_close(out);
  }
  if (!isnan(st->cert_expiry_unix)) {
    double left = st->cert_expiry_unix - o->now_unix;
    const char *cls = left <= 0 ? "n" : left < 14 * 86400.0 ? "m" : "y";
    fact_open(out, left <= 0 ? "Cert expired" : "Cert expires");
    buf_printf(out, "<span class=\"%s\">", cls);
    put_utc(out, st->cert_expiry_unix, false);
    buf_puts(out, "</span><br><small>");
    double days = floor(fabs(left) / 86400);
    if (left > 0)
      buf_puts(out, "in ");
    if (days >= 2)
      buf_printf(out, "%.0f days", days);
    else
      put_duration(out, fabs(left));
    buf_puts(out, left <= 0 ? " ago</small>" : "</small>");
    fact_close(out);
  }
  put_certificates(out, xn, st);
  buf_puts(out, "</dl>\n");
  if (!stream->success) {
    buf_printf(out, "<p class=\"note bad\">%s", probe_reason_name(stream->reason));
    if (st->stream_error || stream->error) {
      buf_puts(out, ": ");
      html_escape(out, st->stream_error ? st->stream_error : stream->error);
    }
    buf_puts(out, "</p>\n");
  }
}

/* A short duration in milliseconds: "172 ms", "0.4 ms". */
static void put_seconds_ms(struct buf *out, double seconds) {
  if (isnan(seconds))
    buf_puts(out, DASH);
  else
    buf_printf(out, seconds < 0.01 ? "%.1f ms" : "%.0f ms", seconds * 1e3);
}

/* The databases the node depends on, each with its state. */
static void put_dependencies(struct buf *out, const struct snapshot *s,
                             const struct xmpp_node_config *xn) {
  if (!xn->n_depends || !s->analysis)
    return;
  fact_open(out, xn->n_depends == 1 ? "Database" : "Databases");
  for (size_t d = 0; d < xn->n_depends; d++) {
    const struct xmpp_dependency *dep = &xn->depends[d];
    const struct node_health *db = &s->analysis->groups[dep->cluster]->health[dep->node];
    static const char *const classes[HEALTH_COUNT] = {"y", "m", "n", ""};
    buf_printf(out, "%s<span class=\"%s\" data-depends=\"", d ? ", " : "",
               classes[db->state < HEALTH_COUNT ? db->state : HEALTH_UNKNOWN]);
    html_escape(out, dep->name);
    buf_puts(out, "\">");
    html_escape(out, dep->name);
    buf_printf(out, " %s</span>", health_state_name(db->state));
  }
  fact_close(out);
}

/* A line per s2s_ping remote: its round trip, why it fails (the stanza error, and the
 * server's text), or unknown while the account is not logged in. */
static void put_s2s_pings(struct buf *out, const struct xmpp_node_config *xn,
                          const struct xmpp_login_status *l) {
  for (size_t k = 0; k < xn->n_s2s_ping; k++) {
    const struct xmpp_remote_ping *p = xmpp_login_s2s_find(l, xn->s2s_ping[k]);
    fact_open(out, "S2S ping");
    buf_puts(out, "<span data-remote=\"");
    html_escape(out, xn->s2s_ping[k]);
    buf_puts(out, "\">");
    html_escape(out, xn->s2s_ping[k]);
    buf_puts(out, ": ");
    if (p && p->success == 1) {
      put_seconds_ms(out, p->rtt_s);
    } else if (p && p->success == 0) {
      buf_puts(out, "<span class=\"m\">failing</span>: ");
      html_escape(out, p->reason);
      if (p->text[0]) {
        buf_puts(out, " (");
        html_escape(out, p->text);
        buf_putc(out, ')');
      }
    } else {
      buf_puts(out, "unknown");
    }
    buf_puts(out, "</span>");
    fact_close(out);
  }
}

static void xmpp_card(struct buf *out, const struct snapshot *s, const struct node_health *h,
                      const struct status_page_options *o) {
  const struct target_result *api = s->results[h->target];
  const struct xmpp_node_config *xn = s->config->targets[h->target].xmpp_node;
  const struct target_result *stream = h->stream_target >= 0 ? s->results[h->stream_target] : NULL;
  card_open(out, h, "XMPP");
  buf_puts(out, "API ");
  put_url_host(out, xn->api_url);
  card_status(out, h, o);
  const struct xmpp_status *x = api ? api->data : NULL;
  buf_puts(out, "<dl class=\"facts\">");
  fact_open(out, "Server");
  html_escape(out, xmpp_type_name(xn->type));
  if (x && x->version) {
    buf_putc(out, ' ');
    html_escape(out, x->version);
  }
  fact_close(out);
  if (x && x->up) {
    xmpp_fact(out, xn->type, XMPP_C2S_SESSIONS, "Sessions", x->c2s_sessions);
    xmpp_fact(out, xn->type, XMPP_CLUSTER_C2S_SESSIONS, "Cluster sessions",
              x->cluster_c2s_sessions);
    if (xmpp_provides(xn->type, XMPP_S2S) && !(isnan(x->s2s_in) && isnan(x->s2s_out))) {
      fact_open(out, "S2S in / out");
      put_count(out, x->s2s_in);
      buf_puts(out, " / ");
      put_count(out, x->s2s_out);
      fact_close(out);
    }
    xmpp_fact(out, xn->type, XMPP_REGISTERED_USERS, "Users", x->registered_users);
    xmpp_fact(out, xn->type, XMPP_MUC_ROOMS, "MUC rooms", x->muc_rooms);
    xmpp_fact(out, xn->type, XMPP_UPTIME, "Uptime", x->uptime_seconds);
    if (!isnan(x->cluster_members)) {
      fact_open(out, "Cluster members");
      put_count(out, x->cluster_members);
      fact_close(out);
    }
  }
  const struct target_result *login = xn->login_target >= 0 ? s->results[xn->login_target] : NULL;
  if (login) {
    const struct xmpp_login_status *l = login->data;
    fact_open(out, "Login");
    if (login->success) {
      put_seconds_ms(out, l->login_duration_s);
      buf_puts(out, ", ping ");
      put_seconds_ms(out, l->ping_rtt_s);
    } else {
      buf_printf(out, "<span class=\"n\">failing</span> (%s)", probe_reason_name(login->reason));
    }
    fact_close(out);
    put_s2s_pings(out, xn, l);
  }
  put_dependencies(out, s, xn);
  buf_puts(out, "</dl>\n");
  if (!api)
    buf_puts(out, "<p class=\"note\">Waiting for the first poll.</p>\n");
  else if (!x->up)
    put_last_answer(out, api, o);
  if (xn->c2s_address || xn->s2s_address)
    put_stream(out, xn, stream, o);
  card_close(out, h);
}

static void cluster_open(struct buf *out, const char *name, const char *kind,
                         const char *kind_title) {
  buf_printf(out, "<section class=\"cluster\" data-kind=\"%s\" data-cluster=\"", kind);
  html_escape(out, name);
  buf_puts(out, "\">\n<h2>");
  html_escape(out, name);
  buf_printf(out, "<span>%s cluster</span></h2>\n", kind_title);
}

/* The cluster's failing checks, one line each with its reason. */
static void put_checks(struct buf *out, const struct group_analysis *g) {
  bool mariadb = g->kind == NODE_MARIADB;
  int n = mariadb ? CHECK_COUNT : XMPP_CHECK_COUNT;
  bool any = false;
  for (int c = 0; c < n; c++) {
    const struct check_analysis *check = mariadb ? &g->checks[c] : &g->xmpp_checks[c];
    const char *name =
        mariadb ? pair_check_name((enum pair_check)c) : xmpp_check_name((enum xmpp_check)c);
    if (check->ok != 0)
      continue;
    if (!any)
      buf_puts(out, "<ul class=\"checks\">");
    any = true;
    buf_printf(out,
               "<li class=\"check-failed\" data-check=\"%s\">Check <code>%s</code> "
               "failed: ",
               name, name);
    html_escape(out, check->reason ? check->reason : "");
    buf_puts(out, "</li>\n");
  }
  if (any)
    buf_puts(out, "</ul>\n");
}

static void put_endpoints(struct buf *out, const struct snapshot *s,
                          const struct status_page_options *o) {
  buf_puts(out,
           "<section class=\"endpoints\" id=\"endpoints\"><h2>Endpoints</h2><ul><li><a href=\"");
  html_escape(out, o->telemetry_path);
  buf_puts(out, "\"><code>");
  html_escape(out, o->telemetry_path);
  buf_puts(out, "</code></a>: every node's metrics, for Prometheus</li>"
                "<li><code>/probe?target=NODE</code>: one node probed now, its metrics only</li>"
                "<li><code>/health/NODE</code>: 200 or 503 with the state, for load "
                "balancers (<code>?max_lag=10s</code>)</li>"
                "<li><a href=\"/-/healthy\"><code>/-/healthy</code></a>: replmon itself"
                "</li><li><code>POST /-/reload</code>: re-read the configuration</li></ul>");
  if (s->config->n_targets) {
    buf_puts(out, "<form action=\"/probe\" method=\"get\"><label for=\"target\">Probe</label>"
                  "<select id=\"target\" name=\"target\">");
    for (size_t t = 0; t < s->config->n_targets; t++) {
      const struct target *tg = &s->config->targets[t];
      if (!target_is_node(tg))
        continue;
      buf_puts(out, "<option value=\"");
      html_escape(out, tg->name);
      buf_puts(out, "\">");
      html_escape(out, tg->name);
      buf_puts(out, "</option>");
    }
    buf_puts(out, "</select><button type=\"submit\">Probe now</button></form>");
  }
  buf_puts(out, "</section>\n");
}

int status_page_policy(struct buf *out) {
  unsigned char digest[32];
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, style, strlen(style), digest) != 0)
    return -EIO;
  gnutls_datum_t raw = {digest, sizeof(digest)}, b64 = {NULL, 0};
  if (gnutls_base64_encode2(&raw, &b64) != 0)
    return -ENOMEM;
  /* The form of the endpoints section GETs /probe; nothing is framed, scripted or fetched. */
  buf_puts(out, "default-src 'none'; style-src 'sha256-");
  buf_append(out, (const char *)b64.data, b64.size);
  buf_puts(out, "'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  gnutls_free(b64.data);
  return out->failed ? -ENOMEM : 0;
}

int status_page_render(const struct snapshot *s, const struct status_page_options *o,
                       struct buf *out) {
  const struct analysis *a = s->analysis;
  if (!a)
    return -EINVAL; /* a /probe snapshot has no page */
  size_t counts[HEALTH_COUNT] = {0};
  for (size_t i = 0; i < a->n_nodes; i++)
    counts[a->nodes[i]->state < HEALTH_COUNT ? a->nodes[i]->state : HEALTH_UNKNOWN]++;
  put_head(out, s, counts, a->n_nodes);
  put_top(out, o);
  put_summary(out, s, o, counts, a->n_nodes);

  const struct config *config = s->config;
  for (size_t c = 0; c < a->n_groups; c++) {
    const struct group_analysis *g = a->groups[c];
    bool mariadb = g->kind == NODE_MARIADB;
    cluster_open(out, g->name, node_kind_name(g->kind), mariadb ? "MariaDB" : "XMPP");
    put_checks(out, g);
    buf_puts(out, "<div class=\"grid\">\n");
    for (size_t i = 0; i < g->n_nodes; i++) {
      if (mariadb)
        mariadb_card(out, g, i, o);
      else
        xmpp_card(out, s, &g->health[i], o);
    }
    buf_puts(out, "</div>\n</section>\n");
  }
  put_endpoints(out, s, o);
  buf_puts(out, "</main>\n<footer>replmon ");
  html_escape(out, o->build.version);
  buf_puts(out, " (revision ");
  html_escape(out, o->build.revision);
  buf_puts(out, ")" SEP "polls every ");
  put_setting(out, config->poll_interval_s);
  buf_puts(out, "</footer>\n</body>\n</html>\n");
  return out->failed ? -ENOMEM : 0;
}
