#!/usr/bin/env python3
"""Tests of dashboards/: Grafana dashboards, Prometheus rules, Alertmanager configuration.

    python3 tests/dashboards/test_dashboards.py [-v] [TestDashboards.test_05_inhibition ...]

- the dashboards pass lint_dashboards.py, and the linter fails testdata/bad_dashboard.json
  with every rule that file breaks;
- the dashboards' JSON files and the rules file are what the monitoring mixin
  (dashboards/mixin/) writes, byte for byte; the alerts' annotations follow the
  monitoring-mixins guidelines, with a section of docs/runbook.md for each;
- `promtool check rules` on the rules file; `promtool test rules` on rules_test.yml, which
  must cover every alert of the file (fires after its `for:`, not before, not on a
  flapping input);
- `amtool check-config` on the Alertmanager configuration, its routes (critical alerts to
  the on-call Telegram chat and mail, warnings to mail), its inhibit rules on a real
  Alertmanager 0.25 (alerts posted to its API, which then says which are inhibited), and
  its Telegram message for an alert whose summary and labels hold `<` and `&`, which a
  stand-in for the Bot API must receive in HTML that Telegram's parser takes;
- check_queries.py: every dashboard query and rule expression parsed and evaluated by a
  real Prometheus 2.42, which scrapes testdata/synthetic_metrics.prom: the queries on its
  families must answer series; `promtool check metrics` finds nothing to say about it.
The real servers listen on 127.0.0.1 only and are stopped by PID. Prints
`dashboards: N passed, M failed` last; exits non-zero on failure. A few seconds.
Python 3 standard library, promtool, amtool, prometheus, prometheus-alertmanager.
"""

import datetime
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import check_queries  # noqa: E402
import lint_dashboards  # noqa: E402
import promstack  # noqa: E402
from common import free_port, run_suite  # noqa: E402  (promstack put it on the path)

RULES = os.path.join(REPO, "dashboards", "prometheus", "replmon.rules.yml")
RULES_TEST = os.path.join(HERE, "rules_test.yml")
ALERTMANAGER_YML = os.path.join(REPO, "dashboards", "alertmanager", "alertmanager.yml")
BAD = os.path.join(HERE, "testdata", "bad_dashboard.json")
MIXIN_BUILD = os.path.join(REPO, "dashboards", "mixin", "build.jsonnet")
MIXIN_BUILD_DASHBOARDS = os.path.join(REPO, "dashboards", "mixin", "build-dashboards.jsonnet")
RUNBOOK = os.path.join(REPO, "docs", "runbook.md")

ALERTS = ("MariaDBNodeDown", "MariaDBUnreachableFromMonitor", "MariaDBReplicationThreadDown",
          "MariaDBReplicationLinkMissing",
          "MariaDBHeartbeatLagWarning", "MariaDBHeartbeatLagCritical",
          "MariaDBReplicationStalled", "MariaDBClusterCheckFailed", "MariaDBSemiSyncFallback",
          "MariaDBWriteConflict",
          "MariaDBBinlogHorizonHalfSpent",
          "MariaDBErrantTransactions",
          "XMPPServerDown", "XMPPStreamProbeFailing", "XMPPSessionsDroppedSharply",
          "XMPPCertificateExpiringSoon", "XMPPCertificateNotVerified", "XMPPS2SPingFailing",
          "XMPPLoginFailing", "XMPPDeliveryFailing",
          "XMPPDeliverySlow", "XMPPClusterSplit", "ReplmonProbeFailing")

# Every rule bad_dashboard.json breaks.
BAD_RULES = ("no-inputs", "uneditable-dashboard", "dashboard-uid", "schema-version",
             "template-datasource-rule", "template-job-rule", "template-instance-rule",
             "template-cluster-rule", "template-on-time-change-reload",
             "template-query-rule", "template-unused", "panel-type", "panel-id",
             "panel-title-description-rule", "panel-datasource-rule", "panel-units-rule",
             "panel-no-targets-rule", "panel-gridpos", "panel-overlap", "target-refid",
             "target-promql-rule", "target-job-rule", "target-instance-rule",
             "target-cluster-rule", "target-rate-interval-rule", "target-counter-agg-rule",
             "target-known-metric", "target-variables")


def run(argv, timeout=120):
    r = subprocess.run(argv, capture_output=True, timeout=timeout, cwd=REPO)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def alert_names(text):
    return re.findall(r"^\s*-\s*alert:\s*(\S+)\s*$", text, re.M)


def _alert(name, severity, **labels):
    now = datetime.datetime.now(datetime.timezone.utc)
    base = {"alertname": name, "severity": severity, "job": "replmon",
            "instance": "mon:9873"}
    base.update(labels)
    return {"labels": base,
            "annotations": {"summary": name},
            "startsAt": now.isoformat(),
            "endsAt": (now + datetime.timedelta(minutes=10)).isoformat()}


# (alert as Prometheus sends it, inhibited?) — label sets as the rules produce them.
INHIBITION_CASES = [
    # db1 is down: MariaDBNodeDown carries node, source, database and to_database = db1
    (_alert("MariaDBNodeDown", "critical", cluster="chatdb", node="db1", source="db1",
            database="db1", to_database="db1"), False),
    # its own links (node = db1) and its probe
    (_alert("MariaDBReplicationThreadDown", "critical", cluster="chatdb", node="db1",
            source="db2", thread="io"), True),
    (_alert("MariaDBHeartbeatLagCritical", "critical", cluster="chatdb", node="db1",
            source="db2"), True),
    (_alert("ReplmonProbeFailing", "warning", cluster="chatdb", kind="mariadb", node="db1",
            reason="connect"), True),
    # the links that read from it (source = db1)
    (_alert("MariaDBReplicationThreadDown", "critical", cluster="chatdb", node="db2",
            source="db1", thread="io"), True),
    (_alert("MariaDBReplicationLinkMissing", "critical", cluster="chatdb", node="db2",
            source="db1"), True),
    (_alert("MariaDBReplicationStalled", "critical", cluster="chatdb", node="db3",
            source="db1"), True),
    # db4 is out of replmon's reach while its peers replicate from it: replmon's probe of it
    # fails for that cause; its peers' links from it and another node's probe page on
    (_alert("MariaDBUnreachableFromMonitor", "warning", cluster="chatdb", node="db4"), False),
    (_alert("ReplmonProbeFailing", "warning", cluster="chatdb", kind="mariadb", node="db4",
            reason="timeout"), True),
    (_alert("MariaDBHeartbeatLagCritical", "critical", cluster="chatdb", node="db3",
            source="db4"), False),
    (_alert("ReplmonProbeFailing", "warning", cluster="otherdb", kind="mariadb", node="db4",
            reason="timeout"), False),
    # unrelated: another link of the cluster, the same names in another cluster, a check
    (_alert("MariaDBHeartbeatLagWarning", "warning", cluster="chatdb", node="db2",
            source="db3"), False),
    (_alert("MariaDBReplicationThreadDown", "critical", cluster="otherdb", node="db2",
            source="db1", thread="sql"), False),
    (_alert("MariaDBClusterCheckFailed", "warning", cluster="chatdb",
            check="auto_increment_safe"), False),
    # a write conflict on db5 <- db4: its stopped SQL thread and growing lag are implied
    (_alert("MariaDBWriteConflict", "critical", cluster="chatdb", node="db5", source="db4",
            **{"class": "duplicate_key"}), False),
    (_alert("MariaDBReplicationThreadDown", "critical", cluster="chatdb", node="db5",
            source="db4", thread="sql"), True),
    (_alert("MariaDBHeartbeatLagWarning", "warning", cluster="chatdb", node="db5",
            source="db4"), True),
    # a stopped IO thread on db6 <- db7: its lag; critical lag hides the warning one
    (_alert("MariaDBReplicationThreadDown", "critical", cluster="chatdb", node="db6",
            source="db7", thread="io"), False),
    (_alert("MariaDBHeartbeatLagCritical", "critical", cluster="chatdb", node="db6",
            source="db7"), True),
    (_alert("MariaDBHeartbeatLagCritical", "critical", cluster="chatdb", node="db8",
            source="db9"), False),
    (_alert("MariaDBHeartbeatLagWarning", "warning", cluster="chatdb", node="db8",
            source="db9"), True),
    # XMPP: ej1 is down; pr1's stream probe fails
    (_alert("XMPPServerDown", "critical", cluster="chat", node="ej1"), False),
    (_alert("XMPPStreamProbeFailing", "critical", cluster="chat", node="ej1"), True),
    (_alert("ReplmonProbeFailing", "warning", cluster="chat", kind="xmpp", node="ej1",
            reason="connect"), True),
    (_alert("XMPPSessionsDroppedSharply", "warning", cluster="chat"), True),
    (_alert("XMPPStreamProbeFailing", "critical", cluster="chat", node="pr1"), False),
    (_alert("ReplmonProbeFailing", "warning", cluster="chat", kind="xmpp_stream",
            node="pr1", reason="stream"), True),
    (_alert("XMPPSessionsDroppedSharply", "warning", cluster="chat2"), False),
    (_alert("XMPPCertificateExpiringSoon", "warning", cluster="chat", node="pr1"), False),
    # ej1 being down also explains its logins and the cluster's members check; pr1's login
    # fails on its own, and replmon's login probe alert says the same
    (_alert("XMPPLoginFailing", "critical", cluster="chat", node="ej1"), True),
    (_alert("XMPPClusterSplit", "critical", cluster="chat", check="members_agree"), True),
    (_alert("XMPPLoginFailing", "critical", cluster="chat", node="pr1"), False),
    (_alert("ReplmonProbeFailing", "warning", cluster="chat", kind="xmpp_login", node="pr1",
            reason="auth"), True),
    # db1 (down above) is ej3's database, db2 ej4's: ej3's login and the messages to and
    # from ej3 are explained; ej4's login and a delivery between nodes without a database
    # named are not
    (_alert("XMPPLoginFailing", "critical", cluster="chat", node="ej3", database="db1"), True),
    (_alert("XMPPLoginFailing", "critical", cluster="chat", node="ej4", database="db2"), False),
    (_alert("XMPPLoginFailing", "critical", cluster="chat", node="ej5"), False),
    (_alert("XMPPDeliveryFailing", "critical", cluster="chat", **{"from": "ej3"}, to="ej4",
            database="db1", to_database="db2"), True),
    (_alert("XMPPDeliveryFailing", "critical", cluster="chat", **{"from": "ej4"}, to="ej3",
            database="db2", to_database="db1"), True),
    (_alert("XMPPDeliverySlow", "warning", cluster="chat", **{"from": "ej3"}, to="ej5",
            database="db1"), True),
    (_alert("XMPPDeliverySlow", "warning", cluster="chat", **{"from": "ej5"}, to="ej3",
            to_database="db1"), True),
    (_alert("XMPPDeliveryFailing", "critical", cluster="chat", **{"from": "ej4"}, to="ej5",
            database="db2"), False),
    (_alert("XMPPDeliveryFailing", "critical", cluster="chat2", **{"from": "c1"}, to="c2"),
     False),
    # replmon's delivery probe fails with the deliveries it measures (its node names the
    # pair), also when the delivery alert is itself inhibited (chat5: by db1 being down)
    (_alert("XMPPDeliveryFailing", "critical", cluster="chat5", **{"from": "e1"}, to="e2",
            database="db1"), True),
    (_alert("ReplmonProbeFailing", "warning", cluster="chat5", kind="xmpp_delivery",
            node="e1<->e2", reason="timeout"), True),
    (_alert("ReplmonProbeFailing", "warning", cluster="chat2", kind="xmpp_delivery",
            node="c1<->c2", reason="timeout"), True),
    (_alert("ReplmonProbeFailing", "warning", cluster="chat4", kind="xmpp_delivery",
            node="d1<->d2", reason="auth"), False),
    # a database being down explains neither a split cluster nor a certificate
    (_alert("XMPPClusterSplit", "critical", cluster="chat3", check="members_agree"), False),
    (_alert("XMPPCertificateNotVerified", "warning", cluster="chat", node="ej3",
            port="5269"), False),
    # s2s pings: ej1 is down (above), pr1's login fails (above), ej3's database db1 is
    # down (above): their pings are explained; those of ej6 (db2) and ej7, which log in,
    # are not
    (_alert("XMPPS2SPingFailing", "warning", cluster="chat", node="ej1", remote="two.test"),
     True),
    (_alert("XMPPS2SPingFailing", "warning", cluster="chat", node="pr1", remote="one.test"),
     True),
    (_alert("XMPPS2SPingFailing", "warning", cluster="chat", node="ej3", remote="two.test",
            database="db1"), True),
    (_alert("XMPPS2SPingFailing", "warning", cluster="chat", node="ej6", remote="two.test",
            database="db2"), False),
    (_alert("XMPPS2SPingFailing", "warning", cluster="chat", node="ej7", remote="two.test"),
     False),
    (_alert("XMPPS2SPingFailing", "warning", cluster="chat2", node="pr1", remote="one.test"),
     False),
]


class TestDashboards(unittest.TestCase):
    timings = []

    def test_01_lint_real_dashboards(self):
        rc, out = run([sys.executable, os.path.join(HERE, "lint_dashboards.py")])
        print("\n    " + out.strip().splitlines()[-1])
        self.assertEqual(rc, 0, out)
        self.assertEqual(len([p for p in os.listdir(os.path.join(REPO, "dashboards", "grafana"))
                              if p.endswith(".json")]), 4)

    def test_02_lint_bad_dashboard(self):
        rc, out = run([sys.executable, os.path.join(HERE, "lint_dashboards.py"), BAD])
        self.assertEqual(rc, 1, out)
        missing = [r for r in BAD_RULES if ": %s: " % r not in out]
        self.assertEqual(missing, [], "the linter did not report these rules on %s:\n%s"
                         % (BAD, out))
        print("\n    " + out.strip().splitlines()[-1])

    def test_03_generated(self):
        # The committed rules and dashboards are what the mixin writes (`make dashboards`),
        # byte for byte.
        outdir = tempfile.mkdtemp(prefix="replmon-mixin-")
        for sub in ("prometheus", "grafana"):
            os.mkdir(os.path.join(outdir, sub))  # jsonnet -m makes no directories
        try:
            rc, out = run(["jsonnet", "-S", "-m", outdir, MIXIN_BUILD])
            self.assertEqual(rc, 0, out)
            rc, out = run(["jsonnet", "-m", outdir, MIXIN_BUILD_DASHBOARDS])
            self.assertEqual(rc, 0, out)
            written = sorted(os.path.relpath(os.path.join(d, n), outdir)
                             for d, _, names in os.walk(outdir) for n in names)
            self.assertEqual(written, [os.path.join("grafana", n) for n in
                                       ("node-detail.json", "replication-overview.json",
                                        "replmon.json", "xmpp.json")]
                             + [os.path.join("prometheus", "replmon.rules.yml")])
            stale = []
            for rel in written:
                with open(os.path.join(outdir, rel), "rb") as f:
                    want = f.read()
                try:
                    with open(os.path.join(REPO, "dashboards", rel), "rb") as f:
                        have = f.read()
                except FileNotFoundError:
                    have = None
                if have != want:
                    stale.append("dashboards/" + rel)
            self.assertEqual(stale, [], "not what dashboards/mixin/ generates: run make "
                             "dashboards and commit")
        finally:
            shutil.rmtree(outdir, ignore_errors=True)

    def test_03b_alert_annotations(self):
        # The monitoring-mixins guidelines: a summary without templates, upper-case first,
        # a final period; a templated description; a runbook_url to the alert's section of
        # docs/runbook.md, which says what to do.
        rc, out = run(["jsonnet", "-e", "(import 'dashboards/mixin/mixin.libsonnet')"
                       ".prometheusAlerts"])
        self.assertEqual(rc, 0, out)
        rules = [r for g in json.loads(out)["groups"] for r in g["rules"] if "alert" in r]
        self.assertEqual(sorted(r["alert"] for r in rules), sorted(ALERTS))
        with open(RUNBOOK, encoding="utf-8") as f:
            runbook = f.read()
        sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", runbook, re.M | re.S))
        problems = []
        for r in rules:
            name, a = r["alert"], r["annotations"]
            summary = a.get("summary", "")
            if "{{" in summary or not summary[:1].isupper() or not summary.endswith("."):
                problems.append("%s: summary %r" % (name, summary))
            if "{{" not in a.get("description", ""):
                problems.append("%s: description without template" % name)
            if not a.get("runbook_url", "").endswith("runbook.md#" + name.lower()):
                problems.append("%s: runbook_url %r" % (name, a.get("runbook_url")))
            if "**What to do:**" not in sections.get(name, ""):
                problems.append("%s: no section saying what to do in docs/runbook.md" % name)
            if "<for>" in a.get("description", ""):
                problems.append("%s: <for> left in the description" % name)
        self.assertEqual(problems, [])

    def test_03c_for_in_descriptions(self):
        # A description that says how long its condition has held takes it from the alert's
        # `for:`, so that a _config.alertFor override keeps the text true.
        override = {"MariaDBNodeDown": ("3m", "for more than 3 minutes"),
                    "MariaDBHeartbeatLagWarning": ("1h", "for an hour"),
                    "XMPPCertificateNotVerified": ("90s", "for 90 seconds")}
        rc, out = run(["jsonnet", "-e", "((import 'dashboards/mixin/mixin.libsonnet') + "
                       "{ _config+:: { alertFor+: %s } }).prometheusAlerts"
                       % json.dumps({k: v[0] for k, v in override.items()})])
        self.assertEqual(rc, 0, out)
        rules = {r["alert"]: r for g in json.loads(out)["groups"] for r in g["rules"]
                 if "alert" in r}
        for name, (duration, words) in override.items():
            self.assertEqual(rules[name]["for"], duration)
            self.assertIn(words, rules[name]["annotations"]["description"], name)

    def test_04_promtool_check_rules(self):
        rc, out = run(["promtool", "check", "rules", RULES])
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS", out)
        self.assertNotRegex(out, r"(?i)warn|error", out)

    def test_05_promtool_test_rules(self):
        rc, out = run(["promtool", "test", "rules", RULES_TEST])
        self.assertEqual(rc, 0, out)
        # Every alert: an expectation that it fires, and one that it does not.
        with open(RULES, encoding="utf-8") as f:
            alerts = alert_names(f.read())
        self.assertEqual(sorted(alerts), sorted(ALERTS))
        with open(RULES_TEST, encoding="utf-8") as f:
            lines = f.read().splitlines()
        fires, quiet = set(), set()
        for i, line in enumerate(lines):
            m = re.match(r"^\s*alertname:\s*(\S+)\s*$", line)
            if not m:
                continue
            nxt = next((line for line in lines[i + 1:] if "exp_alerts" in line), "")
            (quiet if re.search(r"exp_alerts:\s*\[\]", nxt) else fires).add(m.group(1))
        self.assertEqual(sorted(set(alerts) - fires), [],
                         "alerts never expected to fire in rules_test.yml")
        self.assertEqual(sorted(set(alerts) - quiet), [],
                         "alerts never expected to stay quiet in rules_test.yml")
        self.assertEqual(sorted((fires | quiet) - set(alerts)), [],
                         "rules_test.yml tests alerts the rules file does not have")

    def test_06_amtool_check_config(self):
        rc, out = run(["amtool", "check-config", ALERTMANAGER_YML])
        self.assertEqual(rc, 0, out)
        self.assertIn("SUCCESS", out)
        text = open(ALERTMANAGER_YML, encoding="utf-8").read()
        self.assertRegex(text, r"group_by:\s*\[cluster, alertname\]")
        self.assertRegex(text, r"repeat_interval:\s*1h")
        self.assertRegex(text, r"send_resolved:\s*true")
        # Critical alerts go to the on-call chat and to mail, warnings to mail only.
        for labels, want in ((["alertname=MariaDBWriteConflict", "severity=critical"],
                              "oncall-telegram,mail"),
                             (["alertname=MariaDBHeartbeatLagWarning", "severity=warning"],
                              "mail")):
            r = subprocess.run(["amtool", "config", "routes", "test",
                                "--config.file=" + ALERTMANAGER_YML] + labels,
                               capture_output=True, timeout=60, cwd=REPO)
            self.assertEqual((r.returncode, r.stdout.decode().strip()), (0, want),
                             r.stderr.decode("utf-8", "replace"))
        # Every alert an inhibit rule names exists.
        with open(RULES, encoding="utf-8") as f:
            alerts = set(alert_names(f.read()))
        named = set()
        for m in re.finditer(r'alertname=~?"([^"]+)"', text):
            named.update(m.group(1).split("|"))
        self.assertEqual(sorted(named - alerts), [], "inhibit rules name unknown alerts")

    def test_07_inhibition(self):
        workdir = tempfile.mkdtemp(prefix="replmon-inhibit-")
        am = None
        try:
            # Mail goes to a closed local port; group_wait keeps it from being tried.
            am = promstack.Alertmanager(workdir, promstack.alertmanager_test_config(
                ALERTMANAGER_YML, free_port(), group_wait="10m")).start()
            am.wait_ready()
            am.post_alerts([a for a, _ in INHIBITION_CASES])
            want = {self.key(a["labels"]): inhibited for a, inhibited in INHIBITION_CASES}
            deadline = time.monotonic() + 15
            while True:
                got = {}
                for a in am.alerts():
                    labels = {k: v for k, v in a["labels"].items()}
                    got[self.key(labels)] = bool(a["status"].get("inhibitedBy"))
                if got == want or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            wrong = ["%s: inhibited=%s, want %s" % (k, got.get(k), v)
                     for k, v in sorted(want.items()) if got.get(k) != v]
            self.assertEqual(wrong, [], "Alertmanager log:\n" + am.log_text()[-3000:])
            print("\n    %d alerts, %d inhibited as expected"
                  % (len(want), sum(want.values())))
        finally:
            if am is not None:
                am.stop()
            shutil.rmtree(workdir, ignore_errors=True)

    @staticmethod
    def key(labels):
        keep = ("alertname", "cluster", "node", "source", "from", "to", "database",
                "to_database", "kind", "thread", "class", "check", "remote", "port")
        return " ".join("%s=%s" % (k, labels[k]) for k in keep if k in labels)

    def test_07b_telegram_message_html(self):
        # The example's Telegram message in HTML mode: Alertmanager escapes what it puts in
        # (the rules' `<-`, a label with < and &), so Telegram's parser takes it.
        with open(RULES, encoding="utf-8") as f:
            m = re.search(r"- alert: MariaDBReplicationStalled\n(?:.*\n)*?\s*summary: (.*)\n",
                          f.read())
        labels = {"alertname": "MariaDBReplicationStalled", "severity": "critical",
                  "cluster": "chat<db>&co", "node": "db2", "source": "db1"}
        summary = re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda g: labels[g.group(1)],
                         m.group(1).strip())
        workdir = tempfile.mkdtemp(prefix="replmon-telegram-")
        tg = promstack.TelegramBotApi().start()
        am = None
        try:
            am = promstack.Alertmanager(workdir, promstack.alertmanager_test_config(
                ALERTMANAGER_YML, free_port(), group_wait="1s", telegram_url=tg.url)).start()
            am.wait_ready()
            now = datetime.datetime.now(datetime.timezone.utc)
            am.post_alerts([{"labels": labels, "annotations": {"summary": summary},
                             "startsAt": now.isoformat()}])
            deadline = time.monotonic() + 15
            while not (tg.messages() or tg.rejected()) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertEqual(tg.rejected(), [], "messages Telegram would refuse")
            self.assertEqual(len(tg.messages()), 1, am.log_text()[-3000:])
            text = tg.messages()[0]["text"]
            lines = html.unescape(re.sub(r"<[^>]*>", "", text)).split("\n")
            self.assertEqual(lines[:2], ["FIRING MariaDBReplicationStalled (critical) "
                                         "cluster=chat<db>&co node=db2 source=db1", summary],
                             text)
            print("\n    %r" % text)
        finally:
            if am is not None:
                am.stop()
            tg.stop()
            shutil.rmtree(workdir, ignore_errors=True)

    def test_08_check_queries(self):
        rc, out = run([sys.executable, os.path.join(HERE, "check_queries.py")])
        print("\n    " + out.strip().splitlines()[-1])
        self.assertEqual(rc, 0, out)

    def test_09_linter_knows_readme_metrics(self):
        # The metrics the linter knows are those README.md's tables name: a name in
        # backquotes that ends there or at its labels (not `mariadb_kind.c`, a file name).
        with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        named = set(re.findall(r"`((?:mariadb|replmon|xmpp)_[a-z0-9_]+)(?=[`{])", readme))
        unknown = sorted(m for m in named if m not in lint_dashboards.METRICS
                         and not any(k.startswith(m) for k in lint_dashboards.METRICS))
        self.assertEqual(unknown, [], "metrics in README.md the linter does not know")
        self.assertTrue(check_queries.dashboard_queries())

    def test_10_readme_lists_every_alert(self):
        with open(RULES, encoding="utf-8") as f:
            alerts = alert_names(f.read())
        with open(os.path.join(REPO, "dashboards", "README.md"), encoding="utf-8") as f:
            readme = f.read()
        self.assertEqual([a for a in alerts if "| `%s` |" % a not in readme], [],
                         "alerts missing from the table of dashboards/README.md")

    def test_11_synthetic_metrics_lint_clean(self):
        # What check_queries.py feeds its Prometheus keeps replmon's own rules.
        with open(check_queries.SYNTHETIC, "rb") as f:
            r = subprocess.run(["promtool", "check", "metrics"], input=f.read(),
                               capture_output=True, timeout=60)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertEqual((r.returncode, out), (0, ""), check_queries.SYNTHETIC)
        families = check_queries.synthetic_families()
        unknown = sorted(m for m in families if m not in lint_dashboards.METRICS)
        self.assertEqual(unknown, [], "synthetic families that replmon does not export")


def main(argv):
    return run_suite(TestDashboards, argv, "dashboards", sys.modules[__name__])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
