#!/usr/bin/env python3
"""s2s federation on one host, in a network namespace of its own: ejabberd 23.01 serving
one.test and Prosody 0.12 serving two.test, each with a certificate from a throwaway test
CA, federating over STARTTLS with certificate authentication (SASL EXTERNAL) both ways.

    with Federation(workdir).start() as fed:
        c = fed.client("one", "alice", ping="two.test")      # slixmpp, in the namespace
        fed.ejabberd_s2s(), fed.prosody_s2s()                # {"in": N, "out": M}
        rm = fed.start_replmon(config_path)                  # replmon in the namespace,
        scrape(rm.port)                                      # reached through a forwarder
        fed.prosody.stop(); fed.prosody.start()              # faults: Prosody only

- The namespace (netns.Netns, `rmf<PID>s`) has only `lo`; `/etc/netns/<name>/hosts` maps
  one.test to 127.0.0.2 and two.test to 127.0.0.3 (`ip netns exec` bind-mounts it over
  /etc/hosts; the machine's own /etc/hosts is never touched). Every daemon (ejabberd's
  `ejabberdctl foreground` and its VM, which uses ERL_DIST_PORT and so no epmd; Prosody;
  replmon), every ejabberdctl/prosodyctl call and every client runs through `ip netns exec`;
  the test's own HTTP calls to the servers are made from inside the namespace
  (xmpp_servers' `netns` option), and replmon's port is relayed to the root namespace's
  127.0.0.1 by netns.NetnsForwarder.
- TestCA: an EC P-256 CA made with openssl; issue(domain) gives a certificate with
  subjectAltName dNSName for the domain, serverAuth and clientAuth (s2s peers present it
  as a client too). No id-on-xmppAddr by default: a peer certificate carrying one crashes
  ejabberd 23.01's incoming s2s stream during SASL EXTERNAL (badarg in
  xmpp_stream_pkix:get_cert_domains/1), so federation towards it never comes up.
- ejabberd (one.test): c2s and mod_http_api on 127.0.0.1 (free ports), ejabberd_s2s_in on
  127.0.0.2:5269, mod_ping, no mod_s2s_dialback (so the peer's certificate is required),
  `s2s_use_starttls: required`, `ca_file` = the CA, `s2s_max_retry_delay: 2` (its default,
  300 s, would keep it from retrying Prosody for minutes after a fault), outgoing s2s over
  IPv4 from 127.0.0.2. It resolves two.test through the C library, i.e. the hosts file.
- Prosody (two.test): c2s and http_openmetrics on 127.0.0.1, s2s on 127.0.0.3:5269,
  `s2s_require_encryption`, `s2s_secure_auth`, the CA as `cafile`, mod_ping, and
  prosody_plugins/mod_test_s2s_addresses.lua (one.test -> 127.0.0.2:5269), because Prosody
  0.12.3's own DNS ignores /etc/hosts.
- One monitoring account on each side (MONITOR, registered with ejabberdctl / prosodyctl).

stop() stops replmon, Prosody and ejabberd by PID, kills by PID whatever else is left in
the namespace (it is ours), deletes it and /etc/netns/<name>; also from common's atexit and
signal clean-up. Needs root, iproute2, openssl, ejabberd, prosody, python3-slixmpp.

Self-check (proves federation with real clients, no replmon):
    python3 tests/integration/federation.py
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import netns  # noqa: E402
from common import (Replmon, http_url, register_cleanup, tail,  # noqa: E402
                    unregister_cleanup)
from xmpp_servers import (PROSODY_PLUGINS, Client, Ejabberd, Prosody,  # noqa: E402
                          _alive, stop_all)

__all__ = ["Federation", "TestCA", "ONE", "TWO", "ADDRESS", "MONITOR", "MONITOR_PASSWORD"]

ONE, TWO = "one.test", "two.test"
ADDRESS = {ONE: "127.0.0.2", TWO: "127.0.0.3"}
S2S_PORT = 5269
MONITOR = "monitor"
MONITOR_PASSWORD = "monitor-Secret-9"
PLUGINS = PROSODY_PLUGINS


def _openssl(*args):
    r = subprocess.run(["openssl"] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], (r.stdout + r.stderr).decode(
            "utf-8", "replace")))


class TestCA:
    """A throwaway CA (EC P-256, 30 days) in directory: `cert` is its PEM certificate."""

    def __init__(self, directory, name="replmon test CA"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.cert = os.path.join(directory, "ca.pem")
        self.key = os.path.join(directory, "ca.key")
        _openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", self.key,
                 "-out", self.cert, "-days", "30", "-subj", "/CN=" + name,
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        os.chmod(self.key, 0o600)
        self._serial = int.from_bytes(os.urandom(8), "big")

    def issue(self, domain, names=None, days=30, tag=None, xmpp_addr=False):
        """A certificate for domain (subjectAltName dNSName for each of names, by default
        [domain]; with xmpp_addr also id-on-xmppAddr, which ejabberd 23.01's s2s_in cannot
        parse: see the module docstring); returns (cert, key) paths."""
        names = names or [domain]
        base = os.path.join(self.dir, tag or domain)
        key, csr, cert, ext = base + ".key", base + ".csr", base + ".pem", base + ".ext"
        san = ",".join("DNS:%s" % n + (",otherName:1.3.6.1.5.5.7.8.5;UTF8:%s" % n
                                       if xmpp_addr else "") for n in names)
        with open(ext, "w") as f:
            f.write("[v3]\nbasicConstraints = CA:FALSE\n"
                    "keyUsage = critical, digitalSignature, keyEncipherment\n"
                    "extendedKeyUsage = serverAuth, clientAuth\n"
                    "subjectAltName = %s\n" % san)
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + domain)
        os.chmod(key, 0o600)
        self._serial += 1
        _openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                 "-set_serial", str(self._serial), "-days", str(days), "-out", cert,
                 "-extfile", ext, "-extensions", "v3")
        return cert, key


def ejabberd_s2s_options(ca_file):
    """ejabberd.yml for one.test's side of the federation (see the module docstring):
    (extra_listen, extra_modules, extra_options) for xmpp_servers.Ejabberd."""
    listen = """  -
    port: %d
    ip: "%s"
    module: ejabberd_s2s_in
""" % (S2S_PORT, ADDRESS[ONE])
    modules = "  mod_ping: {}\n"
    options = """s2s_use_starttls: required
ca_file: "%s"
s2s_max_retry_delay: 2
outgoing_s2s_families:
  - ipv4
outgoing_s2s_ipv4_address: "%s"
outgoing_s2s_timeout: 5
s2s_dns_timeout: 2
""" % (ca_file, ADDRESS[ONE])
    return listen, modules, options


class Federation:
    """The namespace, the CA, ejabberd (one.test) and Prosody (two.test); see the module
    docstring. Attributes: ns, ca, ejabberd, prosody, replmon (after start_replmon)."""

    def __init__(self, workdir, tag="s", verbose=False):
        self.dir = os.path.abspath(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.tag = tag
        self.verbose = verbose
        self.ns = None
        self.ca = None
        self.ejabberd = None
        self.prosody = None
        self.replmon = None
        self.forwarder = None
        self.clients = []
        self.timings = []  # (phase, seconds)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _phase(self, name, t0):
        now = time.monotonic()
        self.timings.append((name, now - t0))
        if self.verbose:
            print("federation: %s in %.2f s" % (name, now - t0), file=sys.stderr, flush=True)
        return now

    def start(self):
        """Everything up and both monitoring accounts registered; returns self. On failure
        everything started so far is stopped again."""
        why = netns.available()
        if why:
            raise RuntimeError("federation: " + why)
        register_cleanup(self.stop)
        try:
            t = time.monotonic()
            self.ns = netns.Netns(self.tag)
            self.ns.etc("hosts", "127.0.0.1 localhost\n%s %s\n%s %s\n" % (
                ADDRESS[ONE], ONE, ADDRESS[TWO], TWO))
            # No DNS server in here: the SRV lookups both servers try first are refused at
            # once instead of waiting for the machine's resolver, which is unreachable.
            self.ns.etc("resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
            t = self._phase("namespace", t)
            self.ca = TestCA(os.path.join(self.dir, "ca"))
            one = self.ca.issue(ONE)
            two = self.ca.issue(TWO)
            t = self._phase("certificates", t)
            listen, modules, options = ejabberd_s2s_options(self.ca.cert)
            self.ejabberd = Ejabberd(os.path.join(self.dir, "ejabberd"), domain=ONE,
                                     verbose=self.verbose, netns=self.ns, certificate=one,
                                     extra_certfiles=(self.ca.cert,), extra_listen=listen,
                                     extra_modules=modules, extra_options=options)
            self.prosody = Prosody(
                os.path.join(self.dir, "prosody"), domain=TWO, verbose=self.verbose,
                netns=self.ns, certificate=two, cafile=self.ca.cert,
                s2s_interface=ADDRESS[TWO], plugin_paths=(PLUGINS,),
                extra_modules=("test_s2s_addresses",),
                extra_config='test_s2s_addresses = { ["%s"] = "%s:%d" }\n' % (
                    ONE, ADDRESS[ONE], S2S_PORT))
            self.ejabberd.launch()
            self.prosody.launch()
            self.prosody.wait_ready()
            self.prosody.register(MONITOR, MONITOR_PASSWORD)
            t = self._phase("prosody", t)
            self.ejabberd.wait_ready()
            self.ejabberd.register(MONITOR, MONITOR_PASSWORD)
            self._phase("ejabberd", t)
        except BaseException:
            self.stop()
            raise
        return self

    def start_replmon(self, config, tag="federation"):
        """replmon on config, in the namespace; its port relayed to the root namespace's
        127.0.0.1 (same number). Returns the common.Replmon once it serves /metrics."""
        self.replmon = Replmon(self.dir, config, tag, prefix=self.ns.prefix())
        self.forwarder = netns.NetnsForwarder(self.replmon.port, self.ns)
        self.replmon.wait_serving()
        return self.replmon

    def stop_replmon(self, bound=10.0):
        rc = None
        if self.replmon is not None:
            rc = self.replmon.stop(bound=bound)
            self.replmon = None
        if self.forwarder is not None:
            self.forwarder.close()
            self.forwarder = None
        return rc

    def stop(self):
        """Idempotent: clients, replmon, Prosody, ejabberd (by PID), leftovers in the
        namespace (by PID), the namespace and its /etc/netns directory."""
        unregister_cleanup(self.stop)
        for c in self.clients:
            c.disconnect()
        self.clients = []
        self.stop_replmon()
        stop_all([self.prosody, self.ejabberd])
        if self.ns is not None:
            for pid in self.namespace_pids():
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        what = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
                    print("federation: pid %d left in %s, killed: %s"
                          % (pid, self.ns.name, what[:200]), file=sys.stderr)
                    os.kill(pid, signal.SIGKILL)
                except (OSError, ProcessLookupError):
                    pass
            deadline = time.monotonic() + 5
            while self.namespace_pids() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.ns.delete()
            self.ns = None

    def namespace_pids(self):
        """PIDs of the processes in the namespace (`ip netns pids`)."""
        if self.ns is None:
            return []
        out = netns.ip("netns", "pids", self.ns.name, check=False)
        return [int(p) for p in out.split() if p.isdigit()]

    # ------------------------------------------------------------------ helpers
    def server(self, side):
        return self.ejabberd if side in ("one", ONE) else self.prosody

    def client(self, side, user, password=None, **kw):
        """A slixmpp session (xmpp_servers.Client) of user@one.test or user@two.test, in the
        namespace, connected; stopped by stop() at the latest. kw: presence, send, ping."""
        srv = self.server(side)
        if password is None:
            password = srv.registered.get(user)
            if password is None:
                password = user + "-Secret-1"
                srv.register(user, password)
        c = Client(srv.c2s_address(), "%s@%s" % (user, srv.domain), password,
                   logdir=self.dir, prefix=self.ns.prefix(), **kw)
        self.clients.append(c)
        c.connect()
        return c

    def ejabberd_s2s(self):
        """{"in": incoming_s2s_number, "out": outgoing_s2s_number} from ejabberd's API."""
        import json
        got = {}
        for direction, cmd, key in (("in", "incoming_s2s_number", "s2s_incoming"),
                                    ("out", "outgoing_s2s_number", "s2s_outgoing")):
            status, body = self.ejabberd.api(cmd)
            if status != 200:
                raise RuntimeError("ejabberd %s answered %d: %r" % (cmd, status, body[:200]))
            got[direction] = json.loads(body)[key]
        return got

    def prosody_s2s(self):
        """{"in": N, "out": M}: prosody_mod_s2s__connections_inbound/outbound summed (0
        while Prosody has no samples yet)."""
        got = {"in": 0.0, "out": 0.0}
        for line in self.prosody.metrics().decode("utf-8").splitlines():
            for direction, name in (("in", "prosody_mod_s2s__connections_inbound"),
                                    ("out", "prosody_mod_s2s__connections_outbound")):
                if line.startswith(name + "{") or line.startswith(name + " "):
                    got[direction] += float(line.rsplit(None, 1)[1])
        return got

    def http_in_namespace(self, url, timeout=5.0):
        """(status, headers, body, seconds) of a GET made from inside the namespace."""
        with self.ns.entered():
            return http_url(url, timeout=timeout)

    def logs(self, lines=30):
        """The last lines of both servers' logs, for failure messages."""
        out = []
        if self.ejabberd is not None:
            out.append("ejabberd.log:\n" + tail(os.path.join(self.ejabberd.logs,
                                                             "ejabberd.log"), lines))
        if self.prosody is not None:
            out.append("prosody.log:\n" + tail(self.prosody.log, lines))
        return "\n".join(out)


# --------------------------------------------------------------------------------------
# Self-check: federation proven with real clients

def self_check(workdir):
    problems = []

    def check(cond, what):
        print(("  ok    " if cond else "  FAIL  ") + what, flush=True)
        if not cond:
            problems.append(what)

    def delivered(sender, recipient, body):
        """Checks that recipient (a Client) receives body from sender, which sent it."""
        what = "%s -> %s message" % (sender.jid.split("@")[1], recipient.jid.split("@")[1])
        try:
            t, frm = recipient.wait_message(body, bound=15)
            check(frm.startswith(sender.jid), "%s (%.1f ms after sending)"
                  % (what, (t - sender.sent_at()) * 1e3))
        except RuntimeError as e:
            check(False, "%s: %s\n%s" % (what, e, fed.logs()))

    t0 = time.monotonic()
    with Federation(workdir, verbose=True) as fed:
        fed.start()
        print("federation up in %.1f s (%s); namespace %s" % (
            time.monotonic() - t0, ", ".join("%s %.2f" % p for p in fed.timings),
            fed.ns.name), flush=True)
        # Messages both ways: bob@two.test online first, then alice@one.test sends.
        bob = fed.client("two", "bob", presence=True)
        alice = fed.client("one", "alice", presence=True, send=("bob@" + TWO, "hello two"))
        delivered(alice, bob, "hello two")
        carol = fed.client("two", "carol", send=("alice@" + ONE, "hello one"))
        delivered(carol, alice, "hello one")
        # XEP-0199 pings to the remote domain, both ways.
        for side, remote in (("one", TWO), ("two", ONE)):
            c = fed.client(side, MONITOR, password=MONITOR_PASSWORD, ping=remote)
            outcome = c.wait_pong(bound=25)
            check(outcome[0] == "PONG", "ping %s -> %s: %s %s" % (
                fed.server(side).domain, remote, outcome[0],
                "%.1f ms" % (outcome[1] * 1e3) if outcome[0] == "PONG" else outcome[1]))
        ej, pr = fed.ejabberd_s2s(), fed.prosody_s2s()
        check(ej["in"] > 0 and ej["out"] > 0, "ejabberd s2s connections %s" % ej)
        check(pr["in"] > 0 and pr["out"] > 0, "prosody s2s connections %s" % pr)
        text = open(os.path.join(fed.ejabberd.logs, "ejabberd.log")).read()
        check("two.test" in text, "ejabberd's log mentions two.test")
        # Prosody stopped: the monitoring account's ping to two.test fails with a reason.
        fed.prosody.stop()
        c = fed.client("one", MONITOR, password=MONITOR_PASSWORD, ping=TWO)
        outcome = c.wait_pong(bound=25)
        check(outcome[0] == "PING-FAILED", "Prosody stopped: ping one.test -> two.test %s %s"
              % outcome)
        t1 = time.monotonic()
        fed.prosody.start()
        print("  prosody restarted in %.2f s" % (time.monotonic() - t1))
        time.sleep(2.5)  # s2s_max_retry_delay
        c = fed.client("one", MONITOR, password=MONITOR_PASSWORD, ping=TWO)
        outcome = c.wait_pong(bound=25)
        check(outcome[0] == "PONG", "Prosody back: ping one.test -> two.test %s %s" % outcome)
        pids = fed.namespace_pids()
        for pid in pids:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    print("  in the namespace: %d %s" % (pid, f.read().replace(
                        b"\0", b" ").decode("utf-8", "replace")[:150]))
            except OSError:
                pass
        ns_name = fed.ns.name
    check(not os.path.exists("/run/netns/" + ns_name), "namespace %s deleted" % ns_name)
    check(not os.path.exists("/etc/netns/" + ns_name), "/etc/netns/%s deleted" % ns_name)
    print("processes in the namespace before stop: %s" % pids)
    check(not [p for p in pids if _alive(p)], "every process of the namespace gone")
    print("self-check took %.1f s" % (time.monotonic() - t0))
    return problems


if __name__ == "__main__":
    from common import install_signal_handlers
    install_signal_handlers()
    wd = tempfile.mkdtemp(prefix="replmon-federation-")
    problems = ["interrupted"]
    try:
        problems = self_check(wd)
    finally:
        if problems:
            print("federation: %d problem(s); files kept in %s" % (len(problems), wd))
        else:
            shutil.rmtree(wd, ignore_errors=True)
    print("federation self-check: %s" % ("OK" if not problems else "FAILED: %s" % problems))
    sys.exit(1 if problems else 0)
