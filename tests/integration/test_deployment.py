#!/usr/bin/env python3
"""Deployment: `make install` into a staging directory, the systemd unit as systemd reads it,
readiness through sd_notify ($NOTIFY_SOCKET, as systemd's Type=notify sets it) and the man
pages of replmon and replmon-check. No database is needed: the one node points at a closed
port.

    python3 tests/integration/test_deployment.py [-v]
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from common import (free_port, http, replmon_check_path, replmon_path, run_suite,  # noqa: E402
                    spawn, stop_process)

BOUND_S = 15.0
MAN_PAGE = os.path.join(REPO, "exporter", "replmon.8")
CHECK_MAN_PAGE = os.path.join(REPO, "exporter", "replmon-check.1")


def build_dir():
    """The build directory of the replmon under test (make install installs from there)."""
    return os.path.relpath(os.path.dirname(replmon_path()), REPO)


class NotifySocket:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.path = path

    def next(self, bound=BOUND_S):
        """The next message as a dict of its KEY=VALUE lines; AssertionError when none comes."""
        self.sock.settimeout(bound)
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            raise AssertionError("no notification within %.0f s" % bound)
        return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)

    def close(self):
        self.sock.close()


class TestDeployment(unittest.TestCase):
    timings = None

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="replmon-deploy-")
        cls.config = os.path.join(cls.workdir, "replmon.yml")
        with open(cls.config, "w") as f:
            f.write("global: {poll_interval: 200ms}\n"
                    "mariadb: [{cluster: c, user: u, nodes: [{name: db1, address: "
                    "'127.0.0.1:1'}]}]\n")
        cls.procs = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            stop_process(p)
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def start_notified(self, tag):
        """replmon with $NOTIFY_SOCKET set; returns (process, port, notify socket, log)."""
        notify = NotifySocket(os.path.join(self.workdir, tag + ".notify"))
        self.addCleanup(notify.close)
        port = free_port()
        log = os.path.join(self.workdir, tag + ".log")
        proc = spawn([replmon_path(), "--config.file=" + self.config,
                      "--web.listen-address=127.0.0.1:%d" % port],
                     log, env=dict(os.environ, NOTIFY_SOCKET=notify.path))
        self.procs.append(proc)
        return proc, port, notify, log

    def test_01_ready_reloading_stopping(self):
        proc, port, notify, log = self.start_notified("notify")
        t0 = time.monotonic()
        msg = notify.next()
        self.assertEqual(msg.get("READY"), "1", msg)
        # Ready means serving: the very first request after READY=1 is answered.
        self.assertEqual(http(port, "/metrics")[0], 200)
        print("\n    READY=1 %.2f s after start" % (time.monotonic() - t0))
        for how in ("SIGHUP", "POST /-/reload"):
            if how == "SIGHUP":
                proc.send_signal(signal.SIGHUP)
            else:
                self.assertEqual(http(port, "/-/reload", method="POST")[0], 200)
            self.assertEqual(notify.next().get("RELOADING"), "1", how)
            self.assertEqual(notify.next().get("READY"), "1", how)
        # A refused file still leaves the daemon ready (the old configuration runs).
        with open(self.config) as f:
            good = f.read()
        try:
            with open(self.config, "w") as f:
                f.write("global: {poll_interval: banana}\n")
            proc.send_signal(signal.SIGHUP)
            self.assertEqual(notify.next().get("RELOADING"), "1")
            self.assertEqual(notify.next().get("READY"), "1")
        finally:
            with open(self.config, "w") as f:
                f.write(good)
        self.assertEqual(http(port, "/metrics")[0], 200)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(notify.next().get("STOPPING"), "1")
        self.assertEqual(proc.wait(timeout=BOUND_S), 0, open(log).read())

    def test_02_not_ready_when_it_cannot_listen(self):
        # Another process holds the port: replmon must exit without ever saying READY=1.
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        self.addCleanup(holder.close)
        notify = NotifySocket(os.path.join(self.workdir, "busy.notify"))
        self.addCleanup(notify.close)
        log = os.path.join(self.workdir, "busy.log")
        proc = spawn([replmon_path(), "--config.file=" + self.config,
                      "--web.listen-address=127.0.0.1:%d" % holder.getsockname()[1]],
                     log, env=dict(os.environ, NOTIFY_SOCKET=notify.path))
        self.procs.append(proc)
        self.assertNotEqual(proc.wait(timeout=BOUND_S), 0)
        with self.assertRaises(AssertionError):
            notify.next(bound=0.5)

    def test_03_reload_while_starting(self):
        # POST /-/reload from the moment the port accepts, while the pollers of many nodes
        # are still being started: the reload waits for them (it crashed replmon once). The
        # port accepts before any poller starts, so the first POST always meets the start.
        # 400 nodes as 100 clusters of 4: one cluster of 400 (every node replicating from
        # every other) makes each publish analyse 160,000 links, and under load the first
        # reload then waited over 15 s, which tests the analysis's cost, not the race.
        config = os.path.join(self.workdir, "many.yml")
        with open(config, "w") as f:
            f.write("mariadb:\n")
            for c in range(100):
                f.write("  - cluster: c%d\n    user: u\n    nodes:\n" % c)
                for i in range(4):
                    f.write("      - {name: n%d, address: '127.0.0.1:1'}\n" % (4 * c + i))
        for attempt in range(3):
            port = free_port()
            log = os.path.join(self.workdir, "race%d.log" % attempt)
            proc = spawn([replmon_path(), "--config.file=" + config,
                          "--web.listen-address=127.0.0.1:%d" % port], log)
            self.procs.append(proc)
            reloads, deadline = 0, time.monotonic() + BOUND_S
            while reloads < 20 and time.monotonic() < deadline:
                try:
                    status = http(port, "/-/reload", method="POST", timeout=BOUND_S)[0]
                    self.assertEqual(status, 200)
                    reloads += 1
                except OSError:
                    self.assertIsNone(proc.poll(), open(log).read()[-2000:])
                    time.sleep(0.005)
            self.assertEqual(reloads, 20, open(log).read()[-2000:])
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=BOUND_S), 0, open(log).read()[-2000:])

    def test_04_make_install_and_the_unit(self):
        dest = os.path.join(self.workdir, "dest")
        r = subprocess.run(["make", "--no-print-directory", "-C", REPO, "BUILD=" + build_dir(),
                            "install", "DESTDIR=" + dest, "PREFIX=/usr"],
                           capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode())
        for path in ("usr/bin/replmon", "usr/bin/replmon-check",
                     "usr/lib/systemd/system/replmon.service",
                     "usr/lib/systemd/system/replmon.socket", "usr/share/man/man8/replmon.8",
                     "usr/share/man/man1/replmon-check.1",
                     "usr/share/doc/replmon/replmon.example.yml"):
            self.assertTrue(os.path.isfile(os.path.join(dest, path)), path)
        # The man pages name the paths of this PREFIX.
        for page in ("man8/replmon.8", "man1/replmon-check.1"):
            with open(os.path.join(dest, "usr/share/man", page)) as f:
                self.assertNotIn("/usr/local/", f.read(), page)
        unit_path = os.path.join(dest, "usr/lib/systemd/system/replmon.service")
        with open(unit_path) as f:
            unit = f.read()
        for line in ("Type=notify", "DynamicUser=yes", "ProtectSystem=strict",
                     "NoNewPrivileges=yes", "CapabilityBoundingSet=", "Restart=on-failure",
                     "ExecStart=/usr/bin/replmon --config.file=/etc/replmon/replmon.yml"):
            self.assertIn("\n" + line + "\n", unit, line)
        self.assertNotIn("/usr/local/", unit)
        # systemd's own reading of the unit, with ExecStart pointing at a binary that exists.
        local = os.path.join(self.workdir, "replmon.service")
        with open(local, "w") as f:
            f.write(unit.replace("ExecStart=/usr/bin/replmon", "ExecStart=" + replmon_path()))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", local],
                           capture_output=True, timeout=60)
        out = (r.stdout + r.stderr).decode()
        self.assertEqual((r.returncode, out), (0, ""))
        # The socket unit (socket activation) with the service it starts.
        socket_unit = os.path.join(self.workdir, "replmon.socket")
        shutil.copy(os.path.join(dest, "usr/lib/systemd/system/replmon.socket"), socket_unit)
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", socket_unit, local],
                           capture_output=True, timeout=60)
        out = (r.stdout + r.stderr).decode()
        self.assertEqual((r.returncode, out), (0, ""))
        # The installed man pages are the ones man finds.
        for name, page in (("replmon", "man8/replmon.8"),
                           ("replmon-check", "man1/replmon-check.1")):
            r = subprocess.run(["man", "-w", name], capture_output=True, timeout=60,
                               env=dict(os.environ, MANPATH=os.path.join(dest, "usr/share/man")))
            self.assertEqual(r.stdout.decode().strip(),
                             os.path.join(dest, "usr/share/man", page))

    def man_page_text(self, page, binary, min_flags):
        """Checks that groff finds nothing to warn about in page and that it documents every
        flag of binary's --help (at least min_flags); returns the page as man prints it."""
        r = subprocess.run(["groff", "-man", "-ww", "-z", page], capture_output=True,
                           timeout=60)
        self.assertEqual((r.returncode, (r.stdout + r.stderr).decode()), (0, ""))
        r = subprocess.run([binary, "--help"], capture_output=True, timeout=30)
        flags = set(re.findall(r"^\s+(--[a-z.-]+)", r.stdout.decode(), re.M))
        self.assertGreaterEqual(len(flags), min_flags, r.stdout)
        text = subprocess.run(["man", "-l", page], capture_output=True, timeout=60,
                              env=dict(os.environ, MANWIDTH="100")).stdout.decode()
        text = re.sub(".\b", "", text)  # overstrike from man's formatter
        for flag in sorted(flags):
            self.assertIn(flag, text, flag)
        return text

    def test_05_man_page(self):
        text = self.man_page_text(MAN_PAGE, replmon_path(), 8)
        # Every endpoint of the HTTP server is there too.
        for path in ("/metrics", "/health/", "/probe?target=", "/-/healthy", "/-/reload"):
            self.assertIn(path, text, path)

    def test_06_check_man_page(self):
        text = self.man_page_text(CHECK_MAN_PAGE, replmon_check_path(), 6)
        # Every exit status, each format, the environment variable the check reads.
        for status, state in enumerate(("OK", "WARNING", "CRITICAL", "UNKNOWN")):
            self.assertRegex(text, r"(?m)^\s+%d\s+%s:" % (status, state))
        for word in ("FORMATS", "   text", "   nagios", "   json", "NO_COLOR", "replmon(8)"):
            self.assertIn(word, text, word)


if __name__ == "__main__":
    if not shutil.which("systemd-analyze"):
        print("test_deployment: systemd-analyze is missing (Debian package systemd)")
    sys.exit(run_suite(TestDeployment, sys.argv[1:], "integration-deployment",
                       sys.modules[__name__]))
