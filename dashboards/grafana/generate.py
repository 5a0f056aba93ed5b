#!/usr/bin/env python3
"""Writes replmon's four Grafana dashboards (the *.json next to this file).

    python3 dashboards/grafana/generate.py           # rewrite the JSON files
    python3 dashboards/grafana/generate.py --check   # exit 1 if a JSON file is not current

The JSON files are what Grafana loads (provisioning or import); this script is where they
are edited, so that every panel gets the same data source, selectors and layout rules. The
rules are grafana/dashboard-linter's (tests/dashboards/lint_dashboards.py checks them):
a `datasource` variable; `job`, `instance` and `cluster` variables (multi, include All as
".+", refreshed on time range change); every panel on `${datasource}` with a title, a
description and a unit; every selector with job=~"$job", instance=~"$instance" (and
cluster=~"$cluster" where the metric has it); rate() over $__rate_interval; not editable.
Python 3 standard library only.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}
JOB_INSTANCE = 'job=~"$job", instance=~"$instance"'
JI_CLUSTER = JOB_INSTANCE + ', cluster=~"$cluster"'
LINK = "{{cluster}} {{node}} ← {{source}}"


def sel(metric, extra="", cluster=True):
    """metric{job=~"$job", instance=~"$instance"[, cluster=~"$cluster"][, extra]}"""
    m = JI_CLUSTER if cluster else JOB_INSTANCE
    if extra:
        m += ", " + extra
    return "%s{%s}" % (metric, m)


def weighted(metric, label, weights, extra=""):
    """One series per label set without `label`, whose value is the weight of the label
    value that is currently 1 (metrics such as mariadb_replica_io_state have one series
    per state, the current one 1): a state timeline can then map the weights to names."""
    parts = []
    for value, weight in weights:
        m = '%s="%s"' % (label, value)
        parts.append("%s * %d" % (sel(metric, (extra + ", " + m) if extra else m), weight))
    return "max without (%s) (\n  %s\n)" % (label, "\n  or ".join(parts))


# ------------------------------------------------------------------------------ building blocks

def target(expr, legend="", ref="A", table=False):
    t = {"datasource": DS, "refId": ref, "expr": expr, "editorMode": "code",
         "legendFormat": legend or "__auto", "range": not table, "instant": table}
    if table:
        t["format"] = "table"
    return t


def value_mappings(pairs, nan=("unknown", "text")):
    """pairs: [(value, text, color)]; NaN and null map to `nan`."""
    opts = {}
    for i, (value, text, color) in enumerate(pairs):
        opts[str(value)] = {"text": text, "color": color, "index": i}
    out = [{"type": "value", "options": opts}]
    if nan:
        out.append({"type": "special", "options": {"match": "nan", "result": {
            "text": nan[0], "color": nan[1], "index": len(pairs)}}})
        out.append({"type": "special", "options": {"match": "null", "result": {
            "text": nan[0], "color": nan[1], "index": len(pairs) + 1}}})
    return out


def thresholds(*steps):
    """steps: color, then (value, color) pairs."""
    out = [{"color": steps[0], "value": None}]
    for value, color in steps[1:]:
        out.append({"color": color, "value": value})
    return {"mode": "absolute", "steps": out}


def node_link():
    return [{"title": "Node detail: ${__field.labels.node}", "targetBlank": False,
             "url": "/d/replmon-node/replmon-node-detail?${datasource:queryparam}&"
                    "${job:queryparam}&${instance:queryparam}&"
                    "var-cluster=${__field.labels.cluster}&var-node=${__field.labels.node}&"
                    "${__url_time_range}"}]


def _base(kind, title, description, targets, unit, defaults, options, links=None):
    d = {"unit": unit}
    d.update(defaults)
    if links:
        d["links"] = links
    return {"type": kind, "title": title, "description": description, "datasource": DS,
            "targets": targets, "fieldConfig": {"defaults": d, "overrides": []},
            "options": options}


def timeseries(title, description, targets, unit, steps=None, min_=None, decimals=None,
               links=None, fill=0):
    defaults = {
        "color": {"mode": "palette-classic"},
        "custom": {"drawStyle": "line", "lineInterpolation": "linear", "lineWidth": 1,
                   "fillOpacity": fill, "showPoints": "never", "spanNulls": False,
                   "axisPlacement": "auto", "axisSoftMin": 0,
                   "thresholdsStyle": {"mode": "line+area" if steps else "off"}},
        "thresholds": steps or thresholds("green"),
        "mappings": [],
    }
    if min_ is not None:
        defaults["min"] = min_
    if decimals is not None:
        defaults["decimals"] = decimals
    options = {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                          "calcs": ["lastNotNull", "max"]},
               "tooltip": {"mode": "multi", "sort": "desc"}}
    return _base("timeseries", title, description, targets, unit, defaults, options, links)


def stat(title, description, targets, unit, mappings=None, steps=None, decimals=None,
         links=None, text_mode="value_and_name"):
    defaults = {"color": {"mode": "thresholds"}, "mappings": mappings or [],
                "thresholds": steps or thresholds("green")}
    if decimals is not None:
        defaults["decimals"] = decimals
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "background", "graphMode": "none", "justifyMode": "auto",
               "orientation": "auto", "textMode": text_mode, "wideLayout": True,
               "showPercentChange": False}
    return _base("stat", title, description, targets, unit, defaults, options, links)


def state_timeline(title, description, targets, mappings, unit="none", links=None):
    defaults = {"color": {"mode": "thresholds"}, "mappings": mappings,
                "thresholds": thresholds("text"),
                "custom": {"fillOpacity": 80, "lineWidth": 0}}
    options = {"showValue": "never", "mergeValues": True, "alignValue": "left",
               "rowHeight": 0.85, "legend": {"showLegend": False, "displayMode": "list",
                                             "placement": "bottom"},
               "tooltip": {"mode": "single", "sort": "none"}}
    return _base("state-timeline", title, description, targets, unit, defaults, options,
                 links)


def table(title, description, targets, unit, hide=(), rename=None):
    defaults = {"color": {"mode": "thresholds"}, "mappings": [],
                "thresholds": thresholds("green"),
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}}}
    options = {"showHeader": True, "cellHeight": "sm",
               "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    p = _base("table", title, description, targets, unit, defaults, options)
    exclude = {name: True for name in ("Time", "__name__", "job") + tuple(hide)}
    p["transformations"] = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": exclude, "indexByName": {},
                                       "renameByName": rename or {}}},
    ]
    return p


class Layout:
    """Places panels left to right in rows of 24 columns; row() starts a new row."""

    def __init__(self):
        self.panels, self.x, self.y, self.row_h = [], 0, 0, 0

    def add(self, panel, w, h):
        if self.x + w > 24:
            self.row()
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)

    def row(self):
        self.y += self.row_h
        self.x, self.row_h = 0, 0


# ------------------------------------------------------------------------------ variables

def datasource_var():
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "includeAll": False,
            "multi": False, "options": [], "refresh": 1, "regex": "", "skipUrlSync": False}


def query_var(name, label, query, multi=True):
    v = {"name": name, "label": label, "type": "query", "datasource": DS, "query": query,
         "definition": query, "refresh": 2, "sort": 1, "regex": "", "hide": 0,
         "options": [], "skipUrlSync": False, "multi": multi, "includeAll": multi}
    if multi:
        v["allValue"] = ".+"
        v["current"] = {"selected": True, "text": "All", "value": "$__all"}
    else:
        v["current"] = {}
    return v


def variables(cluster_metric, extra=()):
    return [datasource_var(),
            query_var("job", "Job", "label_values(replmon_build_info, job)"),
            query_var("instance", "Instance",
                      'label_values(replmon_build_info{job=~"$job"}, instance)'),
            query_var("cluster", "Cluster", "label_values(%s{%s}, cluster)"
                      % (cluster_metric, JOB_INSTANCE))] + list(extra)


def dashboard(uid, title, description, tags, var_list, layout):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["replmon"] + tags,
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "refresh": "30s",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": [{"title": "replmon dashboards", "type": "dashboards", "tags": ["replmon"],
                   "asDropdown": True, "includeVars": True, "keepTime": True,
                   "icon": "external link", "targetBlank": False, "tooltip": "", "url": ""}],
        "templating": {"list": var_list},
        "panels": layout.panels,
    }


# ------------------------------------------------------------------------------ shared pieces

UP_MAP = value_mappings([(0, "DOWN", "red"), (1, "UP", "green")])
RUNNING_MAP = value_mappings([(0, "stopped", "red"), (1, "running", "green")])
IO_WEIGHTS = [("no", 0), ("connecting", 1), ("preparing", 2), ("yes", 3)]
IO_MAP = value_mappings([(0, "No", "red"), (1, "Connecting", "orange"),
                         (2, "Preparing", "yellow"), (3, "Yes", "green")])
ERROR_WEIGHTS = [("duplicate_key", 1), ("row_not_found", 2), ("connect", 3), ("auth", 4),
                 ("other", 5), ("binlog_purged", 6)]
ERROR_MAP = value_mappings([(0, "no error", "green"), (1, "duplicate key (1062)", "red"),
                            (2, "row not found (1032)", "red"),
                            (3, "connect (2003/2013)", "orange"), (4, "auth (1045)", "purple"),
                            (5, "other", "yellow"), (6, "binlog purged (1236)", "dark-red")])
STATE_WEIGHTS = [("ok", 0), ("warning", 1), ("critical", 2), ("unknown", 3)]
STATE_MAP = value_mappings([(0, "ok", "green"), (1, "warning", "orange"),
                            (2, "critical", "red"), (3, "unknown", "text")])
READ_ONLY_MAP = value_mappings([(0, "read-write", "blue"), (1, "read-only", "purple")])
LAG_STEPS = thresholds("green", (5, "orange"), (30, "red"))


# ------------------------------------------------------------------------------ dashboards

def overview():
    L = Layout()
    L.add(stat("MariaDB nodes up",
               "mariadb_up per node: UP when replmon's last poll of the node connected and "
               "every statement succeeded. DOWN also when a missing grant leaves replmon "
               "blind (see the replmon dashboard for the reason).",
               [target(sel("mariadb_up"), "{{cluster}} {{node}}")], "none", UP_MAP,
               thresholds("text"), links=node_link()), 6, 5)
    L.add(stat("Expected links up",
               "mariadb_replica_link_up of every expected replication link (node ← source): "
               "UP when the link exists with both threads running; DOWN when it is broken "
               "or missing (RESET SLAVE ALL).",
               [target(sel("mariadb_replica_link_up") + " and on (job, instance, cluster, "
                       "node, source) (" + sel("mariadb_replica_link_expected") + " == 1)",
                       LINK)], "none", UP_MAP, thresholds("text"), links=node_link()), 6, 5)
    L.add(stat("Stalled links",
               "mariadb_replica_stalled: STALLED when the IO thread says Yes but neither "
               "heartbeats nor GTIDs have moved for stall_after while the source holds "
               "transactions the node has not received.",
               [target(sel("mariadb_replica_stalled"), LINK)], "none",
               value_mappings([(0, "flowing", "green"), (1, "STALLED", "red")]),
               thresholds("text"), links=node_link()), 6, 5)
    L.add(stat("Failing pair checks",
               "How many of the cluster's pair checks (mariadb_cluster_check_ok) fail now; "
               "the \"Pair checks\" panel below says which.",
               [target("sum by (cluster) (1 - %s)" % sel("mariadb_cluster_check_ok"),
                       "{{cluster}}")], "none", None,
               thresholds("green", (1, "red")), decimals=0), 6, 5)
    L.row()
    L.add(state_timeline("IO thread state per link",
                         "mariadb_replica_io_state: the state of each replication "
                         "connection's IO thread (Slave_IO_Running): Yes, Connecting "
                         "(the source is unreachable), Preparing, No (stopped).",
                         [target(weighted("mariadb_replica_io_state", "state", IO_WEIGHTS),
                                 LINK + " {{connection}}")], IO_MAP, links=node_link()), 12, 8)
    L.add(state_timeline("SQL thread per link",
                         "mariadb_replica_sql_running: whether each replication "
                         "connection's SQL thread (Slave_SQL_Running) applies changes.",
                         [target(sel("mariadb_replica_sql_running"),
                                 LINK + " {{connection}}")], RUNNING_MAP, links=node_link()),
          12, 8)
    L.row()
    L.add(timeseries("Heartbeat lag per link",
                     "mariadb_heartbeat_lag_seconds: how far the node trails the source, "
                     "from replmon's heartbeats: 0 on a link that keeps up (less than one "
                     "poll interval behind), else within half a poll interval of the delay. "
                     "Keeps growing when the source stops answering; NaN when the source is "
                     "read-only. A replica delayed on purpose (MASTER_DELAY) reads its delay "
                     "here: the alerts judge only the lag beyond it (the panel below).",
                     [target(sel("mariadb_heartbeat_lag_seconds"), LINK)], "s", LAG_STEPS,
                     min_=0, links=node_link()), 12, 8)
    L.add(timeseries("Seconds_Behind_Master per link",
                     "mariadb_replica_seconds_behind_master as MariaDB reports it: NULL "
                     "(a gap) when a thread stops, 0 after a restart, and blind to a frozen "
                     "source. Compare with the heartbeat lag.",
                     [target(sel("mariadb_replica_seconds_behind_master"),
                             LINK + " {{connection}}")], "s", LAG_STEPS, min_=0,
                     links=node_link()), 12, 8)
    L.row()
    L.add(timeseries("Replication lag as the alerts see it",
                     "cluster_node_source:mariadb_replica_lag_seconds (recording rule), from "
                     "mariadb_replica_lag_beyond_delay_seconds: the heartbeat lag where there "
                     "is one, else Seconds_Behind_Master, less the link's MASTER_DELAY (0 for "
                     "a delayed replica that keeps its delay), as replmon's health judges it. "
                     "MariaDBHeartbeatLagWarning fires at 5 s, MariaDBHeartbeatLagCritical "
                     "at 30 s, each after 2 minutes.",
                     [target(sel("cluster_node_source:mariadb_replica_lag_seconds"), LINK)],
                     "s", LAG_STEPS, min_=0, links=node_link()), 12, 8)
    L.add(timeseries("Transactions behind per link",
                     "mariadb_replica_transactions_behind: the source's binlog sequence "
                     "number in its own GTID domain minus what the node has applied in that "
                     "domain. Grows while a thread is stopped, whatever "
                     "Seconds_Behind_Master says.",
                     [target(sel("mariadb_replica_transactions_behind"),
                             LINK + " (domain {{domain}})")], "short", min_=0, decimals=0,
                     links=node_link()), 12, 8)
    L.row()
    L.add(state_timeline("Replication error class per link",
                         "mariadb_replica_error_class: the class of each link's current "
                         "replication error. Duplicate key and row not found are write "
                         "conflicts between the two writers (MariaDBWriteConflict).",
                         [target(weighted("mariadb_replica_error_class", "class",
                                          ERROR_WEIGHTS), LINK)], ERROR_MAP,
                         links=node_link()), 12, 8)
    L.add(state_timeline("Replication links up",
                         "mariadb_replica_link_up of every link, expected or not: up when "
                         "the link exists with both threads running, down when it is broken "
                         "or missing.",
                         [target(sel("mariadb_replica_link_up"), LINK)], UP_MAP,
                         links=node_link()), 12, 8)
    L.row()
    L.add(state_timeline("Pair checks",
                         "mariadb_cluster_check_ok per check: server_id_unique, "
                         "gtid_domain_per_writer, auto_increment_safe, log_slave_updates_on, "
                         "binlog_format_row, writers_as_intended. README.md, \"Pair "
                         "checks\", says what to do when one fails.",
                         [target(sel("mariadb_cluster_check_ok"), "{{cluster}} {{check}}")],
                         value_mappings([(0, "FAIL", "red"), (1, "ok", "green")])), 12, 8)
    L.add(state_timeline("Read-only per node",
                         "mariadb_read_only (@@read_only) per node. In multi-master mode "
                         "every node should be read-write; in active-passive exactly one.",
                         [target(sel("mariadb_read_only"), "{{cluster}} {{node}}")],
                         READ_ONLY_MAP, links=node_link()), 12, 8)
    L.row()
    L.add(state_timeline("Semi-sync per writer",
                         "mariadb_semisync_master_active (Rpl_semi_sync_master_status): "
                         "waiting while the node's commits wait for a replica's "
                         "acknowledgement; async when semi-sync is off or fell back after "
                         "rpl_semi_sync_master_timeout. On a cluster with semisync: "
                         "required, MariaDBSemiSyncFallback fires after a minute of async.",
                         [target(sel("mariadb_semisync_master_active"),
                                 "{{cluster}} {{node}}")],
                         value_mappings([(0, "async", "orange"), (1, "waiting", "green")]),
                         links=node_link()), 12, 8)
    L.add(timeseries("Commits without acknowledgement",
                     "rate(mariadb_semisync_master_unacknowledged_transactions_total) "
                     "(Rpl_semi_sync_master_no_tx): commits a semi-sync writer made "
                     "without a replica's acknowledgement, which a failover may lose. "
                     "Zero on a healthy semi-sync pair.",
                     [target("rate(%s[$__rate_interval])"
                             % sel("mariadb_semisync_master_unacknowledged_transactions_total"),
                             "{{cluster}} {{node}}")], "cps", min_=0, links=node_link()),
          12, 8)
    L.add(timeseries("Binlog horizon of broken links",
                     "mariadb_replica_binlog_horizon_seconds: how long a broken link can "
                     "stay broken before its source purges the binlogs the node needs "
                     "(then error 1236 and a rebuild). Empty while every link is healthy "
                     "(NaN) or the source never purges (+Inf). "
                     "MariaDBBinlogHorizonHalfSpent fires at half the source's retention.",
                     [target(sel("mariadb_replica_binlog_horizon_seconds"), LINK)], "s",
                     thresholds("red", (3600, "orange"), (86400, "green")), min_=0,
                     links=node_link()), 12, 8)
    return dashboard(
        "replmon-overview", "replmon / Replication overview",
        "Every MariaDB cluster and replication link replmon watches: threads, lag, "
        "errors, pair checks.", ["mariadb"], variables("mariadb_up"), L)


def node_detail():
    N = 'node="$node"'
    L = Layout()
    node_var = query_var("node", "Node", "label_values(mariadb_up{%s}, node)" % JI_CLUSTER,
                         multi=False)
    L.add(stat("Up", "mariadb_up: whether replmon's last poll of $node connected and every "
               "statement succeeded.", [target(sel("mariadb_up", N), "{{node}}")], "none",
               UP_MAP, thresholds("text"), text_mode="value"), 4, 4)
    L.add(stat("Health", "replmon_target_state: replmon's own verdict on $node (the same "
               "as /health/$node): critical when it does not answer, an expected link is "
               "broken or the lag reaches lag_critical; warning at lag_warning or a failing "
               "pair check.", [target(weighted("replmon_target_state", "state",
                                               STATE_WEIGHTS, N), "{{node}}")], "none",
               STATE_MAP, thresholds("text"), text_mode="value"), 4, 4)
    L.add(stat("Read-only", "mariadb_read_only (@@read_only) of $node.",
               [target(sel("mariadb_read_only", N), "{{node}}")], "none", READ_ONLY_MAP,
               thresholds("text"), text_mode="value"), 4, 4)
    L.add(stat("Server ID", "mariadb_server_id (@@server_id) of $node; every node of a "
               "cluster needs its own.", [target(sel("mariadb_server_id", N), "{{node}}")],
               "none", None, thresholds("blue"), decimals=0, text_mode="value"), 4, 4)
    L.add(stat("Probe duration", "replmon_probe_duration_seconds: how long replmon's last "
               "poll of $node took (its three statements).",
               [target(sel("replmon_probe_duration_seconds", 'kind="mariadb", ' + N),
                       "{{node}}")], "s", None, thresholds("green", (0.5, "orange"),
                                                           (2, "red")), text_mode="value"),
          4, 4)
    L.add(stat("Since the last good poll", "time() - replmon_last_success_timestamp_seconds: "
               "how long ago replmon last polled $node successfully (empty if never).",
               [target("time() - (%s > 0)" % sel("replmon_last_success_timestamp_seconds",
                                                 'kind="mariadb", ' + N), "{{node}}")],
               "s", None, thresholds("green", (5, "orange"), (60, "red")), decimals=1,
               text_mode="value"), 4, 4)
    L.row()
    L.add(state_timeline("IO thread of the links into $node",
                         "mariadb_replica_io_state of each replication connection on $node: "
                         "Yes, Connecting (the source is unreachable), Preparing, No.",
                         [target(weighted("mariadb_replica_io_state", "state", IO_WEIGHTS, N),
                                 "from {{source}} {{connection}}")], IO_MAP), 12, 6)
    L.add(state_timeline("SQL thread of the links into $node",
                         "mariadb_replica_sql_running of each replication connection on "
                         "$node.",
                         [target(sel("mariadb_replica_sql_running", N),
                                 "from {{source}} {{connection}}")], RUNNING_MAP), 12, 6)
    L.row()
    L.add(timeseries("Heartbeat lag into $node",
                     "mariadb_heartbeat_lag_seconds of the links on which $node replicates "
                     "(one per source), and mariadb_replica_lag_beyond_delay_seconds: the lag "
                     "less the link's MASTER_DELAY, which replmon's health and the alerts "
                     "judge (the same line when there is no delay).",
                     [target(sel("mariadb_heartbeat_lag_seconds", N), "from {{source}}"),
                      target(sel("mariadb_replica_lag_beyond_delay_seconds", N),
                             "beyond delay, from {{source}}", ref="B")],
                     "s", LAG_STEPS, min_=0), 12, 8)
    L.add(timeseries("Heartbeat lag of the nodes reading from $node",
                     "mariadb_heartbeat_lag_seconds of the links whose source is $node: how "
                     "far behind $node the other nodes are.",
                     [target(sel("mariadb_heartbeat_lag_seconds", 'source="$node"'),
                             "{{node}}")], "s", LAG_STEPS, min_=0), 12, 8)
    L.row()
    L.add(timeseries("Seconds_Behind_Master and SQL_Delay on $node",
                     "mariadb_replica_seconds_behind_master (NULL, a gap, when a thread "
                     "stops) and mariadb_replica_sql_delay_seconds (MASTER_DELAY) of each "
                     "replication connection on $node.",
                     [target(sel("mariadb_replica_seconds_behind_master", N),
                             "behind {{source}} {{connection}}"),
                      target(sel("mariadb_replica_sql_delay_seconds", N),
                             "SQL_Delay {{source}} {{connection}}", "B")], "s", LAG_STEPS,
                     min_=0), 12, 8)
    L.add(timeseries("Transactions behind on $node",
                     "mariadb_replica_transactions_behind: per source and GTID domain, the "
                     "transactions the source has binlogged that $node has not applied.",
                     [target(sel("mariadb_replica_transactions_behind", N),
                             "from {{source}} (domain {{domain}})")], "short", min_=0,
                     decimals=0), 12, 8)
    L.row()
    L.add(timeseries("GTID sequence numbers on $node",
                     "mariadb_gtid_binlog_seq (what $node has binlogged) and "
                     "mariadb_gtid_slave_seq (what it has applied from replication), per "
                     "GTID domain.",
                     [target(sel("mariadb_gtid_binlog_seq", N), "binlog, domain {{domain}}"),
                      target(sel("mariadb_gtid_slave_seq", N), "applied, domain {{domain}}",
                             "B")], "short", decimals=0), 12, 8)
    L.add(timeseries("Relay log space on $node",
                     "mariadb_replica_relay_log_space_bytes: the relay logs of each "
                     "connection. Grows while the SQL thread is stopped or slow.",
                     [target(sel("mariadb_replica_relay_log_space_bytes", N),
                             "from {{source}} {{connection}}")], "bytes", min_=0), 12, 8)
    L.row()
    L.add(timeseries("Retried transactions on $node",
                     "rate(mariadb_replica_retried_transactions_total): transactions the "
                     "SQL thread had to retry (deadlocks, lock wait timeouts).",
                     [target("rate(%s[$__rate_interval])"
                             % sel("mariadb_replica_retried_transactions_total", N),
                             "from {{source}} {{connection}}")], "cps", min_=0), 8, 8)
    L.add(timeseries("Received heartbeats on $node",
                     "rate(mariadb_replica_received_heartbeats_total): replication "
                     "heartbeats the IO thread receives from an idle source. Zero while the "
                     "IO thread says Yes means a dead connection (see Stalled).",
                     [target("rate(%s[$__rate_interval])"
                             % sel("mariadb_replica_received_heartbeats_total", N),
                             "from {{source}} {{connection}}")], "cps", min_=0), 8, 8)
    L.add(timeseries("Probe errors of $node by reason",
                     "rate(replmon_probe_errors_total) of the MariaDB probe of $node by "
                     "reason: connect, auth, timeout, privilege, query.",
                     [target("rate(%s[$__rate_interval])"
                             % sel("replmon_probe_errors_total", 'kind="mariadb", ' + N),
                             "{{reason}}")], "cps", min_=0), 8, 8)
    L.row()
    L.add(state_timeline("Replication error class on $node",
                         "mariadb_replica_error_class of each link into $node.",
                         [target(weighted("mariadb_replica_error_class", "class",
                                          ERROR_WEIGHTS, N), "from {{source}}")], ERROR_MAP),
          12, 6)
    L.add(table("Last replication errors on $node",
                "Last_IO_Errno and Last_SQL_Errno of each replication connection on $node "
                "(0: none). The error texts are in replmon's log and in SHOW ALL SLAVES "
                "STATUS.",
                [target(sel("mariadb_replica_last_io_errno", N), ref="A", table=True),
                 target(sel("mariadb_replica_last_sql_errno", N), ref="B", table=True)],
                "none", hide=("instance",),
                rename={"Value #A": "Last_IO_Errno", "Value #B": "Last_SQL_Errno"}), 12, 6)
    return dashboard(
        "replmon-node", "replmon / Node detail",
        "One MariaDB node (the `node` variable): its health, the replication links into "
        "it and out of it, GTID positions and replmon's probe of it.", ["mariadb"],
        variables("mariadb_up", [node_var]), L)


PAIR = "{{cluster}} {{from}} → {{to}}"
PORT = "{{cluster}} {{node}} :{{port}}"
S2S = "{{cluster}} {{node}} → {{remote}}"


def xmpp():
    L = Layout()
    L.add(stat("XMPP servers up",
               "xmpp_up: UP when the server's HTTP API (ejabberd mod_http_api, Prosody "
               "openmetrics, Openfire REST API) answered replmon's last poll.",
               [target(sel("xmpp_up"), "{{cluster}} {{node}}")], "none", UP_MAP,
               thresholds("text")), 6, 5)
    L.add(stat("Client stream probe",
               "xmpp_stream_probe_success: whether replmon could open a client stream on "
               "the c2s port and read the stream features (and complete STARTTLS when "
               "offered).",
               [target(sel("xmpp_stream_probe_success"), "{{cluster}} {{node}}")], "none",
               value_mappings([(0, "FAILING", "red"), (1, "ok", "green")]),
               thresholds("text")), 6, 5)
    L.add(stat("Logged-in probe",
               "xmpp_login_success: whether replmon's monitoring account (probe_account) is "
               "logged in and its last XEP-0199 ping was answered, as a user's client would "
               "be. XMPPLoginFailing fires after 2 minutes of FAILING; the reason is in "
               "replmon_probe_errors_total{kind=\"xmpp_login\"} (replmon dashboard).",
               [target(sel("xmpp_login_success"), "{{cluster}} {{node}}")], "none",
               value_mappings([(0, "FAILING", "red"), (1, "logged in", "green")]),
               thresholds("text")), 6, 5)
    L.add(stat("Federation (s2s ping)",
               "xmpp_s2s_ping_success: whether the last XEP-0199 ping the monitoring "
               "account sent to each remote domain of its s2s_ping was answered, which the "
               "server carries over s2s. FAILING: an error (remote-server-not-found, "
               "remote-server-timeout, ...) or no answer, named in the replmon log and on "
               "its status page; unknown while the account is not logged in. "
               "XMPPS2SPingFailing fires after 5 minutes of FAILING.",
               [target(sel("xmpp_s2s_ping_success"), S2S)], "none",
               value_mappings([(0, "FAILING", "red"), (1, "answered", "green")]),
               thresholds("text")), 6, 5)
    L.row()
    L.add(stat("Certificate verified",
               "xmpp_tls_cert_verified per node and port (c2s, direct TLS, s2s): whether "
               "the certificate the server presents chains to a trusted CA (the node's "
               "tls.ca_file, else the system's store) and names the XMPP domain. NOT "
               "VERIFIED: expired, not yet valid, unknown issuer, self-signed or wrong name, "
               "as the replmon log and status page say; unknown without a TLS handshake. "
               "XMPPCertificateNotVerified fires after 10 minutes.",
               [target(sel("xmpp_tls_cert_verified"), PORT)], "none",
               value_mappings([(0, "NOT VERIFIED", "red"), (1, "verified", "green")]),
               thresholds("text")), 12, 5)
    L.add(stat("Certificate days left",
               "cluster_node_port:xmpp_tls_cert_days_left (recording rule): days until the "
               "earliest-expiring certificate of the chain each node presents on each port "
               "expires (probe_ssl_earliest_cert_expiry, blackbox_exporter's metric). "
               "XMPPCertificateExpiringSoon fires under 14 days.",
               [target(sel("cluster_node_port:xmpp_tls_cert_days_left"), PORT)],
               "none", None, thresholds("red", (7, "orange"), (14, "green")), decimals=1),
          12, 5)
    L.row()
    L.add(stat("Message delivery across the cluster",
               "xmpp_delivery_success: whether the last message replmon's monitoring "
               "account on node `from` sent to the one on node `to` arrived (both "
               "directions of each cluster with delivery probes). XMPPDeliveryFailing "
               "fires after 2 minutes of LOST.",
               [target(sel("xmpp_delivery_success"), PAIR)], "none",
               value_mappings([(0, "LOST", "red"), (1, "delivered", "green")]),
               thresholds("text")), 12, 5)
    L.add(stat("ejabberd cluster members agree",
               "xmpp_cluster_check_ok{check=\"members_agree\"} of each cluster marked "
               "clustered: whether every ejabberd node lists the same, complete set of "
               "members. SPLIT when a node stopped or left, or the cluster split in parts "
               "that serve their own users. XMPPClusterSplit fires after a minute.",
               [target(sel("xmpp_cluster_check_ok", 'check="members_agree"'), "{{cluster}}")],
               "none", value_mappings([(0, "SPLIT", "red"), (1, "agree", "green")]),
               thresholds("text")), 12, 5)
    L.row()
    L.add(timeseries("Login duration",
                     "xmpp_login_duration_seconds: how long the last login of the monitoring "
                     "account took: TCP connect, STARTTLS, SASL and resource binding. A "
                     "fresh login is made every relogin_interval; a slow authentication "
                     "backend (often the database) shows here first.",
                     [target(sel("xmpp_login_duration_seconds"), "{{cluster}} {{node}}")],
                     "s", min_=0), 8, 8)
    L.add(timeseries("Ping round trip",
                     "xmpp_ping_rtt_seconds: round trip of the XEP-0199 ping the monitoring "
                     "account sends to its server every poll (a gap while it is not "
                     "answered).",
                     [target(sel("xmpp_ping_rtt_seconds"), "{{cluster}} {{node}}")], "s",
                     min_=0), 8, 8)
    L.add(timeseries("Message delivery time",
                     "xmpp_delivery_seconds: how long the last message from the monitoring "
                     "account on `from` took to reach the one on `to` (a gap when it was "
                     "lost). XMPPDeliverySlow fires after 5 minutes over 2 s.",
                     [target(sel("xmpp_delivery_seconds"), PAIR)], "s",
                     thresholds("green", (2, "orange")), min_=0), 8, 8)
    L.row()
    L.add(timeseries("s2s ping round trip",
                     "xmpp_s2s_ping_rtt_seconds: round trip of the last ping from the "
                     "monitoring account to each remote domain, over s2s (a gap when it "
                     "failed). The first ping after a connection was lost includes setting "
                     "up a new one (DNS, TLS, authentication).",
                     [target(sel("xmpp_s2s_ping_rtt_seconds"), S2S)], "s", min_=0), 12, 8)
    L.add(timeseries("Server-to-server connections",
                     "xmpp_s2s_connections by direction: authenticated s2s connections in "
                     "and out of each node (ejabberd's incoming/outgoing_s2s_number; "
                     "Prosody's mod_s2s connections, without the streams still "
                     "negotiating). A federation with one remote domain usually has one "
                     "each way.",
                     [target(sel("xmpp_s2s_connections"), "{{cluster}} {{node}} {{direction}}")],
                     "short", min_=0, decimals=0), 12, 8)
    L.row()
    L.add(timeseries("Messages lost",
                     "rate(xmpp_delivery_lost_total): messages between the monitoring "
                     "accounts that never arrived, per second, per direction.",
                     [target("rate(%s[$__rate_interval])" % sel("xmpp_delivery_lost_total"),
                             PAIR)], "cps", min_=0), 8, 8)
    L.add(timeseries("ejabberd cluster members per node",
                     "xmpp_cluster_members: how many nodes each ejabberd node lists in its "
                     "own cluster (list_cluster). A node that stopped drops out of the "
                     "others' lists; after a split each part lists only its own nodes.",
                     [target(sel("xmpp_cluster_members"), "{{cluster}} {{node}}")], "short",
                     min_=0, decimals=0), 8, 8)
    L.add(table("Databases behind the XMPP nodes",
                "xmpp_node_database_info: the MariaDB nodes each XMPP node keeps its data on "
                "(depends_on). While one is down, the node's logins and the messages to and "
                "from it fail, and MariaDBNodeDown inhibits their alerts.",
                [target(sel("xmpp_node_database_info"), table=True)], "none",
                hide=("Value", "instance"),
                rename={"database_cluster": "database cluster"}), 8, 8)
    L.row()
    L.add(timeseries("Client sessions per node",
                     "xmpp_c2s_sessions: client sessions (resources) connected to each "
                     "node.",
                     [target(sel("xmpp_c2s_sessions"), "{{cluster}} {{node}}")], "short",
                     min_=0, decimals=0), 12, 8)
    L.add(timeseries("Client sessions per cluster",
                     "cluster:xmpp_c2s_sessions:sum (recording rule): xmpp_c2s_sessions "
                     "summed by cluster, nodes that cannot be polled left out. "
                     "XMPPSessionsDroppedSharply compares it with 15 minutes earlier.",
                     [target("max by (cluster) (%s)" % sel("cluster:xmpp_c2s_sessions:sum"),
                             "{{cluster}}")], "short", min_=0, decimals=0), 12, 8)
    L.row()
    L.add(timeseries("Registered users",
                     "xmpp_registered_users: registered accounts (ejabberd only).",
                     [target(sel("xmpp_registered_users"), "{{cluster}} {{node}}")], "short",
                     min_=0, decimals=0), 12, 8)
    L.add(timeseries("MUC rooms",
                     "xmpp_muc_rooms: multi-user chat rooms online (ejabberd's "
                     "muc_online_rooms; Prosody's rooms in memory, mod_muc's live_room: a "
                     "persistent room without occupants may be evicted and not counted).",
                     [target(sel("xmpp_muc_rooms"), "{{cluster}} {{node}}")], "short",
                     min_=0, decimals=0), 12, 8)
    L.row()
    L.add(timeseries("Client stream probe duration",
                     "xmpp_stream_probe_duration_seconds: how long replmon's c2s stream "
                     "probe took, STARTTLS handshake included.",
                     [target(sel("xmpp_stream_probe_duration_seconds"), "{{cluster}} {{node}}")],
                     "s", min_=0), 12, 8)
    L.add(state_timeline("Client stream probe over time",
                         "xmpp_stream_probe_success over time.",
                         [target(sel("xmpp_stream_probe_success"), "{{cluster}} {{node}}")],
                         value_mappings([(0, "failing", "red"), (1, "ok", "green")])), 12, 8)
    L.row()
    L.add(table("XMPP servers",
                "xmpp_server_info: type and version of each server (version from "
                "ejabberd's status command, empty for the others).",
                [target(sel("xmpp_server_info"), table=True)], "none",
                hide=("Value",)), 24, 6)
    return dashboard(
        "replmon-xmpp", "replmon / XMPP",
        "The XMPP servers replmon watches (ejabberd, Prosody, Openfire): API, client stream "
        "and logged-in probes, delivery across the cluster, federation (s2s), ejabberd "
        "cluster membership, the databases behind the nodes, sessions, certificates.",
        ["xmpp"],
        variables("xmpp_up"), L)


def self_dashboard():
    L = Layout()
    L.add(stat("Probes succeeding",
               "replmon_probe_success per probe (kind mariadb, xmpp for the HTTP API, "
               "xmpp_stream for the c2s stream probe).",
               [target(sel("replmon_probe_success"), "{{kind}} {{node}}")], "none",
               value_mappings([(0, "FAILING", "red"), (1, "ok", "green")]),
               thresholds("text")), 14, 5)
    L.add(table("replmon version",
                "replmon_build_info: version and revision of each replmon instance.",
                [target(sel("replmon_build_info", cluster=False), table=True)], "none",
                hide=("Value",)), 10, 5)
    L.row()
    L.add(timeseries("Probe duration",
                     "replmon_probe_duration_seconds: how long each target's last probe "
                     "took. A frozen node shows connect_timeout + query_timeout.",
                     [target(sel("replmon_probe_duration_seconds"), "{{kind}} {{node}}")],
                     "s", min_=0), 12, 8)
    L.add(timeseries("Probe errors per second by reason",
                     "rate(replmon_probe_errors_total) by kind, node and reason (MariaDB: "
                     "connect, auth, timeout, privilege, query; XMPP API: connect, timeout, "
                     "auth, permission, http, parse; stream: connect, timeout, stream, tls, "
                     "parse). The reason's text is in replmon's log.",
                     [target("sum by (job, instance, kind, cluster, node, reason) "
                             "(rate(%s[$__rate_interval]))" % sel("replmon_probe_errors_total"),
                             "{{kind}} {{node}} {{reason}}")], "cps", min_=0), 12, 8)
    L.row()
    L.add(timeseries("Seconds since the last successful probe",
                     "time() - replmon_last_success_timestamp_seconds: the age of the data "
                     "replmon serves for each target (targets never probed successfully "
                     "are left out). Stays near the poll interval while all is well.",
                     [target("time() - (%s > 0)" % sel("replmon_last_success_timestamp_seconds"),
                             "{{kind}} {{node}}")], "s", min_=0), 12, 8)
    L.add(state_timeline("Health state per node",
                         "replmon_target_state: replmon's verdict on each node (the same as "
                         "/health/<node>): ok, warning, critical, unknown.",
                         [target(weighted("replmon_target_state", "state", STATE_WEIGHTS),
                                 "{{cluster}} {{node}}")], STATE_MAP), 12, 8)
    return dashboard(
        "replmon-self", "replmon / replmon",
        "replmon itself: whether its probes succeed, how long they take, why they fail, how "
        "fresh its data is.", ["replmon-self"], variables("replmon_probe_success"), L)


DASHBOARDS = {
    "replication-overview.json": overview,
    "node-detail.json": node_detail,
    "xmpp.json": xmpp,
    "replmon.json": self_dashboard,
}


def render(fn):
    return json.dumps(fn(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    check = "--check" in argv
    stale = []
    for name, fn in DASHBOARDS.items():
        path = os.path.join(HERE, name)
        text = render(fn)
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        if check:
            stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("wrote " + path)
    if stale:
        print("not generated from generate.py (run python3 dashboards/grafana/generate.py): "
              + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
