#!/usr/bin/env python3
"""`make demo`: the platform replmon watches, on loopback, watched by build/replmon.

Starts a MariaDB master-master pair and a two-node ejabberd cluster whose accounts and
messages live in it (ejc1 on db1, ejc2 on db2; ejabberd_cluster.py), with two demo clients,
alice on ejc1 and bob on ejc2, logged in through slixmpp, in a temporary directory. Writes a
replmon configuration with every probe on: the pair with heartbeats, both nodes' APIs
(`clustered: true`), a logged-in probe on each node, the delivery probe between them and
each node's database (`depends_on`). Starts replmon on 127.0.0.1:9873 (env REPLMON_DEMO_ADDR
overrides, REPLMON the binary), prints what to open, then waits for Ctrl-C or SIGTERM and
stops everything (by PID) and removes the temporary directory. Without ejabberd (or its
MySQL driver) or slixmpp the demo runs with MariaDB only.
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
import ejabberd_cluster  # noqa: E402
from common import replmon_path, spawn, stop_process  # noqa: E402
from mariadb_pair import Pair  # noqa: E402

XMPP_CLUSTER, XMPP_NODES = "chat", ("ej1", "ej2")
DEMO_USERS = {"alice": "alice-Demo-1", "bob": "bob-Demo-2"}
PROBE_USERS = ("replmon1", "replmon2")
PROBE_PASSWORD = "replmon-Demo-3"


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
    pair, replmon, rc, cl, clients = None, None, 0, None, []
    try:
        no_xmpp = ejabberd_cluster.prerequisites_missing()
        if no_xmpp:
            print("demo: no XMPP part: %s" % no_xmpp, flush=True)
            print("demo: starting a MariaDB pair in %s ..." % workdir, flush=True)
            pair = Pair(os.path.join(workdir, "pair"))
            pair.start()
        else:
            print("demo: starting a MariaDB pair and a two-node ejabberd cluster on it in "
                  "%s ..." % workdir, flush=True)
            cl = ejabberd_cluster.EjabberdCluster(os.path.join(workdir, "cluster"))
            cl.start()
            pair = cl.pair
        pair.wait_replicating(30)
        print("demo: db1 on 127.0.0.1:%d, db2 on 127.0.0.1:%d, replicating both ways"
              % (pair.port(0), pair.port(1)), flush=True)
        secret = os.path.join(workdir, "xmpp-probe.pass")
        if cl is not None:
            for user in PROBE_USERS:
                cl.register(user, PROBE_PASSWORD)
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(PROBE_PASSWORD + "\n")
            for i, (user, password) in enumerate(DEMO_USERS.items()):
                cl.register(user, password)
                clients.append(cl.client(user, node=i, presence=True))
            print("demo: ejabberd %s (c2s %s, API %s) and %s (c2s %s, API %s) in one cluster; "
                  "logged in: %s" % (cl.node(0).node, cl.node(0).c2s_address(),
                                     cl.node(0).api_url(), cl.node(1).node,
                                     cl.node(1).c2s_address(), cl.node(1).api_url(),
                                     ", ".join(c.full_jid for c in clients)), flush=True)
        config = pair.write_replmon_config(os.path.join(workdir, "replmon.yml"), "monitor",
                                           os.path.join(workdir, "monitor.pass"))
        if cl is not None:
            with open(config, "a") as f:
                f.write(cl.xmpp_config(XMPP_CLUSTER, XMPP_NODES, PROBE_USERS, secret))
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
                xmpp_ready = cl is None or (
                    sum(1 for line in lines if line.startswith("xmpp_delivery_success")
                        and line.endswith(" 1")) == 2)
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
            binary, " and the ejabberd cluster" if cl is not None else "", config, log, base,
            base, base, root), flush=True)
        if cl is not None:
            ej = cl.node(1)
            print("""  xmpp:         curl -s %s/metrics | grep -E '^xmpp_(login|delivery|cluster)'
  freeze ejc2:  kill -STOP %d   (then kill -CONT %d)
  alice (on ejc1) and bob (on ejc2) are online; an account of your own for any XMPP client:
                %s""" % (base, ej.vm_pid, ej.vm_pid,
                         " ".join(cl.node(0).ctl_argv("register", "carol", cl.domain,
                                                      "PASSWORD"))), flush=True)
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
        if cl is not None:
            cl.stop()  # the pair too
        elif pair is not None:
            pair.stop()
        common.stop_all_live()
        shutil.rmtree(workdir, ignore_errors=True)
        print("demo: stopped; %s removed" % workdir, flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
