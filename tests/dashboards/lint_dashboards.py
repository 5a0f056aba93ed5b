#!/usr/bin/env python3
"""Lints Grafana dashboards with grafana/dashboard-linter's rules, plus structure checks.

    python3 tests/dashboards/lint_dashboards.py [FILE.json ...]

Without arguments it lints dashboards/grafana/*.json. Prints one line per problem,
`FILE: [panel N "TITLE": [target R:]] RULE: message`, then a summary line, and exits 0
when there is none, 1 when there are problems, 2 when a file cannot be read at all.

Rules (names follow dashboard-linter where it has one):
  dashboard-json            the file is a JSON object
  no-inputs                 no `__inputs` and no ${DS_...}: provisioning cannot fill them
  uneditable-dashboard      `editable: false`
  dashboard-uid             a fixed uid ([A-Za-z0-9_-], at most 40), unique across files
  dashboard-title           a title, unique across files
  schema-version            `schemaVersion` 39 or later
  template-datasource-rule  a variable `datasource` of type datasource, query "prometheus"
  template-job-rule, template-instance-rule, template-cluster-rule
                            query variables on ${datasource}, multi, include All with
                            allValue ".+", labelled Job / Instance / Cluster
  template-on-time-change-reload   every query variable has `refresh: 2`
  template-query-rule       label_values(selector, label) with valid PromQL, a metric replmon
                            exports and one of its labels
  template-unused           every variable but `datasource` is used
  template-unique           no variable defined twice
  panel-type                only timeseries, stat, table and state-timeline panels
  panel-id                  an integer id, unique in the dashboard
  panel-title-description-rule   a title and a description
  panel-datasource-rule     the panel and each target on ${datasource}
  panel-units-rule          fieldConfig.defaults.unit is one of Grafana's units
  panel-no-targets-rule     at least one target
  panel-gridpos             x, y, w, h integers inside the 24 columns
  panel-overlap             no two panels share a grid cell
  target-refid              a refId, unique in the panel
  target-promql-rule        the expression parses (tests/dashboards/promql.py)
  target-job-rule, target-instance-rule   every selector has job=~"$job" and
                            instance=~"$instance"
  target-cluster-rule       every selector of a metric with a `cluster` label has
                            cluster=~"$cluster"
  target-rate-interval-rule rate(), irate() and increase() over [$__rate_interval]
  target-counter-agg-rule   a *_total counter only inside rate(), irate() or increase()
  target-known-metric       a metric replmon exports (README.md) or a recording rule of
                            dashboards/prometheus/replmon.rules.yml, with its own labels
  target-variables          every $variable is defined in the dashboard or is Grafana's
  rules-consistency         the recording rules known here are those of the rules file
Python 3 standard library only.
"""

import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import promql  # noqa: E402

DEFAULT_GLOB = os.path.join(REPO, "dashboards", "grafana", "*.json")
RULES_FILE = os.path.join(REPO, "dashboards", "prometheus", "replmon.rules.yml")

PANEL_TYPES = {"timeseries", "stat", "table", "state-timeline"}
DATASOURCE_REFS = {"${datasource}", "$datasource"}
REQUIRED_VARS = ("job", "instance", "cluster")
GRAFANA_GLOBALS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s",
                   "__range_ms", "__dashboard", "__from", "__to", "__name", "__org",
                   "__user", "timeFilter", "__timeFilter"}

# The labels of each family (README.md, "Metrics"), besides the scrape's job and instance.
_NODE = {"cluster", "node"}
_LINK = {"cluster", "node", "source"}
_CONN = {"cluster", "node", "connection", "source"}
_PROBE = {"kind", "cluster", "node"}
_DELIVERY = {"cluster", "from", "to"}
METRICS = {
    "mariadb_up": _NODE, "mariadb_server_id": _NODE, "mariadb_read_only": _NODE,
    "mariadb_semisync_master_enabled": _NODE, "mariadb_semisync_master_active": _NODE,
    "mariadb_semisync_master_clients": _NODE, "mariadb_semisync_master_timeout_seconds": _NODE,
    "mariadb_semisync_master_acknowledged_transactions_total": _NODE,
    "mariadb_semisync_master_unacknowledged_transactions_total": _NODE,
    "mariadb_semisync_slave_enabled": _NODE, "mariadb_semisync_slave_active": _NODE,
    "mariadb_replica_io_running": _CONN, "mariadb_replica_io_state": _CONN | {"state"},
    "mariadb_replica_sql_running": _CONN, "mariadb_replica_seconds_behind_master": _CONN,
    "mariadb_replica_time_diff_seconds": _CONN, "mariadb_replica_lag_info": _LINK | {"method"},
    "mariadb_replica_sql_delay_seconds": _CONN, "mariadb_replica_last_io_errno": _CONN,
    "mariadb_replica_last_sql_errno": _CONN, "mariadb_replica_relay_log_space_bytes": _CONN,
    "mariadb_replica_retried_transactions_total": _CONN,
    "mariadb_replica_received_heartbeats_total": _CONN,
    "mariadb_heartbeat_lag_seconds": _LINK, "mariadb_replica_lag_beyond_delay_seconds": _LINK,
    "mariadb_gtid_binlog_seq": _NODE | {"domain"}, "mariadb_gtid_slave_seq": _NODE | {"domain"},
    "mariadb_gtid_errant_transactions": _NODE | {"domain"},
    "mariadb_replica_transactions_behind": _LINK | {"domain"},
    "mariadb_replica_link_up": _LINK, "mariadb_replica_link_expected": _LINK,
    "mariadb_replica_stalled": _LINK, "mariadb_replica_error_class": _LINK | {"class"},
    "mariadb_node_alive_per_peer": _NODE | {"peer"},
    "mariadb_replica_binlog_horizon_seconds": _LINK,
    "mariadb_replica_binlog_retention_seconds": _LINK,
    "mariadb_cluster_check_ok": {"cluster", "check"},
    "replmon_build_info": {"version", "revision"},
    "replmon_probe_success": _PROBE, "replmon_probe_duration_seconds": _PROBE,
    "replmon_last_success_timestamp_seconds": _PROBE,
    "replmon_probe_errors_total": _PROBE | {"reason"},
    "replmon_target_state": _NODE | {"state"},
    "replmon_target_state_since_timestamp_seconds": _NODE,
    "xmpp_up": _NODE, "xmpp_server_info": _NODE | {"type", "version"},
    "xmpp_c2s_sessions": _NODE, "xmpp_cluster_c2s_sessions": _NODE,
    "xmpp_s2s_connections": _NODE | {"direction"}, "xmpp_registered_users": _NODE,
    "xmpp_muc_rooms": _NODE, "xmpp_uptime_seconds": _NODE,
    "xmpp_stream_probe_success": _NODE, "xmpp_stream_probe_duration_seconds": _NODE,
    "xmpp_starttls_offered": _NODE, "xmpp_starttls_required": _NODE,
    "xmpp_tls_cert_expiry_timestamp_seconds": _NODE,
    # per TLS endpoint of the stream probe (c2s, direct TLS, s2s), by port number
    "xmpp_stream_success": _NODE | {"port"}, "xmpp_tls_cert_verified": _NODE | {"port"},
    "probe_ssl_earliest_cert_expiry": _NODE | {"port"},
    # pings over s2s from the monitoring account's session, per remote domain
    "xmpp_s2s_ping_success": _NODE | {"remote"}, "xmpp_s2s_ping_rtt_seconds": _NODE | {"remote"},
    "xmpp_login_success": _NODE, "xmpp_login_duration_seconds": _NODE,
    "xmpp_ping_rtt_seconds": _NODE,
    "xmpp_node_database_info": _NODE | {"database", "database_cluster"},
    "xmpp_cluster_members": _NODE, "xmpp_cluster_check_ok": {"cluster", "check"},
    # delivery across a cluster: from the account on node `from` to the one on node `to`
    "xmpp_delivery_success": _DELIVERY, "xmpp_delivery_seconds": _DELIVERY,
    "xmpp_delivery_lost_total": _DELIVERY,
}
RECORDING_RULES = {
    "cluster_node_source:mariadb_replica_lag_seconds": _LINK,
    "cluster:xmpp_c2s_sessions:sum": {"cluster"},
    "cluster_node_port:xmpp_tls_cert_days_left": _NODE | {"port"},
    "cluster_node:xmpp_database:info": _NODE | {"database"},
}
TARGET_LABELS = {"job", "instance"}

# grafana/dashboard-linter's list (lint/rule_panel_units.go), from Grafana's categories.ts.
VALID_UNITS = set("""
none string short percent percentunit humidity dB hex0x hex sci locale pixel accMS2 accFS2
accG degree radian grad arcmin arcsec areaM2 areaF2 areaMI2 flops mflops gflops tflops pflops
eflops zflops yflops ppm conppb conngm3 conngNm3 conμgm3 conμgNm3 conmgm3 conmgNm3 congm3
congNm3 conmgdL conmmolL currencyUSD currencyGBP currencyEUR currencyJPY currencyRUB
currencyUAH currencyBRL currencyDKK currencyISK currencyNOK currencySEK currencyCZK
currencyCHF currencyPLN currencyBTC currencymBTC currencyμBTC currencyZAR currencyINR
currencyKRW currencyIDR currencyPHP currencyVND bytes decbytes bits decbits kbytes deckbytes
mbytes decmbytes gbytes decgbytes tbytes dectbytes pbytes decpbytes pps binBps Bps binbps bps
KiBs Kibits KBs Kbits MiBs Mibits MBs Mbits GiBs Gibits GBs Gbits TiBs Tibits TBs Tbits PiBs
Pibits PBs Pbits dateTimeAsIso dateTimeAsIsoNoDateIfToday dateTimeAsUS
dateTimeAsUSNoDateIfToday dateTimeAsLocal dateTimeAsLocalNoDateIfToday dateTimeAsSystem
dateTimeFromNow watt kwatt megwatt gwatt mwatt Wm2 voltamp kvoltamp voltampreact
kvoltampreact watth watthperkg kwatth kwattm amph kamph mamph joule ev amp kamp mamp volt
kvolt mvolt dBm ohm kohm Mohm farad µfarad nfarad pfarad ffarad henry mhenry µhenry lumens
flowgpm flowcms flowcfs flowcfm litreh flowlpm flowmlpm lux forceNm forcekNm forceN forcekN
Hs KHs MHs GHs THs PHs EHs massmg massg masslb masskg masst lengthmm lengthin lengthft
lengthm lengthkm lengthmi pressurembar pressurebar pressurekbar pressurepa pressurehpa
pressurekpa pressurehg pressurepsi radbq radci radgy radrad radsv radmsv radusv radrem
radexpckg radr radsvh radmsvh radusvh rotrpm rothz rotrads rotdegs celsius fahrenheit kelvin
hertz ns µs ms s m h d dtdurationms dtdurations dthms dtdhms timeticks clockms clocks cps ops
reqps rps wps iops cpm opm rpm wpm velocityms velocitykmh velocitymph velocityknot mlitre
litre m3 Nm3 dm3 gallons bool bool_yes_no bool_on_off
""".split())

_VAR = re.compile(r"\$\{([^}:]+)(?::[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
                  r"|\[\[([^\]:]+)(?::[^\]]*)?\]\]")
_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?:(.*?)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.S)


class Findings:
    def __init__(self):
        self.items = []

    def add(self, where, rule, message):
        self.items.append("%s: %s: %s" % (where, rule, message))


def all_metrics():
    m = dict(METRICS)
    m.update(RECORDING_RULES)
    return m


def variables_in(text):
    out = []
    for m in _VAR.finditer(text):
        out.append(m.group(1) or m.group(2) or m.group(3))
    return out


def _ds_uid(ds):
    if isinstance(ds, dict):
        return ds.get("uid")
    return ds


def check_matchers(sel, where, f):
    """The job/instance/cluster rules and the known-metric rule for one selector."""
    known = all_metrics()
    metric = sel.metric()
    name = metric or "{...}"
    for label, rule in (("job", "target-job-rule"), ("instance", "target-instance-rule")):
        if not any(op == "=~" and v in ("$" + label, "${%s}" % label)
                   for op, v in sel.matcher(label)):
            f.add(where, rule, 'selector %s has no %s=~"$%s" matcher' % (name, label, label))
    if metric is None:
        f.add(where, "target-known-metric", "selector without a fixed metric name")
        return
    if metric not in known:
        f.add(where, "target-known-metric",
              "%s is neither a metric replmon exports nor a recording rule" % metric)
        return
    labels = known[metric] | TARGET_LABELS
    if "cluster" in labels and not any(
            op == "=~" and v in ("$cluster", "${cluster}") for op, v in sel.matcher("cluster")):
        f.add(where, "target-cluster-rule", 'selector %s has no cluster=~"$cluster" matcher'
              % metric)
    for label, op, value in sel.matchers:
        if label != "__name__" and label not in labels:
            f.add(where, "target-known-metric", "%s has no label %r (its labels: %s)"
                  % (metric, label, ", ".join(sorted(labels))))


def lint_expr(expr, var_names, where, f):
    if not isinstance(expr, str) or not expr.strip():
        f.add(where, "target-promql-rule", "empty expression")
        return
    for v in variables_in(expr):
        if v not in var_names and v not in GRAFANA_GLOBALS:
            f.add(where, "target-variables", "$%s is not a variable of this dashboard" % v)
    try:
        ast = promql.parse(expr)
    except promql.ParseError as e:
        f.add(where, "target-promql-rule", "invalid PromQL: %s" % e)
        return
    for node, parents in promql.walk(ast):
        if isinstance(node, promql.VectorSelector):
            check_matchers(node, where, f)
            metric = node.metric() or ""
            if metric.endswith("_total"):
                ok = (len(parents) >= 2 and isinstance(parents[-1], promql.MatrixSelector)
                      and isinstance(parents[-2], promql.Call)
                      and parents[-2].func in ("rate", "irate", "increase"))
                if not ok:
                    f.add(where, "target-counter-agg-rule",
                          "counter %s is not read through rate(), irate() or increase()"
                          % metric)
        elif isinstance(node, promql.MatrixSelector):
            parent = parents[-1] if parents else None
            if (isinstance(parent, promql.Call) and parent.func in ("rate", "irate", "increase")
                    and node.range not in ("$__rate_interval", "${__rate_interval}")):
                f.add(where, "target-rate-interval-rule",
                      "%s() over [%s]: use [$__rate_interval]" % (parent.func, node.range))


def lint_variables(d, where, f):
    tlist = (d.get("templating") or {}).get("list")
    if not isinstance(tlist, list):
        f.add(where, "template-datasource-rule", "no templating.list")
        return {}
    byname = {}
    for v in tlist:
        if isinstance(v, dict) and v.get("name"):
            if v["name"] in byname:
                f.add(where, "template-unique", "variable %s defined twice" % v["name"])
            byname[v["name"]] = v
    ds = [v for v in byname.values() if v.get("type") == "datasource"]
    if not ds:
        f.add(where, "template-datasource-rule", "no variable of type datasource")
    for v in ds:
        if v.get("name") != "datasource":
            f.add(where, "template-datasource-rule",
                  "the datasource variable is named %r, should be 'datasource'" % v.get("name"))
        if v.get("query") != "prometheus":
            f.add(where, "template-datasource-rule",
                  "the datasource variable's query is %r, should be 'prometheus'"
                  % v.get("query"))
        if v.get("label") != "Data source":
            f.add(where, "template-datasource-rule",
                  "the datasource variable is labelled %r, should be 'Data source'"
                  % v.get("label"))
    for name in REQUIRED_VARS:
        rule = "template-%s-rule" % name
        v = byname.get(name)
        if v is None:
            f.add(where, rule, "no %s variable" % name)
            continue
        if v.get("type") != "query":
            f.add(where, rule, "%s variable is of type %r, should be query" % (name, v.get("type")))
        if _ds_uid(v.get("datasource")) not in DATASOURCE_REFS:
            f.add(where, rule, "%s variable uses datasource %r, should be ${datasource}"
                  % (name, _ds_uid(v.get("datasource"))))
        if v.get("multi") is not True:
            f.add(where, rule, "%s variable should be multi-select" % name)
        if v.get("includeAll") is not True:
            f.add(where, rule, "%s variable should include All" % name)
        if v.get("allValue") != ".+":
            f.add(where, rule, "%s variable allValue should be '.+', is %r"
                  % (name, v.get("allValue")))
        if v.get("label") != name.title():
            f.add(where, rule, "%s variable should be labelled %r, is %r"
                  % (name, name.title(), v.get("label")))
    for name, v in byname.items():
        if v.get("type") != "query":
            continue
        vw = "%s: variable %s" % (where, name)
        if v.get("refresh") != 2:
            f.add(vw, "template-on-time-change-reload",
                  "refresh is %r, should be 2 (on time range change)" % v.get("refresh"))
        if _ds_uid(v.get("datasource")) not in DATASOURCE_REFS:
            f.add(vw, "panel-datasource-rule", "uses datasource %r, should be ${datasource}"
                  % _ds_uid(v.get("datasource")))
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if not isinstance(q, str):
            f.add(vw, "template-query-rule", "no query")
            continue
        m = _LABEL_VALUES.match(q)
        if not m:
            f.add(vw, "template-query-rule", "not a label_values(selector, label) query: %r" % q)
            continue
        selector, label = m.group(1), m.group(2)
        if not selector:
            f.add(vw, "template-query-rule", "label_values(%s) without a selector scans every "
                  "series: name the metric" % label)
            continue
        for var in variables_in(selector):
            if var not in byname:
                f.add(vw, "target-variables", "$%s is not a variable of this dashboard" % var)
        try:
            ast = promql.parse(selector)
        except promql.ParseError as e:
            f.add(vw, "template-query-rule", "invalid PromQL: %s" % e)
            continue
        if not isinstance(ast, promql.VectorSelector):
            f.add(vw, "template-query-rule", "label_values() of something else than a selector")
            continue
        metric = ast.metric()
        known = all_metrics()
        if metric not in known:
            f.add(vw, "template-query-rule", "%s is not a metric replmon exports" % metric)
        elif label not in known[metric] | TARGET_LABELS:
            f.add(vw, "template-query-rule", "%s has no label %r" % (metric, label))
    return byname


def lint_panels(d, byname, where, f):
    panels = d.get("panels")
    if not isinstance(panels, list) or not panels:
        f.add(where, "panel-no-targets-rule", "no panels")
        return []
    flat = []
    for p in panels:
        if isinstance(p, dict) and isinstance(p.get("panels"), list):
            flat.extend(p["panels"])  # a row's collapsed panels
        flat.append(p)
    ids, cells, used_text = {}, [], []
    for idx, p in enumerate(flat):
        if not isinstance(p, dict):
            f.add(where, "panel-type", "panel #%d is not an object" % idx)
            continue
        pw = '%s: panel %s "%s"' % (where, p.get("id"), p.get("title", ""))
        if p.get("type") not in PANEL_TYPES:
            f.add(pw, "panel-type", "type %r is not one of %s"
                  % (p.get("type"), ", ".join(sorted(PANEL_TYPES))))
        pid = p.get("id")
        if not isinstance(pid, int) or isinstance(pid, bool):
            f.add(pw, "panel-id", "id %r is not an integer" % (pid,))
        elif pid in ids:
            f.add(pw, "panel-id", "id %d is also the id of panel %r" % (pid, ids[pid]))
        else:
            ids[pid] = p.get("title")
        if not (isinstance(p.get("title"), str) and p["title"].strip()):
            f.add(pw, "panel-title-description-rule", "no title")
        if not (isinstance(p.get("description"), str) and p["description"].strip()):
            f.add(pw, "panel-title-description-rule", "no description")
        if _ds_uid(p.get("datasource")) not in DATASOURCE_REFS:
            f.add(pw, "panel-datasource-rule", "uses datasource %r, should be ${datasource}"
                  % (_ds_uid(p.get("datasource")),))
        unit = ((p.get("fieldConfig") or {}).get("defaults") or {}).get("unit")
        if unit not in VALID_UNITS:
            f.add(pw, "panel-units-rule", "no or invalid unit: %r" % (unit,))
        for o in (p.get("fieldConfig") or {}).get("overrides") or []:
            for prop in o.get("properties") or []:
                if prop.get("id") == "unit" and prop.get("value") not in VALID_UNITS:
                    f.add(pw, "panel-units-rule", "override with invalid unit %r"
                          % prop.get("value"))
        g = p.get("gridPos")
        if not isinstance(g, dict) or not all(
                isinstance(g.get(k), int) and not isinstance(g.get(k), bool)
                for k in ("x", "y", "w", "h")):
            f.add(pw, "panel-gridpos", "gridPos needs integer x, y, w, h: %r" % (g,))
        else:
            if g["x"] < 0 or g["y"] < 0 or g["w"] < 1 or g["h"] < 1 or g["x"] + g["w"] > 24:
                f.add(pw, "panel-gridpos", "gridPos %r is outside the 24 columns" % (g,))
            else:
                for other_title, og in cells:
                    if (g["x"] < og["x"] + og["w"] and og["x"] < g["x"] + g["w"]
                            and g["y"] < og["y"] + og["h"] and og["y"] < g["y"] + g["h"]):
                        f.add(pw, "panel-overlap", "overlaps panel %r (%r and %r)"
                              % (other_title, g, og))
                cells.append((p.get("title"), g))
        targets = p.get("targets")
        if not isinstance(targets, list) or not targets:
            f.add(pw, "panel-no-targets-rule", "no targets")
            continue
        refids = set()
        for t in targets:
            ref = t.get("refId") if isinstance(t, dict) else None
            tw = "%s: target %s" % (pw, ref)
            if not isinstance(t, dict):
                f.add(tw, "target-refid", "target is not an object")
                continue
            if not ref:
                f.add(tw, "target-refid", "no refId")
            elif ref in refids:
                f.add(tw, "target-refid", "refId %s used twice in the panel" % ref)
            refids.add(ref)
            if "datasource" in t and _ds_uid(t["datasource"]) not in DATASOURCE_REFS:
                f.add(tw, "panel-datasource-rule", "target uses datasource %r"
                      % (_ds_uid(t["datasource"]),))
            expr = t.get("expr")
            used_text.append(expr or "")
            lint_expr(expr, byname, tw, f)
    return used_text


def lint_dashboard(path, f, uids, titles):
    where = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        f.add(where, "dashboard-json", "cannot read: %s" % e)
        return False
    try:
        d = json.loads(text)
    except ValueError as e:
        f.add(where, "dashboard-json", "not JSON: %s" % e)
        return True
    if not isinstance(d, dict):
        f.add(where, "dashboard-json", "not a JSON object")
        return True
    if "__inputs" in d:
        f.add(where, "no-inputs", "has __inputs: provisioning cannot fill them, use the "
              "datasource variable")
    if "${DS_" in text:
        f.add(where, "no-inputs", "refers to ${DS_...} import inputs")
    if d.get("editable") is not False:
        f.add(where, "uneditable-dashboard", "editable is %r, should be false"
              % (d.get("editable"),))
    uid = d.get("uid")
    if not (isinstance(uid, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid)):
        f.add(where, "dashboard-uid", "uid %r: a fixed uid of at most 40 letters, digits, - "
              "or _ is needed so that links and provisioning keep working" % (uid,))
    elif uid in uids:
        f.add(where, "dashboard-uid", "uid %r is also the uid of %s" % (uid, uids[uid]))
    else:
        uids[uid] = where
    title = d.get("title")
    if not (isinstance(title, str) and title.strip()):
        f.add(where, "dashboard-title", "no title")
    elif title in titles:
        f.add(where, "dashboard-title", "title %r is also the title of %s"
              % (title, titles[title]))
    else:
        titles[title] = where
    sv = d.get("schemaVersion")
    if not isinstance(sv, int) or sv < 39:
        f.add(where, "schema-version", "schemaVersion %r, should be 39 or later" % (sv,))
    byname = lint_variables(d, where, f)
    used_text = lint_panels(d, byname, where, f)
    var_text = [json.dumps(v.get("query")) for v in byname.values()]
    for name, v in byname.items():
        if name == "datasource":
            continue
        pattern = re.compile(r"\$%s\b|\$\{%s[}:]|\[\[%s[\]:]" % ((re.escape(name),) * 3))
        if not any(pattern.search(t) for t in used_text + var_text if t):
            f.add(where, "template-unused", "variable %s is not used by any query" % name)
    return True


def lint_rules_consistency(f):
    try:
        with open(RULES_FILE, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        f.add(os.path.relpath(RULES_FILE, REPO), "rules-consistency", "cannot read: %s" % e)
        return
    recorded = set(re.findall(r"^\s*-\s*record:\s*(\S+)\s*$", text, re.M))
    for name in sorted(recorded - set(RECORDING_RULES)):
        f.add(os.path.relpath(RULES_FILE, REPO), "rules-consistency",
              "recording rule %s is not known to lint_dashboards.py (RECORDING_RULES)" % name)
    for name in sorted(set(RECORDING_RULES) - recorded):
        f.add(os.path.relpath(RULES_FILE, REPO), "rules-consistency",
              "lint_dashboards.py knows a recording rule %s that the rules file lacks" % name)


def main(argv):
    paths = [a for a in argv if not a.startswith("-")]
    if not paths:
        paths = sorted(glob.glob(DEFAULT_GLOB))
        if not paths:
            print("lint_dashboards: no dashboards match %s" % DEFAULT_GLOB, file=sys.stderr)
            return 2
    f = Findings()
    uids, titles = {}, {}
    unreadable = False
    panels = 0
    for p in paths:
        if not lint_dashboard(p, f, uids, titles):
            unreadable = True
        try:
            with open(p, encoding="utf-8") as fh:
                panels += len(json.load(fh).get("panels") or [])
        except (OSError, ValueError, AttributeError):
            pass
    lint_rules_consistency(f)
    for line in f.items:
        print(line)
    print("lint_dashboards: %d dashboard(s), %d panel(s), %d problem(s)"
          % (len(paths), panels, len(f.items)))
    if unreadable:
        return 2
    return 1 if f.items else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
