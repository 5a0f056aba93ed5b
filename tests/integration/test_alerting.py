#!/usr/bin/env python3
"""Integration test of the dashboards, rules and alerting of dashboards/ on real servers.

Run:  python3 tests/integration/test_alerting.py [-v] [TestAlerting.test_03_write_conflict_mail ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      ALERTING_XMPP=0  no ejabberd (the XMPP dashboard's queries are then skipped)
      KEEP_WORKDIR=1 keep the temporary directory (datadirs, configurations, logs, mails)

Starts, all on 127.0.0.1 and each stopped by PID (finally, atexit, SIGTERM/SIGINT):
- the MariaDB 10.11 master-master pair of mariadb_pair.py, plus the heartbeat table
  replmon.heartbeat (created on db1, replicated) with the monitor's grant on it;
- ejabberd 23.01 (xmpp_servers.py) with its API and c2s port, unless ALERTING_XMPP=0 or
  ejabberd is not installed (said so at start), and a monitoring account that replmon's
  logged-in probe uses (probe_account, its certificate as the CA); the node depends_on db1;
- the real build/replmon polling both every second (heartbeat: {table: replmon.heartbeat});
- a real Prometheus 2.42 scraping replmon every second, evaluating a copy of
  dashboards/prometheus/replmon.rules.yml every second with every `for:` cut to 2 s (the
  real file's timing is promtool's job: tests/dashboards/rules_test.yml), and sending
  alerts to
- a real Alertmanager 0.25 running the real dashboards/alertmanager/alertmanager.yml, with
  group_wait 1s, group_interval 2s, repeat_interval 1m, its mail sent to
- an SMTP sink (python3 -m aiosmtpd, Mailbox handler) that files every message in a Maildir,
  and its Telegram messages (the on-call route of critical alerts) sent to
- a stand-in for the Telegram Bot API (promstack.TelegramBotApi, a thread of this process:
  `POST /bot<token>/sendMessage` answered as the real API answers), the example's
  `api_url`, `bot_token` and `chat_id` changed to it and nothing else.

Tests: every rule evaluated with health ok and nothing firing on a healthy pair; every
dashboard query returns at least one series (but those on delivery across a cluster and on
ejabberd cluster membership: one ejabberd node has neither); a duplicate key on db2 (a row
inserted on db2 with sql_log_bin=0, then the same key on db1) sends a FIRING mail for
MariaDBWriteConflict, with MariaDBReplicationThreadDown and the lag alerts of that link
inhibited (no mail), and a FIRING Telegram message with the alert's summary (as
Alertmanager holds it) to the configured token and chat; deleting the row on db2
(sql_log_bin=0) and START SLAVE sends the RESOLVED mail and the RESOLVED Telegram message; a
database that is down inhibits the XMPP alerts it explains: a synthetic
replmon (promstack.MetricsEndpoint) says database syndb1 is down, then that logins and
deliveries fail, and a second Prometheus with the same rules fires them at the same
Alertmanager, which holds back the login alert of the node on syndb1 and the deliveries to
and from it (inhibited, no mail) and mails those of the node on syndb2 and of nodes without
a database. Prints `integration-alerting: N passed, M failed[, K skipped]` last and
exits non-zero on failure. About a minute.
"""

import html
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "dashboards"))
import common  # noqa: E402
from common import is_nan, scrape  # noqa: E402
from mariadb_pair import PairReplmonCase  # noqa: E402
import check_queries  # noqa: E402
import promstack  # noqa: E402

CLUSTER = "chatdb"
XMPP_CLUSTER = "chat"
PROBE_USER, PROBE_PASSWORD = "replmon-probe", "probe-Secret-7"
# What the fixture's single, unclustered ejabberd without s2s_ping cannot export: the
# dashboard queries reading these are not required to answer data (check_queries.py's
# synthetic replmon covers them).
NOT_IN_FIXTURE = ("xmpp_delivery_", "xmpp_cluster_members", "xmpp_cluster_check_ok",
                  "xmpp_s2s_ping_")
RULES = os.path.join(REPO, "dashboards", "prometheus", "replmon.rules.yml")
ALERTMANAGER_YML = os.path.join(REPO, "dashboards", "alertmanager", "alertmanager.yml")
TEST_FOR = "2s"          # every `for:` of the rules in the test copy
HEALTHY_BOUND_S = 30.0   # pair + replmon healthy before Prometheus starts
DATA_BOUND_S = 30.0      # every dashboard query answering data
MAIL_BOUND_S = 60.0      # from the fault (or the repair) to its mail
INHIBIT_BOUND_S = 40.0   # from the fault to the lag alerts reaching Alertmanager


def log(msg):
    """Indented under unittest's verbose test line; a leading newline starts a new line."""
    lead = "\n" if msg.startswith("\n") else ""
    print(lead + "    " + msg.lstrip("\n"), flush=True)


def xmpp_wanted():
    """(wanted, why not)."""
    if os.environ.get("ALERTING_XMPP", "1") == "0":
        return False, "ALERTING_XMPP=0"
    if not shutil.which(os.environ.get("EJABBERDCTL", "ejabberdctl")):
        return False, "ejabberdctl not found (Debian package ejabberd)"
    return True, ""


def write_config(pair, path, workdir, ej=None):
    pair.write_replmon_config(path, "monitor", os.path.join(workdir, "monitor.pass"),
                              poll_interval="1s", connect_timeout="1s", query_timeout="2s",
                              cluster=CLUSTER,
                              cluster_extra="    heartbeat: {table: replmon.heartbeat}\n")
    with open(path) as f:
        text = f.read()
    if ej is not None:
        secret = os.path.join(workdir, "xmpp-probe.pass")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(PROBE_PASSWORD + "\n")
        text += ("xmpp:\n"
                 "  - cluster: %s\n"
                 "    nodes:\n"
                 "      - name: ej1\n"
                 "        type: ejabberd\n"
                 "        api_url: %s\n"
                 "        c2s_address: %s\n"
                 "        domain: %s\n"
                 "        probe_account: {jid: %s@%s, password_file: %s}\n"
                 "        tls: {ca_file: %s}\n"
                 "        depends_on: [db1]\n"
                 % (XMPP_CLUSTER, ej.api_url(), ej.c2s_address(), ej.domain, PROBE_USER,
                    ej.domain, secret, ej.cert))
    with open(path, "w") as f:
        f.write(text)
    return path


# test_04's synthetic replmon: names of its own, so that nothing it fires is about the
# fixture's pair or ejabberd (the inhibit rules compare `database` alone).
SYN_DB, SYN_CHAT, SYN_NODB = "db-syn", "chat-syn", "chat-nodb"


def synthetic_metrics(xmpp_failing):
    """/metrics of test_04's synthetic replmon: MariaDB node syndb1 (cluster db-syn) down,
    syndb2 up; chat nodes synej1 (depends_on syndb1) and synej2 (syndb2) of chat-syn, synx1
    and synx2 (no depends_on) of chat-nodb, each cluster with a delivery probe both ways
    (one way for chat-nodb). With xmpp_failing, every login and every delivery fails."""
    ok = 0 if xmpp_failing else 1
    syn, nodb = 'cluster="%s"' % SYN_CHAT, 'cluster="%s"' % SYN_NODB
    families = [
        ("mariadb_up", [('cluster="%s",node="syndb1"' % SYN_DB, 0),
                        ('cluster="%s",node="syndb2"' % SYN_DB, 1)]),
        ("xmpp_up", [('%s,node="%s"' % (c, n), 1) for c, n in
                     ((syn, "synej1"), (syn, "synej2"), (nodb, "synx1"), (nodb, "synx2"))]),
        ("xmpp_node_database_info",
         [('%s,node="synej%d",database="syndb%d",database_cluster="%s"' % (syn, i, i, SYN_DB),
           1) for i in (1, 2)]),
        ("xmpp_login_success", [('%s,node="synej1"' % syn, ok), ('%s,node="synej2"' % syn, ok)]),
        ("xmpp_delivery_success", [('%s,from="synej1",to="synej2"' % syn, ok),
                                   ('%s,from="synej2",to="synej1"' % syn, ok),
                                   ('%s,from="synx1",to="synx2"' % nodb, ok)]),
    ]
    lines = []
    for name, samples in families:
        lines += ["# HELP %s Synthetic." % name, "# TYPE %s gauge" % name]
        lines += ["%s{%s} %d" % (name, labels, value) for labels, value in samples]
    return "\n".join(lines) + "\n"


def alert_key(labels):
    """alertname and what the alert is about: its node, or its from>to."""
    about = labels.get("node") or "%s>%s" % (labels.get("from"), labels.get("to"))
    return "%s %s %s" % (labels.get("alertname"), labels.get("cluster"), about)


def firing_lines(text):
    """alert_key() of every FIRING alert a mail's text (alertmanager.yml's `text`) lists."""
    out = []
    for m in re.finditer(r"^FIRING (\S+) \(\w+\) cluster=(\S+)(.*)$", text, re.M):
        rest = dict(re.findall(r" (\w+)=(\S+)", m.group(3)))
        rest.update(alertname=m.group(1), cluster=m.group(2))
        out.append(alert_key(rest))
    return out


def link(node, source):
    return dict(cluster=CLUSTER, node=node, source=source)


def healthy(m):
    for node, source in (("db1", "db2"), ("db2", "db1")):
        if m.get("mariadb_replica_link_up", **link(node, source)) != 1:
            return False
        lag = m.get("mariadb_heartbeat_lag_seconds", **link(node, source))
        if lag is None or is_nan(lag) or lag >= 1.0:
            return False
    return all(m.get("mariadb_up", cluster=CLUSTER, node=n) == 1 for n in ("db1", "db2"))


class TestAlerting(PairReplmonCase):
    LABEL = "integration-alerting"
    KEPT = "logs, configurations and mails"
    WORKDIR_PREFIX = "replmon-alerting-"
    REPLMON_TAG = "alerting"
    CLUSTER = CLUSTER
    ej = smtp = am = prom = telegram = None
    xmpp_skip_reason = ""
    timings = []

    @classmethod
    def start_fixture(cls):
        t0 = time.monotonic()
        wanted, why = xmpp_wanted()
        if wanted:
            from xmpp_servers import Ejabberd
            cls.ej = Ejabberd(os.path.join(cls.workdir, "ejabberd"))
            cls.ej.launch()  # starts while the pair is being built
        else:
            cls.xmpp_skip_reason = why
            print("integration-alerting: no XMPP server (%s): the XMPP dashboard's "
                  "queries will be skipped" % why, flush=True)
        super().start_fixture()  # the pair, its heartbeat table, replmon
        cls._wait_healthy()
        cls.smtp = promstack.SmtpSink(cls.workdir).start()
        cls.telegram = promstack.TelegramBotApi().start()
        cls.am = promstack.Alertmanager(cls.workdir, promstack.alertmanager_test_config(
            ALERTMANAGER_YML, cls.smtp.port, group_wait="1s", group_interval="2s",
            repeat_interval="1m", telegram_url=cls.telegram.url)).start()
        cls.rules_copy = rules = os.path.join(cls.workdir, "replmon.rules.test.yml")
        n = promstack.rules_test_copy(RULES, rules, TEST_FOR)
        if n < 17:
            raise RuntimeError("only %d `for:` replaced in the rules' test copy" % n)
        cls.prom = promstack.Prometheus(
            cls.workdir, rule_files=[rules],
            scrape={"replmon": ["127.0.0.1:%d" % cls.replmon.port]},
            alertmanager="127.0.0.1:%d" % cls.am.port).start()
        cls.am.wait_ready()
        cls.prom.wait_ready()
        log("\nstarted in %.1f s: pair %d/%d, replmon %d, %sPrometheus %d, "
            "Alertmanager %d, SMTP %d, Telegram Bot API %d" % (
                time.monotonic() - t0, cls.pair.port(0), cls.pair.port(1),
                cls.replmon.port,
                ("ejabberd %s, " % cls.ej.api_url()) if cls.ej else "",
                cls.prom.port, cls.am.port, cls.smtp.port, cls.telegram.port))

    @classmethod
    def prepare_pair(cls):
        cls.pair.setup_heartbeat()
        if cls.ej is not None:
            cls.ej.wait_ready()
            cls.ej.register(PROBE_USER, PROBE_PASSWORD)

    @classmethod
    def make_config(cls, path):
        return write_config(cls.pair, path, cls.workdir, cls.ej)

    @classmethod
    def _wait_healthy(cls):
        deadline = time.monotonic() + HEALTHY_BOUND_S
        while True:
            try:
                m = scrape(cls.replmon.port)[0]
                if healthy(m):
                    return
            except (OSError, AssertionError):
                m = None
            if time.monotonic() > deadline:
                raise RuntimeError("pair not healthy in replmon's eyes after %.0f s:\n%s"
                                   % (HEALTHY_BOUND_S, m.lines("link_up", "heartbeat_lag",
                                                               "mariadb_up") if m else ""))
            time.sleep(0.2)

    @classmethod
    def stop_fixture(cls):
        for attr in ("prom", "am", "smtp", "telegram", "replmon"):
            srv = getattr(cls, attr)
            if srv is not None:
                try:
                    srv.stop()
                except Exception as e:  # keep stopping the others
                    print("integration-alerting: stopping %s: %s" % (attr, e), file=sys.stderr)
                setattr(cls, attr, None)
        if cls.ej is not None:
            cls.ej.stop()
            cls.ej = None
        super().stop_fixture()  # the pair

    # ------------------------------------------------------------------ helpers
    def setUp(self):
        for name in ("replmon", "prom", "am", "smtp"):
            srv = getattr(self, name)
            self.assertIsNotNone(srv, "%s was stopped by an earlier failure" % name)
            self.assertIsNone(srv.proc.poll(), "%s exited with %s" % (name, srv.proc.returncode))

    def prom_alerts(self):
        status, answer = self.prom.get_json("/api/v1/alerts")
        self.assertEqual(status, 200, answer)
        return answer["data"]["alerts"]

    def wait(self, what, predicate, bound, every=0.5):
        """Polls predicate() until it returns something true; returns (it, seconds)."""
        t0 = time.monotonic()
        while True:
            got = predicate()
            if got:
                return got, time.monotonic() - t0
            if time.monotonic() - t0 > bound:
                self.fail("%s: not within %.0f s" % (what, bound))
            time.sleep(every)

    def telegram_message(self, status, summary, since):
        """Waits for the Telegram message of MariaDBWriteConflict on db2 <- db1 in the
        given status (after the first `since` messages): sent to the configured token and
        chat in HTML, its first line the status in bold and the alert's labels, its second
        the summary."""
        head = ("%s MariaDBWriteConflict (critical) cluster=%s node=db2 source=db1"
                % (status, CLUSTER))

        def arrived():
            for m in self.telegram.messages()[since:]:
                lines = html.unescape(re.sub(r"<[^>]*>", "", m["text"] or "")).split("\n")
                if head in lines:
                    return m, lines
            return None
        (m, lines), secs = self.wait("%s Telegram message for MariaDBWriteConflict" % status,
                                     arrived, MAIL_BOUND_S)
        log("%s Telegram message (%.1f s after the mail): %r" % (status, secs, m["text"]))
        self.assertEqual(m["path"], "/bot%s/sendMessage" % promstack.TELEGRAM_TEST_TOKEN)
        self.assertEqual(str(m["chat_id"]), str(promstack.TELEGRAM_TEST_CHAT_ID), m)
        self.assertEqual(m["parse_mode"], "HTML", m)
        self.assertEqual(self.telegram.rejected(), [], "messages Telegram would refuse")
        self.assertIn("<b>%s</b>" % status, m["text"])
        i = lines.index(head)
        self.assertEqual(lines[i + 1:i + 2], [summary], "the summary follows:\n%s" % m["text"])

    def mails(self, since=0):
        return self.smtp.messages()[since:]

    def am_alerts(self, alertname, **labels):
        return [a for a in self.am.alerts()
                if a["labels"].get("alertname") == alertname
                and all(a["labels"].get(k) == v for k, v in labels.items())]

    # ------------------------------------------------------------------ tests
    def test_01_rules_healthy(self):
        # replmon is scraped, every rule has been evaluated with health ok
        self.wait("Prometheus scraping replmon",
                  lambda: [r for r in self.prom.query('up{job="replmon"} == 1')[1]
                           .get("data", {}).get("result", [])], 20)
        groups = check_queries.wait_rules(self.prom)
        problems = check_queries.check_rules(self.prom, groups, check_queries.dashboard_queries(),
                                             expected_file=RULES)
        self.assertEqual(problems, [], "rule problems")
        if self.ej is not None:
            # ej1's depends_on, as the XMPP alerts see it (the rules' first evaluations may
            # have come before the first scrape)
            def ej1_databases():
                _, answer = self.prom.query('cluster_node:xmpp_database:info{node="ej1"}')
                return [r["metric"].get("database") for r in answer["data"]["result"]]
            got, _ = self.wait("cluster_node:xmpp_database:info of ej1", ej1_databases, 10)
            self.assertEqual(got, ["db1"])
        names = sorted(g["name"] for g in groups)
        log("\n%d rule groups (%s), %d rules, all health ok"
            % (len(groups), ", ".join(names), sum(len(g["rules"]) for g in groups)))
        # a healthy pair fires nothing (a few evaluations beyond the 2 s `for:`)
        time.sleep(4)
        firing = [(a["labels"].get("alertname"), a["labels"]) for a in self.prom_alerts()
                  if a.get("state") == "firing"]
        self.assertEqual(firing, [], "alerts firing on a healthy pair")

    def test_02_dashboard_queries_return_data(self):
        queries = check_queries.dashboard_queries()

        def not_in_fixture(q):
            return any(m.startswith(NOT_IN_FIXTURE) for m in q.metrics)
        skip = (lambda q: q.xmpp) if self.ej is None else not_in_fixture
        skipped = [q for q in queries if skip(q)]
        t0 = time.monotonic()
        while True:
            problems = check_queries.check_dashboards(self.prom, queries, {"node": "db1"},
                                                      require_data=True, skip=skip)
            if not problems or time.monotonic() - t0 > DATA_BOUND_S:
                break
            time.sleep(1)
        self.assertEqual(problems, [], "dashboard queries without data:\n" + "\n".join(problems))
        log("\n%d dashboard queries (panels and variables) answered data after %.1f s"
            % (len(queries) - len(skipped), time.monotonic() - t0))
        if skipped and self.ej is None:
            log("%d XMPP queries skipped: no XMPP server configured (%s)"
                % (len(skipped), self.xmpp_skip_reason))
        elif skipped:
            log("%d queries skipped: one unclustered ejabberd has no delivery probe, no "
                "cluster members and no s2s_ping (%s)" % (len(skipped), ", ".join(
                    sorted({q.panel for q in skipped}))))

    def test_03_write_conflict_mail(self):
        before = len(self.smtp.messages())
        telegram_before = len(self.telegram.messages())
        key = self.pair.cause_duplicate_key(base=5000)
        t0 = time.monotonic()
        healed = False
        try:
            def firing_mail():
                return [m for m in self.mails(before)
                        if m[0].startswith("[FIRING") and "MariaDBWriteConflict" in m[0]]
            mails, secs = self.wait("FIRING mail for MariaDBWriteConflict", firing_mail,
                                    MAIL_BOUND_S)
            subject, text, msg = mails[0]
            log("\nduplicate key on db2: mail %.1f s later: %s" % (secs, subject))
            self.record("conflict_to_firing_mail", secs)
            self.assertIn(CLUSTER, subject)
            self.assertEqual(msg["To"], "dba-oncall@example.org")
            for needle in ("FIRING MariaDBWriteConflict (critical)", "node=db2", "source=db1",
                           "A write conflict stopped replication.",
                           "stopped on a duplicate_key error while applying a change from db1"):
                self.assertIn(needle, text, "mail text:\n" + text)
            # The on-call chat gets it too (critical), with the summary Alertmanager holds.
            conflict = self.am_alerts("MariaDBWriteConflict", cluster=CLUSTER, node="db2")
            self.assertEqual(len(conflict), 1, conflict)
            summary = conflict[0]["annotations"]["summary"]
            self.telegram_message("FIRING", summary, telegram_before)

            # The SQL thread of db2 <- db1 is down and its lag grows past 5 s: both alerts
            # reach Alertmanager, inhibited by the write conflict, and send no mail.
            def inhibited():
                found = []
                for name, labels in (("MariaDBReplicationThreadDown", dict(thread="sql")),
                                     ("MariaDBHeartbeatLagWarning", {})):
                    got = self.am_alerts(name, node="db2", source="db1", cluster=CLUSTER,
                                         **labels)
                    if not got:
                        return None
                    found += got
                return found
            found, secs = self.wait("ThreadDown and HeartbeatLagWarning of db2 <- db1 in "
                                    "Alertmanager", inhibited, INHIBIT_BOUND_S)
            log("thread-down and lag alerts in Alertmanager %.1f s after the conflict mail"
                % secs)
            for a in found:
                self.assertEqual(a["status"]["state"], "suppressed", a)
                self.assertTrue(a["status"]["inhibitedBy"], a)
            time.sleep(4)  # two group_intervals: a mail that was not inhibited would be out
            leaked = [m[0] for m in self.mails(before)
                      if "MariaDBReplicationThreadDown" in m[0]
                      or "MariaDBHeartbeatLag" in m[0]]
            self.assertEqual(leaked, [], "mails for inhibited alerts")

            # Repair: the row goes on db2 (not binlogged), the SQL thread restarts and
            # applies db1's insert; the RESOLVED mail follows.
            self.pair.repair_duplicate_key(key)
            healed = True

            def resolved_mail():
                return [m for m in self.mails(before)
                        if m[0].startswith("[RESOLVED]") and "MariaDBWriteConflict" in m[0]]
            mails, secs = self.wait("RESOLVED mail for MariaDBWriteConflict", resolved_mail,
                                    MAIL_BOUND_S)
            subject, text, _ = mails[0]
            log("repaired: mail %.1f s later: %s" % (secs, subject))
            self.record("repair_to_resolved_mail", secs)
            self.assertIn("RESOLVED MariaDBWriteConflict (critical)", text, text)
            self.assertIn("resolved", text)
            self.telegram_message("RESOLVED", summary, telegram_before)
            self.pair.wait_replicating(30)
            self.pair.sync(30)
            self.assertEqual(self.pair.sql(1, "SELECT v FROM app.t WHERE id=%d" % key), [("1",)])
            log("mails received: %s" % [m[0] for m in self.mails(before)])
            log("from the fault to the resolved mail: %.1f s" % (time.monotonic() - t0))
        finally:
            if not healed:
                self.pair.repair_duplicate_key(key)

    def test_04_database_down_inhibits_xmpp_alerts(self):
        before = len(self.smtp.messages())
        endpoint = promstack.MetricsEndpoint(synthetic_metrics(xmpp_failing=False)).start()
        prom = None
        try:
            prom = promstack.Prometheus(
                os.path.join(self.workdir, "synthetic"), rule_files=[self.rules_copy],
                scrape={"synthetic": [endpoint.target]},
                alertmanager="127.0.0.1:%d" % self.am.port).start()
            prom.wait_ready()
            # The database first. In the field the XMPP alerts' `for:` (2m) outlasts
            # MariaDBNodeDown's (1m); here every `for:` is 2 s, so the test keeps the order.
            _, secs = self.wait("MariaDBNodeDown of syndb1 in Alertmanager",
                                lambda: self.am_alerts("MariaDBNodeDown", cluster=SYN_DB,
                                                       node="syndb1"), INHIBIT_BOUND_S)
            log("\nsynthetic syndb1 down: MariaDBNodeDown in Alertmanager after %.1f s" % secs)
            endpoint.set_text(synthetic_metrics(xmpp_failing=True))
            t0 = time.monotonic()
            # alert_key -> (inhibited, database, to_database)
            want = {
                "XMPPLoginFailing chat-syn synej1": (True, "syndb1", None),
                "XMPPLoginFailing chat-syn synej2": (False, "syndb2", None),
                "XMPPDeliveryFailing chat-syn synej1>synej2": (True, "syndb1", "syndb2"),
                "XMPPDeliveryFailing chat-syn synej2>synej1": (True, "syndb2", "syndb1"),
                "XMPPDeliveryFailing chat-nodb synx1>synx2": (False, None, None),
            }

            def arrived():
                got = {alert_key(a["labels"]): a for a in self.am.alerts()
                       if a["labels"].get("alertname", "").startswith("XMPP")
                       and a["labels"].get("cluster") in (SYN_CHAT, SYN_NODB)}
                return got if set(got) == set(want) else None
            got, secs = self.wait("the XMPP alerts of the synthetic replmon in Alertmanager",
                                  arrived, INHIBIT_BOUND_S)
            self.record("xmpp_fault_to_alertmanager", secs)
            for key, (inhibited, database, to_database) in sorted(want.items()):
                a = got[key]
                self.assertEqual((a["labels"].get("database"), a["labels"].get("to_database")),
                                 (database, to_database), a)
                self.assertEqual((a["status"]["state"], bool(a["status"]["inhibitedBy"])),
                                 ("suppressed" if inhibited else "active", inhibited), a)
            # The API's own filter agrees: without ?inhibited, the inhibited ones are gone.
            status, shown = self.am.get_json("/api/v2/alerts?inhibited=false")
            self.assertEqual(status, 200, shown)
            shown = {alert_key(a["labels"]) for a in shown}
            self.assertEqual(sorted(k for k, v in want.items() if v[0] and k in shown), [])
            self.assertEqual(sorted(k for k, v in want.items() if not v[0] and k not in shown),
                             [])
            held = sorted(k for k, v in want.items() if v[0])
            log("XMPP alerts in Alertmanager %.1f s after the logins failed: %s inhibited by "
                "MariaDBNodeDown, %s not" % (secs, held, sorted(set(want) - set(held))))

            # The mails: those not inhibited go out, the inhibited never do.
            def mailed():
                keys = [k for m in self.mails(before) for k in firing_lines(m[1])]
                return keys if all(k in keys for k, v in want.items() if not v[0]) else None
            _, secs = self.wait("FIRING mails of the XMPP alerts that are not inhibited",
                                mailed, MAIL_BOUND_S)
            time.sleep(4)  # two group_intervals: a mail that was not inhibited would be out
            mails = self.mails(before)
            keys = [k for m in mails for k in firing_lines(m[1])]
            self.assertEqual([k for k, v in want.items() if v[0] and k in keys], [],
                             "mails for inhibited alerts: %s" % [m[0] for m in mails])
            login = [m for m in mails if "XMPPLoginFailing" in m[0]]
            self.assertIn("FIRING XMPPLoginFailing (critical) cluster=chat-syn node=synej2 "
                          "database=syndb2", login[0][1], login[0][1])
            delivery = [m for m in mails if "XMPPDeliveryFailing" in m[0]]
            self.assertIn("cluster=chat-nodb from=synx1 to=synx2", delivery[0][1],
                          delivery[0][1])
            log("mails %.1f s after the logins failed: %s"
                % (time.monotonic() - t0, [m[0] for m in mails]))
        finally:
            if prom is not None:
                prom.stop()
            endpoint.stop()

    @classmethod
    def record(cls, name, seconds):
        cls.timings.append((name, seconds))


def main(argv):
    return common.run_suite(TestAlerting, argv, "integration-alerting",
                            sys.modules[__name__], cleanup=TestAlerting._cleanup,
                            timings_title="timings (seconds):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
