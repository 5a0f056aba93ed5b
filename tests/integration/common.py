"""Pieces shared by the integration harnesses (test_mariadb.py, test_xmpp.py, demo.py).

- processes: spawn(), stop_process(), install_signal_handlers(), stop_all_live(),
  register_cleanup(), free_port(), tail(), read_log()
- files: write_file(), write_secret() (a password file only its owner reads)
- the text exposition format: Metrics, is_nan()
- HTTP on 127.0.0.1 with proxies disabled: http(), http_url(), scrape()
- replmon itself: replmon_path(), Replmon, promtool_check()
- unittest plumbing: ReplmonCase (wait_for, record_timing, watch_fault), FixtureCase (a
  class fixture: temporary workdir, servers, one replmon, clean-up that keeps the workdir
  when a test failed; mariadb_pair.PairReplmonCase builds on it), run_suite() (the summary
  line, logs kept when a test failed)

Every process is started in its own session (so a terminal's Ctrl-C reaches only the test
runner), with PR_SET_PDEATHSIG so it dies if the runner is killed, and is stopped by PID:
explicitly, and by an atexit hook and (after install_signal_handlers()) on SIGTERM/SIGINT
otherwise. Python 3 standard library only.
"""

import atexit
import ctypes
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

__all__ = ["spawn", "stop_process", "stop_all_live", "register_cleanup",
           "install_signal_handlers", "free_port", "tail", "read_log", "write_file",
           "write_secret", "Metrics", "is_nan", "http",
           "http_url", "scrape", "replmon_path", "Replmon", "REPO", "promtool_check",
           "ReplmonCase", "FixtureCase", "run_suite"]

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
STOP_BOUND_S = 20.0      # SIGTERM, then SIGKILL after this long

# --------------------------------------------------------------------------------------
# Processes

_live_procs = {}  # pid -> Popen, everything spawn() started and nobody reaped yet
_cleanups = []    # callables run (last registered first) before the live processes stop


def _pdeathsig():
    """preexec_fn: the child gets SIGKILL if its parent (this runner) dies first."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # best effort only
        pass


def spawn(argv, log_path, env=None, cwd=None):
    """Starts argv in its own session with stdout+stderr appended to log_path. Only from
    the main thread: PR_SET_PDEATHSIG fires when the *thread* that forked the child ends,
    so a child spawned from a short-lived thread would be SIGKILLed when it returns."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("spawn() from a thread other than the main one: the child would "
                           "be killed when that thread ends (PR_SET_PDEATHSIG)")
    log = open(log_path, "ab")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True, preexec_fn=_pdeathsig,
                                close_fds=True)
    finally:
        log.close()
    _live_procs[proc.pid] = proc
    return proc


def forget(proc):
    """proc was reaped by its owner: the atexit hook must not touch its PID any more."""
    if proc is not None:
        _live_procs.pop(proc.pid, None)


def stop_process(proc, bound=STOP_BOUND_S, sig=signal.SIGTERM):
    """Stops one process by PID: SIGCONT (in case it is frozen), sig, SIGKILL after bound.
    Returns the exit status (negative for a signal), None if it was not ours any more."""
    if proc is None:
        return None
    if proc.poll() is None:
        for s in (signal.SIGCONT, sig):
            try:
                os.kill(proc.pid, s)
            except ProcessLookupError:
                pass
        try:
            proc.wait(bound)
        except subprocess.TimeoutExpired:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)
    _live_procs.pop(proc.pid, None)
    return proc.returncode


def register_cleanup(fn):
    """fn() runs from stop_all_live() (atexit, or explicitly), before the plain processes
    are stopped: for servers that own processes spawn() does not know (ejabberd's VM)."""
    if fn not in _cleanups:
        _cleanups.append(fn)


def unregister_cleanup(fn):
    try:
        _cleanups.remove(fn)
    except ValueError:
        pass


def stop_all_live():
    for fn in reversed(list(_cleanups)):
        try:
            fn()
        except Exception as e:  # keep stopping the others
            print("common: clean-up %r failed: %s" % (fn, e), file=sys.stderr)
    for proc in list(_live_procs.values()):
        try:
            stop_process(proc, bound=10)
        except Exception as e:  # keep stopping the others
            print("common: could not stop pid %d: %s" % (proc.pid, e), file=sys.stderr)


atexit.register(stop_all_live)

_handlers_installed = False


def install_signal_handlers():
    """SIGTERM (and SIGINT, SIGHUP) become KeyboardInterrupt in the main thread, so that
    every try/finally runs and unittest does not swallow it; the atexit hook then stops
    whatever is still running."""
    global _handlers_installed
    if _handlers_installed:
        return

    def handler(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, handler)
    _handlers_installed = True


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return "(no log: %s)" % e
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def read_log(path):
    """The whole of a process's log as text; "" while it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def write_file(path, text, mode=0o644):
    """Writes text to path (created with mode); returns path."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def write_secret(path, secret):
    """A password file: secret and a newline, readable by its owner only; returns path."""
    return write_file(path, secret + "\n", 0o600)


# --------------------------------------------------------------------------------------
# Text exposition format (version 0.0.4)

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?"
                     r"[ \t]+(\S+)(?:[ \t]+(-?\d+))?[ \t]*$")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _parse_labels(text, line):
    labels, i = {}, 0
    while i < len(text):
        m = _LABEL_NAME.match(text, i)
        if not m or text[m.end():m.end() + 2] != '="':
            raise ValueError("bad labels in %r" % line)
        name, i = m.group(0), m.end() + 2
        value = []
        while True:
            if i >= len(text):
                raise ValueError("unterminated label value in %r" % line)
            c = text[i]
            if c == "\\":
                nxt = text[i + 1:i + 2]
                value.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise ValueError("duplicate label %s in %r" % (name, line))
        labels[name] = "".join(value)
        if i < len(text):
            if text[i] != ",":
                raise ValueError("expected , in %r" % line)
            i += 1
    return labels


class Metrics:
    """A parsed /metrics body: samples [(name, labels, value)], help{}, type{}."""

    def __init__(self, text):
        self.text = text
        self.samples, self.help, self.type = [], {}, {}
        for line in text.split("\n"):
            if not line.strip():
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                    target = self.help if parts[1] == "HELP" else self.type
                    target[parts[2]] = parts[3] if len(parts) > 3 else ""
                continue
            m = _SAMPLE.match(line)
            if not m:
                raise ValueError("unparsable line %r" % line)
            name, labels, value = m.group(1), m.group(2), m.group(3)
            self.samples.append((name, _parse_labels(labels, line) if labels else {},
                                 float(value)))  # float() takes NaN, +Inf, -Inf

    def find(self, name, **labels):
        return [(n, l, v) for (n, l, v) in self.samples
                if n == name and all(l.get(k) == str(x) for k, x in labels.items())]

    def get(self, name, **labels):
        """The value of the single matching sample, None when there is none."""
        found = self.find(name, **labels)
        if len(found) > 1:
            raise AssertionError("%d samples match %s %s" % (len(found), name, labels))
        return found[0][2] if found else None

    def lines(self, *needles):
        return "\n".join(line for line in self.text.split("\n")
                         if line and not line.startswith("#") and all(n in line for n in needles))


def is_nan(v):
    return v is not None and math.isnan(v)


# --------------------------------------------------------------------------------------
# HTTP (proxies disabled: nothing leaves 127.0.0.1)

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_url(url, method="GET", headers=None, data=None, timeout=5.0):
    """(status, headers, body bytes, seconds). data: bytes (POST sends b"" without it)."""
    if data is None and method == "POST":
        data = b""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    t0 = time.monotonic()
    try:
        with _opener.open(req, timeout=timeout) as r:
            body = r.read()
            return r.status, r.headers, body, time.monotonic() - t0
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, e.headers, body, time.monotonic() - t0


def http(port, path="/metrics", method="GET", headers=None, timeout=5.0, data=None):
    """(status, headers, body bytes, seconds) for http://127.0.0.1:port/path."""
    return http_url("http://127.0.0.1:%d%s" % (port, path), method=method, headers=headers,
                    data=data, timeout=timeout)


def scrape(port, timeout=5.0):
    """(Metrics, seconds)."""
    status, _, body, secs = http(port, timeout=timeout)
    if status != 200:
        raise AssertionError("GET /metrics answered %d: %r" % (status, body[:200]))
    return Metrics(body.decode("utf-8")), secs


# --------------------------------------------------------------------------------------
# replmon

class TcpStandIn:
    """A TCP server on 127.0.0.1 (of the calling thread's namespace) standing in for a
    server in a test: handle(server, conn) runs in a thread per connection, which is closed
    after it. Counts connections and the bytes sent with send(). stop() closes everything."""

    def __init__(self, handle):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.handle, self.conns, self.sent, self.accepted = handle, [], 0, 0
        self.lock = threading.Lock()
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
                self.accepted += 1
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        try:
            self.handle(self, c)
        except OSError:
            pass
        finally:
            with self.lock:
                if c in self.conns:
                    self.conns.remove(c)
            c.close()

    def send(self, c, data):
        c.sendall(data)
        with self.lock:
            self.sent += len(data)

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass
            self.conns = []


def replmon_path():
    return _binary_path("REPLMON", "build/replmon")


def replmon_check_path():
    return _binary_path("REPLMON_CHECK", "build/replmon-check")


def _binary_path(variable, default):
    """$variable or default; a relative path from the current directory, else the repo."""
    p = os.environ.get(variable, default)
    if not os.path.isabs(p):
        p = p if os.path.exists(p) else os.path.join(REPO, p)
    return os.path.abspath(p)


class Replmon:
    """One replmon process on a free port, stderr to a log file. prefix: a command that
    execs replmon (e.g. `ip netns exec NS`), so that the PID stays replmon's."""

    def __init__(self, workdir, config, tag, prefix=()):
        self.config = config
        self.port = free_port()
        self.log = os.path.join(workdir, "replmon-%s.log" % tag)
        self.argv = list(prefix) + [replmon_path(), "--config.file=" + config,
                                    "--web.listen-address=127.0.0.1:%d" % self.port,
                                    "--log.level=debug"]
        self.proc = spawn(self.argv, self.log)

    def wait_serving(self, bound=15.0):
        deadline = time.monotonic() + bound
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("replmon exited with %s at start-up; log:\n%s"
                                   % (self.proc.returncode, self.log_text()[-3000:]))
            try:
                return scrape(self.port, timeout=2)[0]
            except (OSError, AssertionError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("replmon not serving /metrics after %.0f s; log:\n%s"
                                   % (bound, self.log_text()[-3000:]))
            time.sleep(0.05)

    def log_text(self):
        return read_log(self.log)

    def stop(self, bound=10.0):
        return stop_process(self.proc, bound=bound)


def promtool_check(text):
    """(exit status, output) of `promtool check metrics` on text; (0, "") is clean."""
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


# --------------------------------------------------------------------------------------
# unittest plumbing shared by the suites

RESULT_FAILED = [False]  # set as soon as a test fails, so that the clean-up keeps the logs


class ReplmonCase(unittest.TestCase):
    """Base of a suite that watches one replmon (cls.replmon). Subclasses set BOUND_S,
    CONTRACT_S, SCRAPE_EVERY_S and a `timings` list of their own."""

    replmon = None
    timings = None
    BOUND_S = 20.0
    CONTRACT_S = 6.0
    SCRAPE_EVERY_S = 0.2

    def scrape(self, port=None):
        return scrape(port or self.replmon.port)[0]

    def wait_for(self, predicate, timeout=None, what="condition", show=(), port=None,
                 replmon=None):
        """Polls /metrics every SCRAPE_EVERY_S until predicate(metrics) is true. Returns
        (metrics, seconds). On timeout fails with the lines containing any of `show`."""
        replmon = replmon or self.replmon
        port = port or replmon.port
        timeout = self.BOUND_S if timeout is None else timeout
        t0 = time.monotonic()
        last, err = None, None
        while True:
            try:
                last = scrape(port)[0]
                err = None
                if predicate(last):
                    return last, time.monotonic() - t0
            except (OSError, ValueError, TypeError, AssertionError) as e:
                err = e  # TypeError: a series is still missing (None compared)
            if time.monotonic() - t0 > timeout:
                dump = ""
                if last is not None:
                    dump = "\n".join(last.lines(s) for s in show) if show else last.text
                self.fail("%s: not true after %.1f s (last error: %s)\nmetrics:\n%s\n"
                          "replmon log tail:\n%s" % (what, timeout, err, dump,
                                                     replmon.log_text()[-2500:]))
            time.sleep(self.SCRAPE_EVERY_S)

    @classmethod
    def record_timing(cls, name, seconds, contract=True):
        """Reports how long a fault took to show; over CONTRACT_S fails the test.
        FAULT_TIMINGS (env): a file to which `name seconds` lines are appended."""
        print("\n    fault %-22s showed after %.2f s" % (name, seconds), flush=True)
        cls.timings.append((name, seconds))
        path = os.environ.get("FAULT_TIMINGS")
        if path:
            with open(path, "a") as f:
                f.write("%s %.3f\n" % (name, seconds))
        if contract and seconds > cls.CONTRACT_S:
            raise AssertionError("fault %s showed after %.2f s, over the %.1f s the contract "
                                 "allows" % (name, seconds, cls.CONTRACT_S))

    def watch_fault(self, name, detect, min_scrapes, during, port=None):
        """Scrapes every SCRAPE_EVERY_S from now on (the fault has just been caused) until
        detect(metrics) holds and for 3 s more, min_scrapes scrapes at least, or BOUND_S
        without it; records the timing when it shows and prints the scrape latencies
        ("during the <during>"). Returns (last metrics, seconds to detect or None,
        [scrape latencies])."""
        port = port or self.replmon.port
        t0 = time.monotonic()
        latencies, detected, m = [], None, None
        while True:
            m, secs = scrape(port)
            latencies.append(secs)
            now = time.monotonic() - t0
            if detected is None and detect(m):
                detected = now
                self.record_timing(name, detected)
            if detected is not None and now > detected + 3 and len(latencies) >= min_scrapes:
                break
            if detected is None and now > self.BOUND_S:
                break
            time.sleep(self.SCRAPE_EVERY_S)
        print("    %d scrapes during the %s: max %.1f ms, median %.1f ms" % (
            len(latencies), during, max(latencies) * 1000,
            sorted(latencies)[len(latencies) // 2] * 1000))
        return m, detected, latencies


class FixtureCase(ReplmonCase):
    """Base of a suite whose class fixture is a temporary workdir, the servers that
    start_fixture() starts in it and one replmon (cls.replmon, see start_replmon()).

    Hooks: check_prerequisites() (raises when something is missing; by default the replmon
    binary), start_fixture() (every server and replmon), stop_fixture() (all of it, replmon
    first). Class attributes: LABEL (the suite's summary label, also the start of the line
    that says where the workdir was kept), KEPT (what that line says is kept),
    WORKDIR_PREFIX, REPLMON_TAG (the replmon log's name). A failure in setUpClass keeps the
    workdir; tearDownClass and the runner's clean-up (pass cls._cleanup to run_suite) keep
    it when KEEP_WORKDIR=1 or a test failed."""

    LABEL = "integration"
    KEPT = "logs"
    WORKDIR_PREFIX = "replmon-it-"
    REPLMON_TAG = "main"
    workdir = None
    config = None

    @classmethod
    def check_prerequisites(cls):
        binary = replmon_path()
        if not os.access(binary, os.X_OK):
            raise RuntimeError("replmon binary not found at %s (run make, or set REPLMON)" % binary)

    @classmethod
    def setUpClass(cls):
        cls.check_prerequisites()
        cls.workdir = tempfile.mkdtemp(prefix=cls.WORKDIR_PREFIX)
        try:
            cls.start_fixture()
        except Exception:
            cls._cleanup(keep=True)
            raise
        except BaseException:
            cls._cleanup()
            raise

    @classmethod
    def start_fixture(cls):
        raise NotImplementedError

    @classmethod
    def start_replmon(cls, config):
        """cls.config = config; replmon started on it and serving /metrics."""
        cls.config = config
        cls.replmon = Replmon(cls.workdir, config, cls.REPLMON_TAG)
        cls.replmon.wait_serving()

    @classmethod
    def stop_fixture(cls):
        if cls.replmon is not None:
            cls.replmon.stop()
            cls.replmon = None

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()

    @classmethod
    def _cleanup(cls, keep=None):
        cls.stop_fixture()
        if cls.workdir and os.path.isdir(cls.workdir):
            if keep is None:
                keep = os.environ.get("KEEP_WORKDIR") == "1" or RESULT_FAILED[0]
            if keep:
                print("%s: %s kept in %s" % (cls.LABEL, cls.KEPT, cls.workdir), file=sys.stderr)
            else:
                shutil.rmtree(cls.workdir, ignore_errors=True)
            cls.workdir = None

    def assert_secrets_not_shown(self, secrets, paths):
        """None of secrets (str) is in what the suite's replmon serves on paths, nor on its
        command line. (Its log: check what stop_replmon_cleanly() returns.)"""
        rm = type(self).replmon
        for path in paths:
            body = http(rm.port, path)[2]
            for s in secrets:
                self.assertNotIn(s.encode(), body, "a secret is served on " + path)
        with open("/proc/%d/cmdline" % rm.proc.pid, "rb") as f:
            cmdline = f.read()
        for s in secrets:
            self.assertNotIn(s.encode(), cmdline, "a secret is on the command line")

    def stop_replmon_cleanly(self, max_secs=None):
        """SIGTERM to the suite's replmon (cls.replmon is None afterwards): it must exit 0,
        within max_secs when given, log msg=stopped and no sanitizer report. Returns its
        log."""
        rm = type(self).replmon
        t0 = time.monotonic()
        rc = rm.stop(bound=self.BOUND_S)
        secs = time.monotonic() - t0
        log = rm.log_text()
        type(self).replmon = None
        print("\n    SIGTERM: exit %s after %.2f s" % (rc, secs), flush=True)
        self.assertEqual(rc, 0, "exit status on SIGTERM; log tail:\n%s" % log[-3000:])
        if max_secs is not None:
            self.assertLess(secs, max_secs, "shutdown waits at most one poll")
        self.assertIn("msg=stopped", log)
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            self.assertNotIn(bad, log)
        return log

    def setUp(self):
        self.assertIsNotNone(self.replmon, "replmon was stopped by an earlier test")
        self.assertIsNotNone(self.replmon.proc, "replmon not running")
        self.assertIsNone(self.replmon.proc.poll(), "replmon exited with %s; log tail:\n%s" % (
            self.replmon.proc.returncode, self.replmon.log_text()[-3000:]))


class _FailureWatch(unittest.TestSuite):
    """Marks the run as failed as soon as a test fails, so the clean-up keeps the logs."""

    def run(self, result, debug=False):
        orig_fail, orig_err = result.addFailure, result.addError

        def add_failure(test, err):
            RESULT_FAILED[0] = True
            orig_fail(test, err)

        def add_error(test, err):
            RESULT_FAILED[0] = True
            orig_err(test, err)

        result.addFailure, result.addError = add_failure, add_error
        return super().run(result, debug)


def run_suite(case, argv, label, module, cleanup=None, timings_title=None):
    """Runs the tests of `case` (or the names in argv), prints `LABEL: N passed, M failed[,
    K skipped]` last; returns the exit status. cleanup() runs in any case."""
    install_signal_handlers()
    verbosity = 2 if "-v" in argv else 1
    names = [a for a in argv if not a.startswith("-")]
    loader = unittest.TestLoader()
    if names:
        suite = loader.loadTestsFromNames(names, module)
    else:
        suite = loader.loadTestsFromTestCase(case)
    runner = unittest.TextTestRunner(verbosity=verbosity, stream=sys.stdout)
    t0 = time.monotonic()
    result = None
    try:
        result = runner.run(_FailureWatch(suite))
    except KeyboardInterrupt as e:
        print("\n%s: interrupted (%s)" % (label, e), file=sys.stderr)
    finally:
        if cleanup is not None:
            cleanup()
        stop_all_live()
    if result is None:
        print("%s: 0 passed, 1 failed (interrupted)" % label)
        return 130
    if case.timings:
        print(timings_title or "fault timings (seconds from the fault to /metrics):")
        for name, secs in case.timings:
            print("  %-24s %6.2f" % (name, secs))
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped - len(result.expectedFailures)
    if result.testsRun == 0 and failed == 0:
        failed = 1  # nothing ran at all
    line = "%s: %d passed, %d failed" % (label, max(passed, 0), failed)
    if skipped:
        line += ", %d skipped" % skipped
    print("(%.0f s)" % (time.monotonic() - t0))
    print(line)
    return 0 if failed == 0 else 1
