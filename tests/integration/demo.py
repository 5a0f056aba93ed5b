#!/usr/bin/env python3
"""`make demo`: a throwaway MariaDB master-master pair and an ejabberd server, watched by
build/replmon.

Starts the pair and one ejabberd (domain chat.test, with two demo clients, alice and bob,
logged in through slixmpp) in a temporary directory, writes a replmon configuration for
both, starts replmon on 127.0.0.1:9873 (env REPLMON_DEMO_ADDR overrides, REPLMON the
binary), prints what to open, then waits for Ctrl-C or SIGTERM and stops everything (by
PID) and removes the temporary directory. Without ejabberdctl or slixmpp the demo runs
with MariaDB only.
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
import common  # noqa: E402
import xmpp_servers  # noqa: E402
from common import replmon_path, spawn, stop_process  # noqa: E402
from mariadb_pair import Pair  # noqa: E402

XMPP_CLUSTER, XMPP_NODE = "chat", "xmpp1"
DEMO_USERS = {"alice": "alice-Demo-1", "bob": "bob-Demo-2"}


def xmpp_available():
    """Why the XMPP part cannot run, or None."""
    if not shutil.which(xmpp_servers.EJABBERDCTL):
        return "ejabberdctl not found (Debian package ejabberd)"
    if not shutil.which("openssl"):
        return "openssl not found"
    try:
        xmpp_servers.slixmpp_python()
    except RuntimeError as e:
        return str(e)
    return None


def xmpp_config(ej):
    return ("xmpp:\n"
            "  - cluster: %s\n"
            "    nodes:\n"
            "      - name: %s\n"
            "        type: ejabberd\n"
            "        api_url: %s\n"
            "        c2s_address: %s\n"
            "        domain: %s\n" % (XMPP_CLUSTER, XMPP_NODE, ej.api_url(), ej.c2s_address(),
                                      ej.domain))


def url_base(addr):
    host, _, port = addr.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return "http://%s:%s" % (host, port)


def tail(path, n=30):
    return common.tail(path, n)


def main():
    common.install_signal_handlers()  # SIGTERM/SIGINT -> KeyboardInterrupt
    binary = replmon_path()
    if not os.access(binary, os.X_OK):
        print("demo: %s not found; run make first" % binary, file=sys.stderr)
        return 1
    addr = os.environ.get("REPLMON_DEMO_ADDR", "127.0.0.1:9873")
    base = url_base(addr)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    workdir = tempfile.mkdtemp(prefix="replmon-demo-")
    pair, replmon, rc, ej, clients = None, None, 0, None, []
    try:
        no_xmpp = xmpp_available()
        if no_xmpp:
            print("demo: no XMPP part: %s" % no_xmpp, flush=True)
        else:  # launched first: it comes up while the pair starts
            print("demo: starting ejabberd in %s ..." % workdir, flush=True)
            ej = xmpp_servers.Ejabberd(os.path.join(workdir, "ejabberd"))
            ej.launch()
        print("demo: starting a MariaDB pair in %s ..." % workdir, flush=True)
        pair = Pair(os.path.join(workdir, "pair"))
        pair.start()
        pair.wait_replicating(30)
        print("demo: db1 on 127.0.0.1:%d, db2 on 127.0.0.1:%d, replicating both ways"
              % (pair.port(0), pair.port(1)), flush=True)
        if ej is not None:
            ej.wait_ready()
            for user, password in DEMO_USERS.items():
                ej.register(user, password)
                c = xmpp_servers.Client(ej.c2s_address(), "%s@%s" % (user, ej.domain),
                                        password, logdir=workdir)
                c.connect()
                clients.append(c)
            print("demo: ejabberd c2s on %s, API %s; logged in: %s" % (
                ej.c2s_address(), ej.api_url(), ", ".join(c.full_jid for c in clients)),
                flush=True)
        config = pair.write_replmon_config(os.path.join(workdir, "replmon.yml"), "monitor",
                                           os.path.join(workdir, "monitor.pass"))
        if ej is not None:
            with open(config, "a") as f:
                f.write(xmpp_config(ej))
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
                lines = body.splitlines()
                up = [line for line in lines if line.startswith("mariadb_up{")]
                want = '{cluster="%s",node="%s"} %d' % (XMPP_CLUSTER, XMPP_NODE, len(clients))
                xmpp_ready = ej is None or any(line.startswith("xmpp_c2s_sessions") and
                                               line.endswith(want) for line in lines)
                if len(up) >= 2 and all(line.endswith(" 1") for line in up) and xmpp_ready:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if body is None:
            raise RuntimeError("replmon does not answer on %s; log:\n%s" % (base, tail(log)))
        print("\nFirst scrape:")
        for line in body.splitlines():
            if line.startswith("mariadb_up") or line.startswith("xmpp_"):
                print("  " + line)
        root = "mariadb --no-defaults -uroot --socket=%s" % pair.nodes[0].socket
        print("""
replmon %s is watching the pair%s (config %s, log %s).
  status page:  %s/
  metrics:      %s/metrics
  try:          curl -s %s/metrics | grep -E '^mariadb_(up|replica_(io|sql)_running)'
  make a fault: %s -e 'STOP SLAVE IO_THREAD'   (then START SLAVE)""" % (
            binary, " and ejabberd" if ej is not None else "", config, log, base, base, base,
            root), flush=True)
        if ej is not None:
            print("""  xmpp:         curl -s %s/metrics | grep -E '^xmpp_(up|c2s_sessions)'
  alice and bob are online (%s); an account of your own for any XMPP client:
                %s""" % (base, ej.c2s_address(), " ".join(
                ej.ctl_argv("register", "carol", ej.domain, "PASSWORD"))), flush=True)
        print("Press Ctrl-C to stop everything.", flush=True)

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
        for c in clients:
            c.disconnect()
        if ej is not None:
            ej.stop()
        if pair is not None:
            pair.stop()
        common.stop_all_live()
        shutil.rmtree(workdir, ignore_errors=True)
        print("demo: stopped; %s removed" % workdir, flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
