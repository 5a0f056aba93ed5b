#!/usr/bin/env python3
"""Checks every dashboard query and every rule expression against a real Prometheus.

    python3 tests/dashboards/check_queries.py [--prometheus=URL] [--node=NAME] [-v]

Extracts the query of each panel target and the selector of each variable's
label_values() from dashboards/grafana/*.json, expands the Grafana variables the way
Grafana does for "All" ($job, $instance, $cluster -> their allValue ".+"), $node -> NAME
(default db1), $__rate_interval and $__interval -> 1m, $__range -> 1h, and sends each to
Prometheus's /api/v1/query, which answers a PromQL error with 400 bad_data. The rule
expressions come from Prometheus itself (/api/v1/rules), so what is checked is what
Prometheus loaded from dashboards/prometheus/replmon.rules.yml; every rule must have been
evaluated with health "ok". A recording rule a dashboard uses must exist.

Without --prometheus it starts a throwaway Prometheus 2.42 on 127.0.0.1 with the rules file
loaded, scraping every second a synthetic replmon that answers
testdata/synthetic_metrics.prom (promstack.MetricsEndpoint), and stops it by PID. Every
query is parsed and evaluated by the real engine; a query that reads only families of that
file, or recording rules computed only from them, must also return data (waited for up to
DATA_BOUND_S), and the rules are checked once they have seen the data. The other queries
may answer empty. tests/integration/test_alerting.py uses the same functions against a
Prometheus that scrapes a real replmon, where every query must also return data. Prints one
line per problem and a summary; exits 0 when there is none. Python 3 standard library only.
"""

import glob
import json
import os
import re
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import promql  # noqa: E402
import promstack  # noqa: E402

DASHBOARD_GLOB = os.path.join(REPO, "dashboards", "grafana", "*.json")
RULES_FILE = os.path.join(REPO, "dashboards", "prometheus", "replmon.rules.yml")
SYNTHETIC = os.path.join(HERE, "testdata", "synthetic_metrics.prom")
DATA_BOUND_S = 30.0  # Prometheus's first scrape comes a few seconds after its start
GRAFANA_GLOBALS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h",
                   "__range_s": "3600", "__interval_ms": "60000", "__range_ms": "3600000"}
_VAR = re.compile(r"\$\{([^}:]+)(?::[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
                  r"|\[\[([^\]:]+)(?::[^\]]*)?\]\]")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.*?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$",
                           re.S)
NEVER_EVALUATED = "0001-01-01T00:00:00Z"


class Query:
    def __init__(self, file, panel, ref, expr, templating):
        self.file = file
        self.panel = panel
        self.ref = ref
        self.expr = expr
        self.templating = templating
        self.expanded = None
        try:
            names = [s.metric() or "" for s in promql.selectors(promql.parse(expr))]
        except promql.ParseError:
            names = []
        self.metrics = names

    @property
    def xmpp(self):
        """True when the query reads XMPP series (empty without an XMPP server)."""
        return any("xmpp_" in m for m in self.metrics)

    def where(self):
        return '%s: %s%s' % (self.file, self.panel, (" target %s" % self.ref) if self.ref else "")


def dashboard_queries(paths=None):
    out = []
    for path in paths or sorted(glob.glob(DASHBOARD_GLOB)):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        name = os.path.basename(path)
        tlist = (d.get("templating") or {}).get("list") or []
        for v in tlist:
            if v.get("type") != "query":
                continue
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = _LABEL_VALUES.match(q or "")
            if m and m.group(1):
                out.append(Query(name, "variable %s" % v["name"], "", m.group(1), tlist))
        for p in d.get("panels") or []:
            for t in p.get("targets") or []:
                out.append(Query(name, 'panel %s "%s"' % (p.get("id"), p.get("title")),
                                 t.get("refId"), t.get("expr") or "", tlist))
    return out


def expand(expr, templating, values=None):
    """expr with Grafana's variables replaced: values[name] if given, else a variable's
    allValue when it includes All, else Grafana's globals (GRAFANA_GLOBALS)."""
    values = values or {}
    byname = {v.get("name"): v for v in templating}

    def sub(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in values:
            return values[name]
        v = byname.get(name)
        if v is not None and v.get("includeAll") and v.get("allValue"):
            return v["allValue"]
        if v is None and name in GRAFANA_GLOBALS:
            return GRAFANA_GLOBALS[name]
        raise KeyError("no value for $%s" % name)

    return _VAR.sub(sub, expr)


def check_dashboards(prom, queries, values=None, require_data=False, skip=lambda q: False,
                     verbose=False):
    """Problems (strings) of the dashboard queries on prom; queries for which skip(q) is
    true are not sent. require_data: each must also return at least one series."""
    problems = []
    for q in queries:
        if skip(q):
            continue
        try:
            q.expanded = expand(q.expr, q.templating, values)
        except KeyError as e:
            problems.append("%s: %s" % (q.where(), e.args[0]))
            continue
        status, answer = prom.query(q.expanded)
        if status != 200 or answer.get("status") != "success":
            problems.append("%s: Prometheus refused %r: %s %s" % (
                q.where(), q.expanded, answer.get("errorType", status),
                answer.get("error", answer.get("raw", ""))))
            continue
        result = answer["data"]["result"]
        if verbose:
            print("  %-70s %d series" % (q.where()[:70], len(result)))
        if require_data and not result:
            problems.append("%s: no series for %s" % (q.where(), q.expanded))
    return problems


def synthetic_families(path=SYNTHETIC):
    """The metric families (their # TYPE lines) of the synthetic exposition at path."""
    with open(path, encoding="utf-8") as f:
        return set(re.findall(r"^# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) ", f.read(), re.M))


def fed_names(families, groups):
    """families, plus the recording rules (of /api/v1/rules groups) whose expression reads
    only names of the result (a rule may read another rule)."""
    fed = set(families)
    records = {}
    for g in groups:
        for r in g["rules"]:
            if r.get("type") == "recording":
                try:
                    records[r["name"]] = {s.metric() for s in
                                          promql.selectors(promql.parse(r["query"]))}
                except promql.ParseError:
                    pass
    grew = True
    while grew:
        grew = False
        for name, reads in records.items():
            if name not in fed and reads and None not in reads and reads <= fed:
                fed.add(name)
                grew = True
    return fed


def is_fed(q, fed):
    return bool(q.metrics) and all(m in fed for m in q.metrics)


def recording_rules_used(queries):
    return {m for q in queries for m in q.metrics if ":" in m}


def wait_rules(prom, bound=30.0):
    """The rule groups once every rule has been evaluated at least once (or bound passed)."""
    deadline = time.monotonic() + bound
    while True:
        groups = prom.rule_groups()
        pending = [r["name"] for g in groups for r in g["rules"]
                   if r.get("lastEvaluation", NEVER_EVALUATED) == NEVER_EVALUATED]
        if groups and not pending:
            return groups
        if time.monotonic() > deadline:
            return groups
        time.sleep(0.2)


def check_rules(prom, groups, dashboards_queries=(), expected_file=RULES_FILE):
    """Problems of the loaded rules: each evaluated with health ok, each expression
    accepted by /api/v1/query, the file's alerts and records all loaded, and every
    recording rule a dashboard uses present."""
    problems = []
    loaded = {}
    if not groups:
        problems.append("Prometheus loaded no rule group")
    for g in groups:
        for r in g["rules"]:
            name = r["name"]
            loaded[name] = r
            where = "rule %s (group %s)" % (name, g["name"])
            if r.get("lastEvaluation", NEVER_EVALUATED) == NEVER_EVALUATED:
                problems.append("%s: never evaluated" % where)
            elif r.get("health") != "ok":
                problems.append("%s: health %s: %s" % (where, r.get("health"),
                                                       r.get("lastError", "")))
            status, answer = prom.query(r["query"])
            if status != 200 or answer.get("status") != "success":
                problems.append("%s: Prometheus refused its expression: %s" % (
                    where, answer.get("error", status)))
    if expected_file:
        with open(expected_file, encoding="utf-8") as f:
            text = f.read()
        names = re.findall(r"^\s*-\s*(?:alert|record):\s*(\S+)\s*$", text, re.M)
        for n in names:
            if n not in loaded:
                problems.append("rule %s of %s is not loaded"
                                % (n, os.path.basename(expected_file)))
    records = {n for n, r in loaded.items() if r.get("type") == "recording"}
    for m in sorted(recording_rules_used(dashboards_queries) - records):
        problems.append("a dashboard uses %s, which is not a loaded recording rule" % m)
    return problems


class RemotePrometheus(promstack.Prometheus):
    def __init__(self, url):  # pylint: disable=super-init-not-called
        self._url = url.rstrip("/")
        self.proc = None

    @property
    def url(self):
        return self._url


def main(argv):
    url = None
    values = {"node": "db1"}
    verbose = "-v" in argv
    for a in argv:
        if a.startswith("--prometheus="):
            url = a.split("=", 1)[1]
        elif a.startswith("--node="):
            values["node"] = a.split("=", 1)[1]
    queries = dashboard_queries()
    workdir = None
    prom = endpoint = None
    fed = []
    try:
        if url:
            prom = RemotePrometheus(url)
            groups = wait_rules(prom)
            problems = check_dashboards(prom, queries, values, verbose=verbose)
        else:
            workdir = tempfile.mkdtemp(prefix="replmon-check-queries-")
            with open(SYNTHETIC, encoding="utf-8") as f:
                endpoint = promstack.MetricsEndpoint(f.read()).start()
            prom = promstack.Prometheus(workdir, rule_files=[RULES_FILE],
                                        scrape={"replmon": [endpoint.target]}).start()
            prom.wait_ready()
            names = fed_names(synthetic_families(), wait_rules(prom))
            fed = [q for q in queries if is_fed(q, names)]
            deadline = time.monotonic() + DATA_BOUND_S
            while True:
                problems = check_dashboards(prom, fed, values, require_data=True)
                if not problems or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            if verbose:
                check_dashboards(prom, fed, values, verbose=True)
            time.sleep(2.5)  # two more rule evaluations, with the data
            groups = wait_rules(prom)
            problems = check_dashboards(prom, queries, values, verbose=verbose,
                                        require_data=False, skip=lambda q: q in fed) + problems
        problems += check_rules(prom, groups, queries)
    finally:
        if workdir:
            prom.stop()
        if endpoint is not None:
            endpoint.stop()
    for p in problems:
        print(p)
    nrules = sum(len(g["rules"]) for g in groups)
    print("check_queries: %d dashboard queries (%d of them on synthetic data, which must "
          "answer series), %d rules, %d problem(s)"
          % (len(queries), len(fed), nrules, len(problems)))
    if workdir:
        if problems:
            print("check_queries: Prometheus log kept in %s" % workdir, file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    from common import install_signal_handlers  # noqa: E402  (promstack put it on the path)
    install_signal_handlers()
    sys.exit(main(sys.argv[1:]))
