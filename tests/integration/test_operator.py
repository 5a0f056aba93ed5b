#!/usr/bin/env python3
"""Integration tests of the operator surfaces on a real MariaDB pair: replmon-check (exit
codes and formats), /health/<node>, /probe?target= and reload (POST /-/reload, SIGHUP).

Run:  python3 tests/integration/test_operator.py [-v] [TestOperator.test_20_probe ...]
      (run `make` first: it builds build/replmon and build/replmon-check)
Env:  REPLMON        the daemon (default build/replmon, relative to the repo root)
      REPLMON_CHECK  the one-shot check (default build/replmon-check)
      KEEP_WORKDIR=1 keep the temporary directory (datadirs, logs) even when all pass

The pair polls with poll_interval 1s, connect_timeout 1s, query_timeout 2s, lag_warning 5s
and lag_critical 30s. Every fault is undone before its test ends. A daemon endpoint that
answers 404 (not built into this replmon yet) skips its test with the reason.

Prints `integration-operator: N passed, M failed[, K skipped]` last and exits non-zero on
failure. Only the Python standard library, the `mariadb` client and `promtool` are used;
all traffic goes to 127.0.0.1; every process started is stopped by PID (finally, atexit,
SIGTERM/SIGINT).
"""

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import mariadb_pair  # noqa: E402
from common import Metrics, Replmon, free_port, http, replmon_path, scrape  # noqa: E402
from mariadb_pair import PairReplmonCase  # noqa: E402

CLUSTER = "chatdb"
POLL_S, CONNECT_S, QUERY_S = 1.0, 1.0, 2.0
LAG_WARNING_S, LAG_CRITICAL_S = 5.0, 30.0
# As in test_mariadb.py: a change shows in /metrics within two poll intervals plus the
# timeouts (CONTRACT_S adds 1 s for the test's own cadence); BOUND_S ends a wait.
CONTRACT_S = 2 * POLL_S + CONNECT_S + QUERY_S + 1.0
BOUND_S = 2 * POLL_S + CONNECT_S + QUERY_S + 15.0
SCRAPE_EVERY_S = 0.2
# replmon-check waits at most 2 * poll + connect + 2 * query + 1 s for its two rounds, then
# joins its pollers (a poller in a statement finishes it: connect + 2 * query at most).
CHECK_WAIT_S = 2 * POLL_S + CONNECT_S + 2 * QUERY_S + 1.0
CHECK_BOUND_S = CHECK_WAIT_S + CONNECT_S + 2 * QUERY_S + 3.0
LAGGING_SBM_S = 6     # Seconds_Behind_Master that makes db2 "lagging" (>= lag_warning)
PROBE_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
NAGIOS = re.compile(r"^REPLMON (OK|WARNING|CRITICAL|UNKNOWN) - (.*?)(?: \| (.*))?$")


def check_path():
    p = os.environ.get("REPLMON_CHECK", "build/replmon-check")
    if not os.path.isabs(p):
        p = p if os.path.exists(p) else os.path.join(common.REPO, p)
    return os.path.abspath(p)


class CheckRun:
    """One finished replmon-check: argv, status, stdout, stderr (str), seconds."""

    def __init__(self, argv, status, out, err, secs):
        self.argv, self.status, self.out, self.err, self.secs = argv, status, out, err, secs

    def __str__(self):
        return ("%s\n  exit %s after %.2f s\n  stdout: %s\n  stderr: %s"
                % (" ".join(self.argv), self.status, self.secs, self.out.rstrip() or "(empty)",
                   self.err.rstrip() or "(empty)"))


def run_check(*args, env=None, bound=CHECK_BOUND_S):
    """Runs replmon-check with args to its end (its own session; killed by PID past bound)."""
    argv = [check_path()] + list(args)
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=bound,
                           env=env, start_new_session=True, preexec_fn=common._pdeathsig)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s: still running after %.0f s (stdout %r, stderr %r)"
                             % (" ".join(argv), bound, e.stdout, e.stderr))
    return CheckRun(argv, r.returncode, r.stdout.decode("utf-8", "replace"),
                    r.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


def run_check_on_tty(*args, env=None, bound=CHECK_BOUND_S):
    """replmon-check with stdout on a pseudo-terminal: (status, what it wrote there)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([check_path()] + list(args), stdin=subprocess.DEVNULL,
                                stdout=slave, stderr=subprocess.PIPE, env=env,
                                start_new_session=True, preexec_fn=common._pdeathsig)
        os.close(slave)
        slave = None
        chunks, deadline = [], time.monotonic() + bound
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its side
                    data = b""
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        try:
            status = proc.wait(max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            common.stop_process(proc, bound=2, sig=signal.SIGKILL)
            raise AssertionError("replmon-check on a tty still running after %.0f s" % bound)
        proc.stderr.close()
        return status, b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)


def write_config(path, password_file, nodes, cluster=CLUSTER, extra="", cluster_extra=""):
    """replmon's YAML for one MariaDB cluster of nodes [(name, port)] (cluster_extra: more
    keys of that cluster), plus extra text at the end."""
    text = ("global:\n"
            "  poll_interval: %.0fs\n"
            "  connect_timeout: %.0fs\n"
            "  query_timeout: %.0fs\n"
            "  lag_warning: %.0fs\n"
            "  lag_critical: %.0fs\n"
            "mariadb:\n"
            "  - cluster: %s\n"
            "    user: monitor\n"
            "    password_file: %s\n"
            "%s"
            "    nodes:\n" % (POLL_S, CONNECT_S, QUERY_S, LAG_WARNING_S, LAG_CRITICAL_S,
                              cluster, password_file, cluster_extra))
    for name, port in nodes:
        text += "      - name: %s\n        address: 127.0.0.1:%d\n" % (name, port)
    text += extra
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)  # a reload never reads half a file
    return path


class Writer:
    """Inserts a row on db1 every `every` seconds in a thread, so that a held-up replica
    always has events waiting behind the one it is stuck on."""

    def __init__(self, pair, every=0.5):
        self.pair, self.every = pair, every
        self.stopped = threading.Event()
        self.errors = []
        self.key = 500000 + (int(time.time() * 10) % 100000) * 10
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped.is_set():
            self.key += 1
            try:
                self.pair.sql(0, "INSERT INTO app.t (id, v) VALUES (%d, 1)" % self.key)
            except Exception as e:  # reported by stop()
                self.errors.append(str(e))
            self.stopped.wait(self.every)

    def stop(self):
        self.stopped.set()
        self.thread.join(30)
        return self.errors


class Scraper:
    """Scrapes /metrics every `every` seconds in a thread and keeps every outcome, so that a
    test can ask afterwards whether each scrape answered 200."""

    def __init__(self, port, every=0.1):
        self.port, self.every = port, every
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.results = []  # (monotonic time, status or exception text, seconds)
        self.last = None   # the last good Metrics
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped.is_set():
            t = time.monotonic()
            try:
                status, _, body, secs = http(self.port, timeout=5)
                if status == 200:
                    m = Metrics(body.decode("utf-8"))
                    with self.lock:
                        self.last = m
                with self.lock:
                    self.results.append((t, status, secs))
            except Exception as e:
                with self.lock:
                    self.results.append((t, "%s: %s" % (type(e).__name__, e), 0.0))
            self.stopped.wait(self.every)

    def stop(self):
        self.stopped.set()
        self.thread.join(10)
        with self.lock:
            return list(self.results)


class TestOperator(PairReplmonCase):
    LABEL = "integration-operator"
    WORKDIR_PREFIX = "replmon-op-"
    CLUSTER = CLUSTER
    timings = []
    BOUND_S, CONTRACT_S, SCRAPE_EVERY_S = BOUND_S, CONTRACT_S, SCRAPE_EVERY_S

    @classmethod
    def check_prerequisites(cls):
        for binary in (replmon_path(), check_path()):
            if not os.access(binary, os.X_OK):
                raise RuntimeError("%s not found (run make, or set REPLMON / REPLMON_CHECK)"
                                   % binary)

    @classmethod
    def make_config(cls, path):
        cls.password_file = cls.pair.write_password_file(
            os.path.join(cls.workdir, "monitor.pass"), "monitor")
        return write_config(path, cls.password_file, cls.nodes())

    @classmethod
    def nodes(cls, *names):
        """[(name, port)] of the pair's nodes (both by default)."""
        names = names or ("db1", "db2")
        return [(n, cls.pair.port(mariadb_pair.NODE_NAMES.index(n))) for n in names]

    # ------------------------------------------------------------------ helpers
    def check(self, *args, **kw):
        r = run_check("--config.file=" + kw.pop("config", self.config), *args, **kw)
        print("\n    $ replmon-check %s -> exit %d in %.2f s\n      %s"
              % (" ".join(args), r.status, r.secs,
                 "\n      ".join(r.out.rstrip().splitlines() or ["(no stdout)"])), flush=True)
        return r

    def assert_nagios(self, r, state):
        lines = r.out.splitlines()
        self.assertEqual(len(lines), 1, "nagios output must be one line:\n%s" % r)
        m = NAGIOS.match(lines[0])
        self.assertIsNotNone(m, "not a Nagios plugin line:\n%s" % r)
        self.assertEqual(m.group(1), state, str(r))
        return m

    def perfdata(self, r):
        m = NAGIOS.match(r.out.splitlines()[0])
        self.assertIsNotNone(m.group(3), "no perfdata:\n%s" % r)
        return dict(kv.split("=", 1) for kv in m.group(3).split())

    def json_of(self, r):
        try:
            doc = json.loads(r.out)
        except ValueError as e:
            self.fail("stdout is not JSON (%s):\n%s" % (e, r))
        self.assertEqual(set(doc), {"state", "nodes"}, str(r))
        for n in doc["nodes"]:
            self.assertEqual(set(n), {"cluster", "node", "kind", "state", "reason",
                                      "lag_seconds"}, str(r))
        return doc

    def node_of(self, doc, name):
        found = [n for n in doc["nodes"] if n["node"] == name]
        self.assertEqual(len(found), 1, "node %s in %s" % (name, doc))
        return found[0]

    def endpoint_or_skip(self, path, method="GET", port=None):
        """Skips the test when the daemon does not know path yet (404 page not found)."""
        status, _, body, _ = http(port or self.replmon.port, path, method=method)
        if status == 404 and b"page not found" in body:
            self.skipTest("%s %s answers 404: not in this replmon yet" % (method, path))
        return status, body

    def health(self, node, query="", port=None):
        status, _, body, secs = http(port or self.replmon.port, "/health/%s%s" % (node, query))
        return status, body.decode("utf-8", "replace"), secs

    def wait_health(self, node, status, query="", prefix=None, what=""):
        t0 = time.monotonic()
        last = None
        while True:
            last = self.health(node, query)
            if last[0] == status and (prefix is None or last[1].startswith(prefix)):
                return last, time.monotonic() - t0
            if time.monotonic() - t0 > BOUND_S:
                self.fail("/health/%s%s: not %d%s after %.0f s (last: %d %r)\n%s"
                          % (node, query, status, " " + prefix if prefix else "", BOUND_S,
                             last[0], last[1], what))
            time.sleep(SCRAPE_EVERY_S)

    def start_lag(self):
        """db2 falls behind for real (a MASTER_DELAY is no lag: replmon judges the lag
        beyond it): a session on db2 holds LOCK TABLES app.t READ, so that its SQL thread,
        still running, waits on the first of the rows db1 inserts all the time. Returns
        (writer, lock) once Seconds_Behind_Master on db2 is at least LAGGING_SBM_S; it
        grows by a second a second from there, so a test has about 20 s before the lag
        reaches lag_critical."""
        lock = mariadb_pair.HeldSession(self.pair, 1, "LOCK TABLES app.t READ; SELECT 'locked';",
                                        "locked", "UNLOCK TABLES;")
        writer = Writer(self.pair)
        deadline = time.monotonic() + LAGGING_SBM_S + BOUND_S
        sbm = None
        while True:
            st = self.pair.slave_status(1)
            sbm = st[0].get("Seconds_Behind_Master") if st else None
            if sbm is not None and int(sbm) >= LAGGING_SBM_S:
                print("\n    db2 Seconds_Behind_Master %s (SQL thread held)" % sbm)
                return writer, lock
            if time.monotonic() > deadline:
                writer.stop()
                lock.release()
                self.fail("db2 Seconds_Behind_Master not >= %d with its SQL thread held: %r"
                          % (LAGGING_SBM_S, sbm))
            time.sleep(0.2)

    def stop_lag(self, held):
        writer, lock = held
        errors = writer.stop()
        lock.release()
        self.wait_restored("lag")
        self.pair.sync(BOUND_S)
        self.assertEqual(errors[:3], [], "the writer on db1 failed")

    # ------------------------------------------------------------------ replmon-check
    def test_01_check_healthy(self):
        self.wait_restored("start")
        r = self.check("--format=text")
        self.assertEqual(r.status, 0, str(r))
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split(), ["NODE", "KIND", "CLUSTER", "STATE", "LAG", "REASON"],
                         str(r))
        rows = {line.split()[0]: line.split() for line in lines[1:]}
        self.assertEqual(set(rows), {"db1", "db2"}, str(r))
        for node, row in rows.items():
            self.assertEqual(row[1:4], ["mariadb", CLUSTER, "OK"], str(r))
            self.assertRegex(row[4], r"^\d+\.\ds$", "lag column of %s" % node)
        self.assertNotIn("\033[", r.out, "colour on a pipe")
        self.assertEqual(r.err, "", "stderr of a healthy check")

        r = self.check("--format=nagios")
        self.assertEqual(r.status, 0, str(r))
        self.assertTrue(r.out.startswith("REPLMON OK - "), str(r))
        self.assert_nagios(r, "OK")
        perf = self.perfdata(r)
        self.assertRegex(perf.get("lag", ""), r"^\d+(\.\d+)?s;5;30$", str(r))
        self.assertEqual((perf.get("io"), perf.get("sql")), ("1", "1"), str(r))

        r = self.check("--format=json")
        self.assertEqual(r.status, 0, str(r))
        doc = self.json_of(r)
        self.assertEqual(doc["state"], "ok")
        self.assertEqual([n["node"] for n in doc["nodes"]], ["db1", "db2"])
        for n in doc["nodes"]:
            self.assertEqual((n["cluster"], n["kind"], n["state"]), (CLUSTER, "mariadb", "ok"))
            self.assertIsInstance(n["lag_seconds"], (int, float), str(n))
            self.assertLess(n["lag_seconds"], LAG_WARNING_S)
            self.assertTrue(n["reason"].startswith("replicating"), n["reason"])

        r = self.check("--node=db2", "--format=json")
        self.assertEqual(r.status, 0, str(r))
        self.assertEqual([n["node"] for n in self.json_of(r)["nodes"]], ["db2"])
        self.assertLess(r.secs, CHECK_WAIT_S, "a healthy pair is checked in two poll rounds")

        # Colour on a terminal only, and never with NO_COLOR.
        status, out = run_check_on_tty("--config.file=" + self.config)
        self.assertEqual(status, 0, out)
        self.assertIn("\033[32mOK\033[0m", out, "green OK on a terminal")
        env = dict(os.environ, NO_COLOR="1")
        status, out = run_check_on_tty("--config.file=" + self.config, env=env)
        self.assertEqual(status, 0, out)
        self.assertNotIn("\033[", out, "colour despite NO_COLOR")

    def test_02_check_lagging(self):
        self.wait_restored("start")
        held = self.start_lag()
        try:
            r = self.check("--format=nagios")
            self.assertEqual(r.status, 1, str(r))
            m = self.assert_nagios(r, "WARNING")
            self.assertRegex(m.group(2), r"^db2: lag \d+\.\ds >= 5\.0s", str(r))
            perf = self.perfdata(r)
            lag = float(perf["lag"].split(";")[0].rstrip("s"))
            self.assertTrue(LAG_WARNING_S <= lag < LAG_CRITICAL_S, str(r))
            self.assertTrue(perf["lag"].endswith("s;5;30"), str(r))
            self.assertEqual((perf.get("io"), perf.get("sql")), ("1", "1"), str(r))

            r = self.check("--format=json")
            self.assertEqual(r.status, 1, str(r))
            doc = self.json_of(r)
            self.assertEqual(doc["state"], "warning")
            db2 = self.node_of(doc, "db2")
            self.assertEqual(db2["state"], "warning", str(db2))
            self.assertIn("lag", db2["reason"])
            self.assertGreaterEqual(db2["lag_seconds"], LAG_WARNING_S)
            self.assertEqual(self.node_of(doc, "db1")["state"], "ok")

            r = self.check("--format=text", "--node=db2")
            self.assertEqual(r.status, 1, str(r))
            rows = [line.split() for line in r.out.splitlines()[1:]]
            self.assertEqual([(x[0], x[3]) for x in rows], [("db2", "WARNING")], str(r))
            self.assertEqual(self.check("--node=db1", "--format=nagios").status, 0)
        finally:
            self.stop_lag(held)

    def test_03_check_broken_sql(self):
        self.wait_restored("start")
        key = self.pair.cause_duplicate_key()
        try:
            deadline = time.monotonic() + BOUND_S
            while True:
                st = self.pair.slave_status(1)
                if st and st[0].get("Last_SQL_Errno") == "1062":
                    break
                if time.monotonic() > deadline:
                    self.fail("db2's SQL thread did not stop on 1062: %r" % st)
                time.sleep(0.1)
            r = self.check("--format=nagios")
            self.assertEqual(r.status, 2, str(r))
            m = self.assert_nagios(r, "CRITICAL")
            self.assertTrue(m.group(2).startswith("db2: replication from db1 broken"), str(r))
            self.assertIn("1062", m.group(2), str(r))
            self.assertIn("ok: db1", m.group(2), str(r))
            perf = self.perfdata(r)
            self.assertEqual((perf.get("io"), perf.get("sql")), ("1", "0"), str(r))

            r = self.check("--format=json", "--node=db2")
            self.assertEqual(r.status, 2, str(r))
            doc = self.json_of(r)
            self.assertEqual(doc["state"], "critical")
            db2 = self.node_of(doc, "db2")
            self.assertEqual(db2["state"], "critical")
            self.assertIn("SQL error 1062", db2["reason"])

            r = self.check()
            self.assertEqual(r.status, 2, str(r))
            self.assertRegex(r.out, r"(?m)^db2 +mariadb +%s +CRITICAL +.*1062" % CLUSTER)
            self.assertEqual(self.check("--node=db1").status, 0)
        finally:
            self.pair.repair_duplicate_key(key)
        self.wait_restored("duplicate key")
        self.pair.sync(BOUND_S)
        self.assertEqual(self.check("--format=nagios").status, 0)

    def test_04_check_unreachable(self):
        closed = free_port()
        extra = ("  - cluster: ghost\n"
                 "    user: monitor\n"
                 "    password_file: %s\n"
                 "    nodes:\n"
                 "      - name: gone\n"
                 "        address: 127.0.0.1:%d\n" % (self.password_file, closed))
        config = write_config(os.path.join(self.workdir, "unreachable.yml"), self.password_file,
                              self.nodes(), extra=extra)
        r = self.check("--format=nagios", config=config)
        self.assertEqual(r.status, 2, str(r))
        m = self.assert_nagios(r, "CRITICAL")
        self.assertRegex(m.group(2), r"^gone: unreachable: connect", str(r))
        self.assertIn("ok: db1, db2", m.group(2))
        r = self.check("--format=json", "--node=gone", config=config)
        self.assertEqual(r.status, 2, str(r))
        gone = self.node_of(self.json_of(r), "gone")
        self.assertEqual((gone["state"], gone["lag_seconds"]), ("critical", None))
        r = self.check("--format=nagios", "--node=gone", config=config)
        self.assertEqual(r.status, 2, str(r))
        self.assertEqual(self.perfdata(r), {"lag": "U;5;30"}, str(r))
        # The other cluster is not waited for, nor affected.
        self.assertEqual(self.check("--node=db1", config=config).status, 0)

    def test_05_check_bad_config_and_flags(self):
        bad = os.path.join(self.workdir, "bad.yml")
        with open(bad, "w") as f:
            f.write("global:\n  poll_interval: banana\n")
        for fmt in ("text", "nagios", "json"):
            r = self.check("--format=" + fmt, config=bad)
            self.assertEqual(r.status, 3, str(r))
            err = r.err.splitlines()
            self.assertEqual(len(err), 1, "one line on stderr:\n%s" % r)
            self.assertRegex(err[0], r"bad\.yml:2:\d+: .*banana", str(r))
            if fmt == "nagios":
                self.assert_nagios(r, "UNKNOWN")
            elif fmt == "json":
                self.assertEqual(json.loads(r.out)["state"], "unknown", str(r))
        r = run_check("--config.file=" + os.path.join(self.workdir, "no-such.yml"))
        self.assertEqual(r.status, 3, str(r))
        self.assertEqual(len(r.err.splitlines()), 1, str(r))
        r = self.check("--node=nosuch")
        self.assertEqual(r.status, 3, str(r))
        self.assertEqual(len(r.err.splitlines()), 1, str(r))
        self.assertIn("nosuch", r.err)
        self.assertIn("db1, db2", r.err, "the message lists the node names")
        for args in (["--format=xml"], ["--timeout=soon"], ["--bogus"], ["extra"]):
            r = self.check(*args)
            self.assertEqual(r.status, 3, str(r))
            self.assertEqual(len(r.err.splitlines()), 1, str(r))
        r = run_check("--node=db1")
        self.assertEqual(r.status, 3, "no --config.file:\n%s" % r)
        for flag in ("--help", "--version"):
            r = run_check(flag)
            self.assertEqual((r.status, r.err), (0, ""), str(r))
            self.assertIn("replmon-check", r.out)

    def test_06_check_heartbeat_lag(self):
        """With a heartbeat table, replmon-check writes heartbeats in its two rounds and
        measures the lag by them. The rows it finds on a replica may be old (the last run,
        or the last daemon, wrote them a minute ago): a link some 6 to 20 s behind must still
        read as lagging that much (WARNING), not as the age of that old row."""
        self.wait_restored("start")
        self.setup_heartbeat_table()
        config = write_config(os.path.join(self.workdir, "heartbeat.yml"), self.password_file,
                              self.nodes(), cluster_extra="    heartbeat: {table: "
                              "replmon.heartbeat, write: true}\n")
        r = self.check("--format=json", config=config)
        self.assertEqual(r.status, 0, str(r))
        for n in self.json_of(r)["nodes"]:
            self.assertLess(n["lag_seconds"], 1.0, str(n))
        # The rows as a run a minute ago left them (sql_log_bin=0: each node its own).
        for i in (0, 1):
            self.pair.sql(i, "SET sql_log_bin=0; UPDATE replmon.heartbeat "
                             "SET ts = ts - INTERVAL 60 SECOND")
        held = self.start_lag()
        try:
            sbm = self.pair.slave_status(1)[0].get("Seconds_Behind_Master")
            r = self.check("--format=nagios", "--node=db2", config=config)
            self.assertEqual(r.status, 1, "db2 is %s s behind, with heartbeat rows a minute "
                             "old before this run:\n%s" % (sbm, r))
            self.assert_nagios(r, "WARNING")
        finally:
            self.stop_lag(held)

    def setup_heartbeat_table(self):
        if self.pair.value(0, "SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                              "TABLE_SCHEMA='replmon' AND TABLE_NAME='heartbeat'") == "0":
            self.pair.setup_heartbeat(BOUND_S)

    # ------------------------------------------------------------------ /health/<node>
    def test_10_health(self):
        self.wait_restored("start")
        self.endpoint_or_skip("/health/db1")
        (status, text, _), _ = self.wait_health("db1", 200, prefix="OK: replicating")
        self.assertEqual(self.health("db2")[0], 200)
        self.assertEqual(self.health("nosuch")[0], 404)
        self.assertEqual(self.health("db1", "?max_lag=banana")[0], 400)
        # A name is matched whole after percent-decoding; what cannot be a name is refused.
        self.assertEqual(self.health("db%31")[0], 200)
        for name in ("db1%00zzz", "db1%00", "db1%2Fzzz", "db1%zz", "db1%"):
            status, text, _ = self.health(name)
            self.assertEqual(status, 400, "/health/%s: %d %s" % (name, status, text))
        self.assertEqual(self.health("db1", "?max_lag=10s%00zzz")[0], 400)
        self.pair.sql(0, "STOP SLAVE IO_THREAD")
        t0 = time.monotonic()
        try:
            (status, text, _), secs = self.wait_health("db1", 503, prefix="CRITICAL: ")
            self.record_timing("health_io_stopped", time.monotonic() - t0)
            print("    /health/db1: %d %s" % (status, text.strip()))
            self.assertIn("db2", text, "the reason names the broken link's source")
            self.assertIn("IO no", text)
            self.assertEqual(self.health("db2")[0], 200, "db2 still replicates")
        finally:
            self.pair.sql(0, "START SLAVE")
        t0 = time.monotonic()
        self.wait_health("db1", 200, prefix="OK: ")
        self.record_timing("health_io_restarted", time.monotonic() - t0)
        self.wait_restored("health")

    def test_11_health_max_lag(self):
        self.wait_restored("start")
        self.endpoint_or_skip("/health/db2")
        held = self.start_lag()
        try:
            status, text, _ = self.health("db2", "?max_lag=1s")
            print("    /health/db2?max_lag=1s: %d %s" % (status, text.strip()))
            self.assertEqual(status, 503, text)
            self.assertTrue(text.startswith("CRITICAL: lag "), text)
            status, text, _ = self.health("db2")
            print("    /health/db2: %d %s" % (status, text.strip()))
            self.assertEqual(status, 200, "lag_warning <= lag < lag_critical stays in rotation")
            self.assertTrue(text.startswith("WARNING: lag "), text)
            self.assertEqual(self.health("db2", "?max_lag=1m")[0], 200)
            self.assertEqual(self.health("db1", "?max_lag=1s")[0], 200, "db1 does not lag")
        finally:
            self.stop_lag(held)
        self.wait_health("db2", 200, "?max_lag=1s", prefix="OK: ")

    # ------------------------------------------------------------------ /probe?target=
    def test_20_probe(self):
        self.wait_restored("start")
        port = self.replmon.port
        self.endpoint_or_skip("/probe?target=db1")
        status, headers, body, secs = http(port, "/probe?target=db1", timeout=15)
        text = body.decode("utf-8", "replace")
        self.assertEqual(status, 200, text[:500])
        self.assertTrue(headers.get("Content-Type", "").startswith("text/plain"))
        m = Metrics(text)
        self.assertEqual(m.get("mariadb_up", cluster=CLUSTER, node="db1"), 1, m.lines("_up"))
        self.assertEqual(m.get("replmon_probe_success", kind="mariadb", cluster=CLUSTER,
                               node="db1"), 1)
        self.assertEqual(m.find("mariadb_replica_io_running", **self.link("db1"))[0][2], 1)
        self.assertEqual(m.lines('node="db2"'), "", "/probe?target=db1 shows db2")
        rc, out = common.promtool_check(text)
        self.assertEqual((rc, out), (0, ""), "promtool check metrics on /probe")
        print("\n    /probe?target=db1: %d in %.3f s, %d samples" % (status, secs, len(m.samples)))

        for path in ("/probe", "/probe?target=", "/probe?target=nosuch",
                     "/probe?target=127.0.0.1:%d" % self.pair.port(0),
                     "/probe?target=127.0.0.1:3306", "/probe?target=db1%00",
                     "/probe?target=db1%00zzz", "/probe?target=db1%2F", "/probe?target=db1%",
                     "/probe?target=db1&target=db2"):
            status, _, body, _ = http(port, path)
            self.assertEqual(status, 400, "%s: %d %r" % (path, status, body[:200]))

        # A frozen node: answered as down within the scrape timeout, from the header or 10 s.
        self.pair.freeze(1)
        try:
            for header, bound in (({PROBE_HEADER: "3"}, 3.5), ({PROBE_HEADER: "1"}, 1.0),
                                  ({}, 10.5)):
                status, _, body, secs = http(port, "/probe?target=db2", headers=header,
                                             timeout=bound + 10)
                text = body.decode("utf-8", "replace")
                m = Metrics(text) if status == 200 else None
                print("    /probe?target=db2 (frozen, %s): %d in %.2f s; %s"
                      % (header or "no header", status, secs,
                         m.lines("mariadb_up") if m else text[:200]))
                self.assertEqual(status, 200, text[:500])
                self.assertLess(secs, bound, "the probe of a frozen node must end in time")
                self.assertEqual(m.get("mariadb_up", cluster=CLUSTER, node="db2"), 0)
                self.assertEqual(m.get("replmon_probe_success", kind="mariadb",
                                       cluster=CLUSTER, node="db2"), 0)
                self.assertEqual(m.lines('node="db1"'), "")
                # /metrics is not held up meanwhile.
                self.assertLess(scrape(port)[1], 0.5)
            # replmon-check bounds its wait for a frozen node too.
            r = self.check("--node=db2", "--format=nagios")
            self.assertEqual(r.status, 2, str(r))
            self.assertLess(r.secs, CHECK_BOUND_S)
        finally:
            self.pair.thaw(1)
        self.wait_restored("probe freeze")
        status, _, body, _ = http(port, "/probe?target=db2", headers={PROBE_HEADER: "5"},
                                  timeout=15)
        self.assertEqual(status, 200)
        self.assertEqual(Metrics(body.decode()).get("mariadb_up", cluster=CLUSTER,
                                                    node="db2"), 1)

    def test_21_probe_in_flight_sigterm(self):
        """SIGTERM while a /probe of a frozen node is still waiting: replmon stops cleanly
        (exit 0), like it does after any other request."""
        self.wait_restored("start")
        rm = Replmon(self.workdir, self.config, "probe-term")
        outcome = {}
        thread = None
        try:
            rm.wait_serving()
            self.endpoint_or_skip("/probe?target=db1", port=rm.port)
            self.pair.freeze(1)

            def probe():
                try:
                    outcome["answer"] = http(rm.port, "/probe?target=db2", timeout=20)[0]
                except Exception as e:  # the connection may be closed by the shutdown
                    outcome["answer"] = "%s: %s" % (type(e).__name__, e)

            thread = threading.Thread(target=probe, daemon=True)
            thread.start()
            time.sleep(0.3)  # the request is in, its probe waits on the frozen node
            os.kill(rm.proc.pid, signal.SIGTERM)
            t0 = time.monotonic()
            try:
                rc = rm.proc.wait(BOUND_S)
            except subprocess.TimeoutExpired:
                rc = "still running"
            secs = time.monotonic() - t0
            thread.join(25)
            log = rm.log_text()
            print("\n    SIGTERM during /probe: exit %s after %.2f s; the probe got %s"
                  % (rc, secs, outcome.get("answer")))
            self.assertEqual(rc, 0, "exit status on SIGTERM with a /probe in flight (-6 is "
                             "SIGABRT); log tail:\n%s" % log[-1500:])
            self.assertLess(secs, CONNECT_S + QUERY_S + 2.0)
        finally:
            self.pair.thaw(1)
            rm.stop()
        self.wait_restored("probe sigterm")

    # ------------------------------------------------------------------ reload
    def test_30_reload(self):
        self.wait_restored("start")
        config = write_config(os.path.join(self.workdir, "reload.yml"), self.password_file,
                              self.nodes("db1"))
        rm = Replmon(self.workdir, config, "reload")
        scraper = None
        try:
            rm.wait_serving()
            self.wait_for(lambda m: m.get("mariadb_up", cluster=CLUSTER, node="db1") == 1,
                          what="db1 only", replmon=rm, show=("mariadb_up",))
            status, body = self.endpoint_or_skip("/-/reload", method="POST", port=rm.port)
            self.assertEqual(status, 200, body)
            self.assertEqual(http(rm.port, "/-/reload")[0], 405, "GET /-/reload")
            scraper = Scraper(rm.port)

            def up(m, node):
                return m.get("mariadb_up", cluster=CLUSTER, node=node)

            def reload(what):
                status, _, body, secs = http(rm.port, "/-/reload", method="POST", timeout=15)
                text = body.decode("utf-8", "replace")
                print("\n    POST /-/reload (%s): %d in %.2f s: %s"
                      % (what, status, secs, text.strip()))
                return status, text

            # Add db2. db1 replicates from db2 all along: adding db2 to the file must not
            # make db1 look broken, not even until db1's next poll.
            problems = []
            write_config(config, self.password_file, self.nodes("db1", "db2"))
            status, text = reload("add db2")
            t0 = time.monotonic()
            self.assertEqual(status, 200, text)
            seen, added = set(), None
            while time.monotonic() - t0 < 2 * POLL_S:
                h = self.health("db1", port=rm.port)
                if h[0] != 200:
                    seen.add("%d %s" % (h[0], h[1].strip()))
                if added is None and up(scrape(rm.port)[0], "db2") == 1:
                    added = time.monotonic() - t0
                time.sleep(0.05)
            if seen:
                problems.append("/health/db1 right after the reload that added db2 (db1 "
                                "replicating all along): %s" % sorted(seen))
            self.wait_for(lambda m: up(m, "db1") == 1 and up(m, "db2") == 1,
                          what="db2 added", replmon=rm, show=("mariadb_up",))
            self.record_timing("reload_add", added or time.monotonic() - t0)
            ids = self.monitor_connections(1)

            # Remove db1: its series go, db2 keeps polling over the same connection.
            m0 = scrape(rm.port)[0]
            probe2 = dict(kind="mariadb", cluster=CLUSTER, node="db2")
            errors0 = sum(v for _, _, v in m0.find("replmon_probe_errors_total", **probe2))
            write_config(config, self.password_file, self.nodes("db2"))
            status, text = reload("remove db1")
            t0 = time.monotonic()
            self.assertEqual(status, 200, text)
            m, _ = self.wait_for(lambda m: not m.lines('node="db1"') and up(m, "db2") == 1,
                                 what="db1 removed", replmon=rm, show=('node="db1"',))
            self.record_timing("reload_remove", time.monotonic() - t0)
            ts = m.get("replmon_last_success_timestamp_seconds", **probe2)
            m, _ = self.wait_for(
                lambda m: m.get("replmon_last_success_timestamp_seconds", **probe2) > ts + 1,
                what="db2 still polled after db1 left", replmon=rm, show=("last_success",))
            self.assertEqual(sum(v for _, _, v in m.find("replmon_probe_errors_total", **probe2)),
                             errors0, "db2 failed polls around the reload")
            self.assertTrue(ids & self.monitor_connections(1),
                            "db2's poller kept its connection across the reload (ids before "
                            "%s, after %s)" % (sorted(ids), sorted(self.monitor_connections(1))))

            # A broken file: 400 (or 500) with the error, the old configuration stays.
            with open(config, "w") as f:
                f.write("global:\n  poll_interval: banana\n")
            status, text = reload("broken file")
            self.assertIn(status, (400, 500), text)
            self.assertRegex(text, r"reload\.yml:2:\d+: .*banana", "the error text in the body")
            self.assertIn("level=error", rm.log_text())
            ts = scrape(rm.port)[0].get("replmon_last_success_timestamp_seconds", **probe2)
            self.wait_for(
                lambda m: m.get("replmon_last_success_timestamp_seconds", **probe2) > ts and
                not m.lines('node="db1"') and up(m, "db2") == 1,
                what="old configuration still served", replmon=rm, show=("mariadb_up",))
            self.assertEqual(self.health("db2", port=rm.port)[0], 200)
            self.assertEqual(self.health("db1", port=rm.port)[0], 404)

            # SIGHUP takes a valid file the same way.
            write_config(config, self.password_file, self.nodes("db1", "db2"))
            os.kill(rm.proc.pid, signal.SIGHUP)
            t0 = time.monotonic()
            self.wait_for(lambda m: up(m, "db1") == 1 and up(m, "db2") == 1,
                          what="db1 back after SIGHUP", replmon=rm, show=("mariadb_up",))
            self.record_timing("sighup_add", time.monotonic() - t0)
            time.sleep(0.5)
            results = scraper.stop()
            scraper = None
            bad = [r for r in results if r[1] != 200]
            print("    %d scrapes during the reloads: %d not 200, slowest %.1f ms"
                  % (len(results), len(bad), max(r[2] for r in results) * 1000))
            self.assertGreater(len(results), 20)
            self.assertEqual(bad[:5], [], "scrapes that failed during the reloads")
            flaps = [line for line in rm.log_text().splitlines()
                     if "state changed" in line and "to=critical" in line]
            if flaps:
                problems.append("state changes to critical logged while both nodes "
                                "replicated: %s" % flaps[:3])
            self.assertEqual(problems, [])
            rc = rm.stop()
            self.assertEqual(rc, 0, "exit status on SIGTERM; log:\n%s" % rm.log_text()[-2000:])
            for sanitizer in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                self.assertNotIn(sanitizer, rm.log_text())
        finally:
            if scraper is not None:
                scraper.stop()
            rm.stop()

    def monitor_connections(self, i):
        """The ids of the monitor account's connections on node i."""
        rows = self.pair.sql(i, "SELECT ID FROM information_schema.PROCESSLIST "
                                "WHERE USER='monitor'")
        return {int(r[0]) for r in rows}

    # ------------------------------------------------------------------ the end
    def test_99_shutdown(self):
        log = self.stop_replmon_cleanly()
        self.assertNotIn(mariadb_pair.PASSWORDS["monitor"], log, "the password reached the log")


def main(argv):
    return common.run_suite(
        TestOperator, argv, "integration-operator", sys.modules[__name__],
        cleanup=TestOperator._cleanup,
        timings_title="timings (seconds from the change to what the test waited for):")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
