#!/usr/bin/env python3
"""Integration test of the README's HAProxy example against a real MariaDB pair.

Run:  python3 tests/integration/test_haproxy.py [-v] [TestHAProxy.test_02_broken_link ...]
Env:  REPLMON        path of the binary (default build/replmon, relative to the repo root)
      HAPROXY        the haproxy binary (default haproxy: Debian's haproxy 2.6)
      FAULT_TIMINGS  file to which `name seconds` lines are appended
      KEEP_WORKDIR=1 keep the temporary directory (datadirs, configurations, logs)

The example is read from README.md at run time: the fenced block after the line
`<!-- haproxy-example: ... -->`. Only its addresses and ports change, each of which must
be found exactly once: `bind 10.0.0.1:3306` becomes a free port on 127.0.0.1,
`10.0.0.2:3306` and `10.0.0.3:3306` the pair's db1 and db2, and `addr 10.0.0.9 port
9873` replmon's listener; no other 10.0.0.x may be left. The block goes into an haproxy.cfg
below a `global` section (a stats socket in the workdir, logs to stderr) and Debian's
default `defaults` (mode http, timeouts), and `haproxy -c` must accept the whole.

Starts, all on 127.0.0.1 and each stopped by PID (finally, atexit, SIGTERM/SIGINT):
- the MariaDB 10.11 master-master pair of mariadb_pair.py;
- build/replmon polling both every second;
- haproxy -db (foreground) on that configuration.

Tests: both servers UP (their checks answered 200 by /health/<node>), a connection through
HAProxy lands on db1 (@@server_id 1); a duplicate key stops db1's SQL thread (a row
inserted on db1 with sql_log_bin=0, then the same key on db2): /health/db1 answers 503 and
/health/db2 200, HAProxy (`show stat` on its stats socket) marks db1 DOWN within
poll_interval + fall x inter (+1 s for the checks themselves), closes the session held
open on db1 (on-marked-down shutdown-sessions) and sends a new connection to db2 (@@server_id
2); deleting the row on db1 (sql_log_bin=0) and START SLAVE: db1 UP again within
poll_interval + rise x inter (+1 s) and a new connection lands on db1. fall, rise and inter
are read from the example. Prints `integration-haproxy: N passed, M failed` last and exits
non-zero on failure. About 10 s.
"""

import csv
import io
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import REPO, free_port, http, spawn, stop_process, tail  # noqa: E402
from mariadb_pair import MARIADB_CLIENT, PASSWORDS, PairReplmonCase  # noqa: E402

HAPROXY = os.environ.get("HAPROXY", "haproxy")
README = os.path.join(REPO, "README.md")
MARKER = "<!-- haproxy-example:"
POLL_INTERVAL_S = 1.0    # replmon's poll_interval in this suite (PairReplmonCase's config)
CHECK_SLACK_S = 1.0      # the checks' own time, HAProxy's start offsets between servers
START_BOUND_S = 20.0     # HAProxy serving and both servers UP
SERVER_IDS = {"db1": "1", "db2": "2"}


def readme_example():
    """The fenced block after README.md's haproxy-example marker (which must be there
    once)."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    if text.count(MARKER) != 1:
        raise AssertionError("README.md: %r found %d times, expected once"
                             % (MARKER, text.count(MARKER)))
    m = re.compile(r"[^\n]*\n```[a-z]*\n(.*?)\n```", re.S).match(text, text.index(MARKER))
    if not m:
        raise AssertionError("README.md: no fenced block right after %r" % MARKER)
    return m.group(1) + "\n"


def localize(example, bind_port, db1, db2, replmon_port):
    """The example with its addresses and ports replaced by the test's, nothing else."""
    subs = [("bind 10.0.0.1:3306", "bind 127.0.0.1:%d" % bind_port),
            ("10.0.0.2:3306", db1),
            ("10.0.0.3:3306", db2),
            ("addr 10.0.0.9 port 9873", "addr 127.0.0.1 port %d" % replmon_port)]
    for old, new in subs:
        n = example.count(old)
        if n != 1:
            raise AssertionError("README.md's HAProxy example: %r found %d times, expected "
                                 "once (update the test's substitutions with the example)"
                                 % (old, n))
        example = example.replace(old, new)
    if "10.0.0." in example:
        raise AssertionError("README.md's HAProxy example has an address the test does not "
                             "replace:\n" + example)
    return example


def check_params(example):
    """(inter seconds, fall, rise) of the example's default-server line."""
    m = re.search(r"^\s*default-server\s.*$", example, re.M)
    if not m:
        raise AssertionError("README.md's HAProxy example has no default-server line")
    line = m.group(0)
    inter = re.search(r"\binter (\d+)(ms|s)\b", line)
    fall = re.search(r"\bfall (\d+)\b", line)
    rise = re.search(r"\brise (\d+)\b", line)
    if not (inter and fall and rise):
        raise AssertionError("default-server without inter/fall/rise: %r" % line)
    secs = int(inter.group(1)) / (1000.0 if inter.group(2) == "ms" else 1.0)
    return secs, int(fall.group(1)), int(rise.group(1))


class HAProxy:
    """haproxy -db on the given listen section, a stats socket and logs in its own
    directory; stopped by PID."""

    def __init__(self, workdir, listen):
        self.dir = os.path.join(workdir, "haproxy")
        os.makedirs(self.dir, exist_ok=True)
        self.socket = os.path.join(self.dir, "admin.sock")
        self.config = os.path.join(self.dir, "haproxy.cfg")
        self.log = os.path.join(self.dir, "haproxy.log")
        self.proc = None
        with open(self.config, "w") as f:
            f.write("global\n"
                    "    log stderr format raw local0 info\n"
                    "    stats socket %s mode 600 level admin\n"
                    "\n"
                    "# Debian's /etc/haproxy/haproxy.cfg defaults\n"
                    "defaults\n"
                    "    log global\n"
                    "    mode http\n"
                    "    option httplog\n"
                    "    option dontlognull\n"
                    "    timeout connect 5000\n"
                    "    timeout client 50000\n"
                    "    timeout server 50000\n"
                    "\n" % self.socket)
            f.write(listen)

    def start(self):
        r = subprocess.run([HAPROXY, "-c", "-f", self.config], capture_output=True,
                           timeout=30)
        if r.returncode != 0:
            raise RuntimeError("haproxy -c refused %s:\n%s" % (
                self.config, (r.stdout + r.stderr).decode("utf-8", "replace")))
        self.proc = spawn([HAPROXY, "-db", "-f", self.config], self.log)
        return self

    def wait_ready(self, port, bound=START_BOUND_S):
        """Until the stats socket answers and the listener accepts connections."""
        deadline = time.monotonic() + bound
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("haproxy exited with %s at start-up; log:\n%s"
                                   % (self.proc.returncode, self.log_text()))
            try:
                self.command("show info")
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("haproxy not ready after %.0f s; log:\n%s"
                                   % (bound, self.log_text()))
            time.sleep(0.05)

    def command(self, line):
        """A command on the stats socket; its answer as text."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.socket)
            s.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode("utf-8", "replace")

    def servers(self, proxy="mariadb"):
        """`show stat` of the proxy's servers: {name: row dict} (status, check_status,
        check_code, scur, ...)."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {r["svname"]: r for r in rows
                if r["pxname"] == proxy and r["svname"] not in ("FRONTEND", "BACKEND")}

    def log_text(self):
        return tail(self.log, 60)

    def stop(self):
        return stop_process(self.proc, bound=10)


class ClientSession:
    """A mariadb client connected through HAProxy that stays open (no reconnect), for
    statements one at a time."""

    def __init__(self, port):
        env = dict(os.environ, MYSQL_PWD=PASSWORDS["monitor"])
        self.proc = subprocess.Popen(
            [MARIADB_CLIENT, "--no-defaults", "--batch", "--skip-column-names", "--unbuffered",
             "--skip-reconnect", "--connect-timeout=5", "--protocol=TCP", "--host=127.0.0.1",
             "--port=%d" % port, "--user=monitor"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            start_new_session=True)
        common.register_cleanup(self.close)

    def query(self, statement, timeout=5.0):
        """The first line of the answer, or None when the session ended instead."""
        try:
            self.proc.stdin.write((statement + ";\n").encode())  # the client waits for ;
            self.proc.stdin.flush()
        except OSError:
            return None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError("no answer to %r within %.0f s" % (statement, timeout))
        line = self.proc.stdout.readline()
        return line.decode().strip() if line else None

    def ended(self, timeout=5.0):
        """(exit status, stderr) once the client exited."""
        self.proc.wait(timeout)
        return self.proc.returncode, self.proc.stderr.read().decode("utf-8", "replace")

    def close(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            stop_process(self.proc, bound=5)
            self.proc = None
        common.unregister_cleanup(self.close)


class TestHAProxy(PairReplmonCase):
    LABEL = "integration-haproxy"
    KEPT = "logs, datadirs and configurations"
    WORKDIR_PREFIX = "replmon-haproxy-"
    REPLMON_TAG = "haproxy"
    haproxy = None
    port = None
    timings = []

    @classmethod
    def check_prerequisites(cls):
        super().check_prerequisites()
        if not shutil.which(HAPROXY):
            raise RuntimeError("%s not found (Debian package haproxy: tests/ensure-packages.sh "
                               "test)" % HAPROXY)

    @classmethod
    def start_fixture(cls):
        t0 = time.monotonic()
        example = readme_example()
        cls.inter_s, cls.fall, cls.rise = check_params(example)
        super().start_fixture()  # the pair and replmon
        cls.port = free_port()
        listen = localize(example, cls.port, cls.pair.address(0), cls.pair.address(1),
                          cls.replmon.port)
        cls.haproxy = HAProxy(cls.workdir, listen).start()
        cls.haproxy.wait_ready(cls.port)
        print("\nintegration-haproxy: README.md's example (inter %gs, fall %d, rise %d) on "
              "127.0.0.1:%d, started in %.1f s" % (cls.inter_s, cls.fall, cls.rise, cls.port,
                                                   time.monotonic() - t0), flush=True)

    @classmethod
    def stop_fixture(cls):
        if cls.haproxy is not None:
            cls.haproxy.stop()
            cls.haproxy = None
        super().stop_fixture()

    # ------------------------------------------------------------------ helpers
    def setUp(self):
        super().setUp()
        self.assertIsNone(self.haproxy.proc.poll(), "haproxy exited with %s; log:\n%s" % (
            self.haproxy.proc.returncode, self.haproxy.log_text()))

    def server_id(self):
        """@@server_id of a new connection through HAProxy."""
        env = dict(os.environ, MYSQL_PWD=PASSWORDS["monitor"])
        r = subprocess.run([MARIADB_CLIENT, "--no-defaults", "--batch", "--skip-column-names",
                            "--connect-timeout=5", "--protocol=TCP", "--host=127.0.0.1",
                            "--port=%d" % self.port, "--user=monitor",
                            "-e", "SELECT @@server_id"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=env)
        self.assertEqual(r.returncode, 0, "connection through HAProxy: %s\nHAProxy log:\n%s"
                         % (r.stderr.decode("utf-8", "replace"), self.haproxy.log_text()))
        return r.stdout.decode().strip()

    def wait_status(self, node, status, bound, what):
        """Polls `show stat` until node's status is `status` (exactly: not "DOWN 1/2");
        returns (its row, seconds)."""
        t0 = time.monotonic()
        while True:
            row = self.haproxy.servers().get(node)
            if row is not None and row["status"] == status:
                return row, time.monotonic() - t0
            if time.monotonic() - t0 > bound:
                self.fail("%s: %s not %s within %.1f s (last: %s)\nHAProxy log:\n%s\n"
                          "replmon log tail:\n%s" % (
                              what, node, status, bound,
                              row and {k: row[k] for k in ("status", "check_status",
                                                           "check_code", "last_chk")},
                              self.haproxy.log_text(), self.replmon.log_text()[-2000:]))
            time.sleep(0.05)

    def health(self, node):
        status, _, body, _ = http(self.replmon.port, "/health/%s?max_lag=10s" % node)
        return status, body.decode("utf-8", "replace").strip()

    # ------------------------------------------------------------------ tests
    def test_01_both_up_traffic_to_db1(self):
        for node in ("db1", "db2"):
            row, _ = self.wait_status(node, "UP", START_BOUND_S, "start")
            self.assertEqual(row["check_code"], "200", row)
        self.assertEqual(self.server_id(), SERVER_IDS["db1"], "db1 is the active server")
        print("\n    db1 and db2 UP (checks 200), new connections on db1", flush=True)

    def test_02_broken_link_fails_over_and_back(self):
        session = ClientSession(self.port)
        key = None
        try:
            self.assertEqual(session.query("SELECT @@server_id"), SERVER_IDS["db1"])
            key = self.pair.cause_duplicate_key(base=7000, replica=0)
            t0 = time.monotonic()
            bound = POLL_INTERVAL_S + self.fall * self.inter_s + CHECK_SLACK_S
            row, secs = self.wait_status("db1", "DOWN", bound, "db1's link broken")
            self.record_timing("haproxy_db1_down", secs, contract=False)
            self.assertEqual(row["check_code"], "503", row)
            # The README's semantics: the node whose own link is broken is critical.
            status, db1_text = self.health("db1")
            self.assertEqual(status, 503, db1_text)
            self.assertIn("replication from db2 broken", db1_text)
            status, text = self.health("db2")
            self.assertEqual(status, 200, text)
            self.assertEqual(self.haproxy.servers()["db2"]["status"], "UP")
            print("    db1's SQL thread stopped: db1 DOWN after %.2f s (bound %.1f s), "
                  "/health/db1: %s" % (secs, bound, db1_text), flush=True)
            # on-marked-down shutdown-sessions: the session open on db1 is closed.
            self.assertIsNone(session.query("SELECT @@server_id"),
                              "the session on db1 survived its server going DOWN")
            rc, err = session.ended()
            self.assertNotEqual(rc, 0)
            self.assertRegex(err, r"ERROR 20(06|13)", err)
            self.assertEqual(self.server_id(), SERVER_IDS["db2"],
                             "new connections go to the backup")
            print("    the session on db1 was closed (%s); new connections on db2"
                  % err.strip().splitlines()[-1], flush=True)

            self.pair.repair_duplicate_key(key, replica=0)
            key = None
            bound = POLL_INTERVAL_S + self.rise * self.inter_s + CHECK_SLACK_S
            row, secs = self.wait_status("db1", "UP", bound, "db1 repaired")
            self.record_timing("haproxy_db1_up", secs, contract=False)
            self.assertEqual(row["check_code"], "200", row)
            self.assertEqual(self.server_id(), SERVER_IDS["db1"], "db1 is active again")
            print("    repaired: db1 UP after %.2f s (bound %.1f s), new connections on db1; "
                  "fault to fail-back %.1f s" % (secs, bound, time.monotonic() - t0),
                  flush=True)
            self.pair.wait_replicating(self.BOUND_S)
            self.pair.sync(30)
        finally:
            session.close()
            if key is not None:
                self.pair.repair_duplicate_key(key, replica=0)


def main(argv):
    return common.run_suite(TestHAProxy, argv, "integration-haproxy", sys.modules[__name__],
                            cleanup=TestHAProxy._cleanup)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
