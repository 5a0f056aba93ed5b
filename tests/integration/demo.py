#!/usr/bin/env python3
"""`make demo`: a throwaway MariaDB master-master pair watched by build/replmon.

Starts the pair in a temporary directory, writes a replmon configuration for it, starts
replmon on 127.0.0.1:9873 (env REPLMON_DEMO_ADDR overrides, REPLMON the binary), prints
what to open, then waits for Ctrl-C or SIGTERM and stops everything (by PID) and removes
the temporary directory.
"""

import os
import shutil
import signal
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mariadb_pair  # noqa: E402
from mariadb_pair import Pair, spawn, stop_process  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))


def replmon_path():
    p = os.environ.get("REPLMON", "build/replmon")
    if not os.path.isabs(p):
        p = p if os.path.exists(p) else os.path.join(REPO, p)
    return os.path.abspath(p)


def url_base(addr):
    host, _, port = addr.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return "http://%s:%s" % (host, port)


def tail(path, n=30):
    try:
        with open(path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
    except OSError:
        return ""


def main():
    mariadb_pair.install_signal_handlers()  # SIGTERM/SIGINT -> KeyboardInterrupt
    binary = replmon_path()
    if not os.access(binary, os.X_OK):
        print("demo: %s not found; run make first" % binary, file=sys.stderr)
        return 1
    addr = os.environ.get("REPLMON_DEMO_ADDR", "127.0.0.1:9873")
    base = url_base(addr)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    workdir = tempfile.mkdtemp(prefix="replmon-demo-")
    pair, replmon, rc = None, None, 0
    try:
        print("demo: starting a MariaDB pair in %s ..." % workdir, flush=True)
        pair = Pair(os.path.join(workdir, "pair"))
        pair.start()
        pair.wait_replicating(30)
        print("demo: db1 on 127.0.0.1:%d, db2 on 127.0.0.1:%d, replicating both ways"
              % (pair.port(0), pair.port(1)), flush=True)
        config = pair.write_replmon_config(os.path.join(workdir, "replmon.yml"), "monitor",
                                           os.path.join(workdir, "monitor.pass"))
        log = os.path.join(workdir, "replmon.log")
        replmon = spawn([binary, "--config.file=" + config, "--web.listen-address=" + addr,
                         "--log.level=info"], log)

        # First scrape, once both nodes have been polled.
        deadline, body = time.monotonic() + 15, None
        while time.monotonic() < deadline:
            if replmon.poll() is not None:
                raise RuntimeError("replmon exited with %s; log:\n%s" % (replmon.returncode,
                                                                         tail(log)))
            try:
                with opener.open(base + "/metrics", timeout=2) as r:
                    body = r.read().decode("utf-8")
                if body.count("mariadb_up{") >= 2 and "} 1\n" in body:
                    up = [l for l in body.splitlines() if l.startswith("mariadb_up{")]
                    if all(l.endswith(" 1") for l in up):
                        break
            except OSError:
                pass
            time.sleep(0.2)
        if body is None:
            raise RuntimeError("replmon does not answer on %s; log:\n%s" % (base, tail(log)))
        print("\nFirst scrape:")
        for line in body.splitlines():
            if line.startswith("mariadb_up"):
                print("  " + line)
        root = "mariadb --no-defaults -uroot --socket=%s" % pair.nodes[0].socket
        print("""
replmon %s is watching the pair (config %s, log %s).
  status page:  %s/
  metrics:      %s/metrics
  try:          curl -s %s/metrics | grep -E '^mariadb_(up|replica_(io|sql)_running)'
  make a fault: %s -e 'STOP SLAVE IO_THREAD'   (then START SLAVE)
Press Ctrl-C to stop everything.""" % (binary, config, log, base, base, base, root), flush=True)

        while True:
            time.sleep(1)
            if replmon.poll() is not None:
                print("demo: replmon exited with %s; log:\n%s" % (replmon.returncode, tail(log)),
                      file=sys.stderr)
                rc = 1
                break
    except KeyboardInterrupt:
        print("\ndemo: stopping ...", flush=True)
    except Exception as e:
        print("demo: %s" % e, file=sys.stderr)
        rc = 1
    finally:
        # A second Ctrl-C (or the one the terminal sends to the whole process group) must
        # not cut the clean-up short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if replmon is not None:
            stop_process(replmon, bound=10)
        if pair is not None:
            pair.stop()
        mariadb_pair._stop_all_live()
        shutil.rmtree(workdir, ignore_errors=True)
        print("demo: stopped; %s removed" % workdir, flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
