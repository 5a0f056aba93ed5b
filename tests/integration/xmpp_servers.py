#!/usr/bin/env python3
"""Throwaway XMPP servers (and clients) for integration tests, all on 127.0.0.1.

    ej = Ejabberd(workdir)              # ejabberd 23.01, API on a free port
    ej.start(); ej.register("alice", "pw")
    c = Client(ej.c2s_address(), "alice@" + ej.domain, "pw"); c.connect(); ...; c.disconnect()
    ej.stop()

- Ejabberd(workdir, basic_auth=False, refuse=()): its own config dir, spool, logs and
  Erlang node (ERL_DIST_PORT on a free port, so no epmd; a random cookie); listeners
  ejabberd_c2s (STARTTLS offered, not required; a throwaway self-signed certificate) and
  ejabberd_http with /api: mod_http_api; mod_admin_extra, mod_muc, mod_muc_admin, no
  mod_stream_mgmt. api_permissions allow the read-only commands from 127.0.0.1, or with
  basic_auth=True only to HTTP Basic as the registered admin JID (ADMIN_USER@domain,
  password ADMIN_PASSWORD, registered by start()); the commands in `refuse` are left out
  (a call answers 403 code 32). freeze()/thaw() SIGSTOP/SIGCONT the Erlang VM itself.
- Prosody(workdir, muc=None, cert=, key=, direct_tls=, s2s=, outgoing_s2s=): prosody 0.12 with
  http_openmetrics (statistics internal, interval manual), internal_plain auth, STARTTLS
  offered but not required; the given certificate (else a throwaway self-signed one); muc=
  a MUC component domain; with direct_tls a XEP-0368 port (direct_tls_port), with s2s an
  s2s listener (s2s_port). s2s is disabled unless s2s=True, outgoing_s2s=True (it dials
  peers but has no s2s port), or route_s2s(domain, "host:port") is called before start()
  (then: dialback, TLS not required, its own free s2s port, and a plugin of ours that
  sends stanzas for that domain to that address: prosody_plugins/mod_test_s2s_addresses.lua,
  shared with federation.py), or s2s_interface= (federation.py; see the class).
- Both: extra_hosts (more virtual hosts, which the certificate should cover) and
  launch_prefix (a command the server process is started through, e.g. `unshare ...`;
  ejabberdctl/prosodyctl calls are not).
- start_all(servers) starts several servers in parallel, stop_all(servers) stops them so.
- Client(address, jid, password): a real slixmpp session in a subprocess (xmpp_client.py
  run by a Python that has Debian's python3-slixmpp: XMPP_PYTHON, this interpreter, or
  /usr/bin/python3). connect() returns once session_start fired; disconnect() ends it.
- OpenfireReplay(secret=..., basic=(user, password)): http.server replaying the Openfire
  REST API plugin's documented answers for /plugins/restapi/v1/system/statistics/sessions.
- stream_features(address, domain): the raw bytes a c2s port answers to a stream open.
- replmon_xmpp_node(name, server, ...) and replmon_xmpp_config(...): replmon's YAML for
  these servers.

Every process is stopped by PID (stop(), and common's atexit/signal clean-up). ejabberd's
VM is a child of the `ejabberdctl foreground` shell: it is found by PID and stopped with
`ejabberdctl stop`, then SIGTERM, then SIGKILL, each bounded.

Self-check and data capture:  python3 tests/integration/xmpp_servers.py [--save-data DIR]
(starts both servers, logs two clients in and out, calls every ejabberd command, reads
Prosody's /metrics and both stream openings; with --save-data writes the real answers
for the C unit tests, e.g. to tests/unit/data/xmpp).
"""

import base64
import contextlib
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import calendar

HERE = os.path.dirname(os.path.abspath(__file__))
PROSODY_PLUGINS = os.path.join(HERE, "prosody_plugins")
sys.path.insert(0, HERE)
from common import (forget, free_port, http_url, read_log, register_cleanup,  # noqa: E402
                    spawn, stop_process, tail, unregister_cleanup, write_file)

__all__ = ["Ejabberd", "Prosody", "Client", "OpenfireReplay", "stream_features",
           "make_certificate", "slixmpp_python", "start_all", "stop_all", "replmon_xmpp_node",
           "replmon_xmpp_config", "DOMAIN", "ADMIN_USER", "ADMIN_PASSWORD"]

DOMAIN = "chat.test"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-Secret-4"
START_BOUND_S = 60.0
STOP_BOUND_S = 15.0
CTL_TIMEOUT_S = 30.0

EJABBERDCTL = os.environ.get("EJABBERDCTL", "ejabberdctl")
PROSODY = os.environ.get("PROSODY", "prosody")
PROSODYCTL = os.environ.get("PROSODYCTL", "prosodyctl")

# What replmon may call (all read-only). `refuse` takes names out of this list.
READ_ONLY_COMMANDS = (
    "status", "connected_users_number", "connected_users", "connected_users_info",
    "stats", "stats_host", "incoming_s2s_number", "outgoing_s2s_number",
    "muc_online_rooms", "registered_users", "registered_vhosts",
)

_counter = [0]


def _unique(prefix):
    _counter[0] += 1
    return "%s%dx%d%s" % (prefix, os.getpid(), _counter[0], secrets.token_hex(2))


# --------------------------------------------------------------------------------------
# Certificates and the stream probe

def make_certificate(directory, domain):
    """A throwaway self-signed RSA certificate for domain (30 days). Returns
    (cert_path, key_path, not_after_epoch)."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise RuntimeError("openssl not found (Debian package openssl)")
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    r = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=" + domain,
                        "-addext", "subjectAltName=DNS:%s,DNS:*.%s" % (domain, domain)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: %s" % r.stderr.decode("utf-8", "replace"))
    os.chmod(key, 0o600)
    return cert, key, certificate_not_after(cert)


def write_pem(path, cert, key):
    """ejabberd's certfile: the certificate and its key in one file, only for its owner."""
    with open(cert) as c, open(key) as k:
        return write_file(path, c.read() + k.read(), 0o600)


def certificate_not_after(cert):
    """The notAfter of a PEM certificate file, as Unix seconds."""
    r = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-enddate"],
                       capture_output=True, timeout=30, check=True)
    # notAfter=Dec 22 08:13:56 2026 GMT
    text = r.stdout.decode().strip().split("=", 1)[1]
    return calendar.timegm(time.strptime(text, "%b %d %H:%M:%S %Y GMT"))


def _in_netns(netns):
    """A context for the test's own connections to a server: inside netns (an object with
    entered(), see netns.Netns) when the server runs in one, else a no-op."""
    return netns.entered() if netns is not None else contextlib.nullcontext()


def stream_header(domain):
    return ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>"
            % domain).encode()


def stream_features(address, domain, timeout=5.0):
    """Opens a client stream to address ("host:port") for domain and returns the raw bytes
    received until </stream:features> or a stream error (inclusive), as received."""
    host, _, port = address.rpartition(":")
    data = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(stream_header(domain))
        deadline = time.monotonic() + timeout
        while b"</stream:features>" not in data and b"</stream:error>" not in data:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
        try:
            s.sendall(b"</stream:stream>")
        except OSError:
            pass
    return data


def _wait_port(host, port, bound, proc=None, what="server", log=None):
    deadline = time.monotonic() + bound
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s during start-up; log %s:\n%s"
                               % (what, proc.returncode, log, tail(log) if log else ""))
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("%s: nothing listens on %s:%d after %.0f s; log %s:\n%s"
                               % (what, host, port, bound, log, tail(log) if log else ""))
        time.sleep(0.05)


def _children(pid):
    """PIDs whose parent is pid (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                stat = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces and parentheses
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) > 1 and int(rest[1]) == pid:
            out.append(int(entry))
    return out


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def _alive(pid):
    """pid exists and is not a zombie (a reaped grandchild may linger as one briefly)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read().decode("utf-8", "replace")
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


# --------------------------------------------------------------------------------------

def _yaml_list(items, indent=6):
    return "".join("%s- %s\n" % (" " * indent, x) for x in items)


def ejabberd_yml_head(writer, domain, pem, c2s_port, http_port, extra_certfiles=(),
                      extra_hosts=()):
    """The start of a test node's ejabberd.yml: its host (plus extra_hosts), certificate
    (plus extra_certfiles, e.g. the CA that issued it), a c2s listener that offers STARTTLS
    (not required) and the HTTP API, all on 127.0.0.1."""
    pem = '"%s"' % pem + "".join('\n  - "%s"' % f for f in extra_certfiles)
    return """# Written by %s on 127.0.0.1.
loglevel: info
hosts:
%scertfiles:
  - %s
acme:
  auto: false
listen:
  -
    port: %d
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    starttls: true
    starttls_required: false
  -
    port: %d
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
""" % (writer, _yaml_list((domain,) + tuple(extra_hosts), 2), pem, c2s_port, http_port)


def ejabberd_api_permissions(*groups):
    """A test node's api_permissions: every command through ejabberdctl (the tests' own
    calls), then groups, each (name, from: the modules or None for any, who: YAML items
    such as "ip: 127.0.0.1/32", what: the commands, none meaning "!*")."""
    text = """api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
"""
    for name, sources, who, commands in groups:
        text += '  "%s":\n' % name
        if sources:
            text += "    from:\n" + _yaml_list(sources)
        text += "    who:\n" + _yaml_list(who) + "    what:\n" + _yaml_list(commands or ['"!*"'])
    return text


def ejabberd_modules(*more):
    """A test node's modules (rooms only for local users; no mod_stream_mgmt, so a killed
    client's session ends at once), plus more, e.g. "mod_ping: {}"."""
    return """modules:
  mod_admin_extra: {}
  mod_disco: {}
  mod_muc:
    access_create: muc_create
  mod_muc_admin: {}
  mod_roster: {}
""" + "".join("  %s\n" % m for m in more)


class Ejabberd:
    """A throwaway ejabberd 23.01 node (see the module docstring).

    Options for other set-ups (federation.py): netns (a netns.Netns: every process runs
    through `ip netns exec`, and the test's own connections to it are made inside the
    namespace), certificate ((cert, key) files instead of a self-signed one) with
    extra_certfiles (e.g. its CA, so the chain is complete), and YAML text added to the
    listeners (extra_listen), to the modules (extra_modules) and at the top level
    (extra_options). Also extra_hosts and launch_prefix (see the module docstring)."""

    def __init__(self, workdir, basic_auth=False, refuse=(), domain=DOMAIN, verbose=False,
                 netns=None, certificate=None, extra_certfiles=(), extra_listen="",
                 extra_modules="", extra_options="", extra_hosts=(), launch_prefix=()):
        self.dir = os.path.abspath(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.domain = domain
        self.netns = netns
        self.certificate = certificate
        self.extra_certfiles = tuple(extra_certfiles)
        self.extra_listen, self.extra_modules = extra_listen, extra_modules
        self.extra_options = extra_options
        self.extra_hosts = tuple(extra_hosts)
        self.launch_prefix = list(launch_prefix)
        self.basic_auth = basic_auth
        self.refuse = tuple(refuse)
        self.verbose = verbose
        self.node = _unique("rmej") + "@localhost"
        self.cookie = secrets.token_hex(16)
        self.c2s_port = free_port()
        self.http_port = free_port()
        self.dist_port = free_port()
        self.spool = os.path.join(self.dir, "spool")
        self.logs = os.path.join(self.dir, "logs")
        self.log = os.path.join(self.dir, "ejabberd-foreground.log")
        self.config = os.path.join(self.dir, "ejabberd.yml")
        self.ctl_config = os.path.join(self.dir, "ejabberdctl.cfg")
        self.proc = None       # the ejabberdctl shell
        self.vm_pid = None     # beam.smp, its child
        self.cert = self.key = self.cert_not_after = None
        self.registered = {}
        self._written = False
        self._t0 = None

    # ----------------------------------------------------------------- accessors
    def api_url(self):
        return "http://127.0.0.1:%d/api" % self.http_port

    def c2s_address(self):
        return "127.0.0.1:%d" % self.c2s_port

    def admin_jid(self):
        return "%s@%s" % (ADMIN_USER, self.domain)

    def _say(self, msg):
        if self.verbose:
            print("xmpp_servers: ejabberd %s: %s" % (self.node, msg), file=sys.stderr, flush=True)

    # ----------------------------------------------------------------- config
    def _write_config(self):
        for d in (self.spool, self.logs):
            os.makedirs(d, exist_ok=True)
        if self.certificate:
            self.cert, self.key = self.certificate
            self.cert_not_after = certificate_not_after(self.cert)
        else:
            self.cert, self.key, self.cert_not_after = make_certificate(self.dir, self.domain)
        pem = write_pem(os.path.join(self.dir, "server.pem"), self.cert, self.key)
        with open(os.path.join(self.dir, "inetrc"), "w") as f:
            f.write('{lookup,["file","native"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n'
                    '{file, resolv, "/etc/resolv.conf"}.\n')
        with open(self.ctl_config, "w") as f:
            f.write('ERLANG_NODE=%s\n'
                    'ERL_DIST_PORT=%d\n'
                    'ERL_OPTIONS="-setcookie %s -kernel inet_dist_use_interface {127,0,0,1}"\n'
                    'EXEC_CMD=as_current_user\n' % (self.node, self.dist_port, self.cookie))
        allowed = [c for c in READ_ONLY_COMMANDS if c not in self.refuse]
        who = 'user: "%s"' % self.admin_jid() if self.basic_auth else "ip: 127.0.0.1/8"
        yml = ejabberd_yml_head("tests/integration/xmpp_servers.py: a throwaway node",
                                self.domain, pem, self.c2s_port, self.http_port,
                                self.extra_certfiles, self.extra_hosts) + self.extra_listen + """\
auth_method: internal
acl:
  admin:
    user:
      - "%(admin)s"
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  local:
    allow: all
  c2s:
    allow: all
  announce:
    allow: admin
  configure:
    allow: admin
  muc_create:
    allow: local
""" % dict(admin=self.admin_jid())
        yml += ejabberd_api_permissions(("replmon read-only", None, [who], allowed))
        yml += ejabberd_modules() + self.extra_modules + self.extra_options
        with open(self.config, "w") as f:
            f.write(yml)
        self._written = True

    def ctl_argv(self, *args):
        prefix = self.netns.prefix() if self.netns is not None else []
        return prefix + [EJABBERDCTL, "--config-dir", self.dir, "--ctl-config",
                         self.ctl_config, "--config", self.config, "--spool", self.spool,
                         "--logs", self.logs] + list(args)

    def ctl(self, *args, timeout=CTL_TIMEOUT_S, check=True):
        """Runs one ejabberdctl command against this node; returns its output (str)."""
        r = subprocess.run(self.ctl_argv(*args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        if check and r.returncode != 0:
            raise RuntimeError("ejabberdctl %s failed (%d): %s" % (args[0], r.returncode, out))
        return out

    # ----------------------------------------------------------------- lifecycle
    def start(self, bound=START_BOUND_S):
        """Starts the node and waits until the API answers `status` (as the admin JID with
        basic_auth). The admin JID is registered first thing."""
        self.launch()
        self.wait_ready(bound)

    def launch(self):
        """Starts the node without waiting (call from the main thread: see common.spawn);
        wait_ready() next. Several nodes launched first then waited for start in parallel."""
        if self.proc is not None and self.proc.poll() is None:
            return
        self._t0 = time.monotonic()
        if not self._written:
            self._write_config()
        with open(self.log, "ab") as f:
            f.write(("---- %s start %s c2s %d http %d dist %d\n" % (
                time.strftime("%H:%M:%S"), self.node, self.c2s_port, self.http_port,
                self.dist_port)).encode())
        self.proc = spawn(self.launch_prefix + self.ctl_argv("foreground"), self.log,
                          cwd=self.dir)
        register_cleanup(self.stop)

    def wait_ready(self, bound=START_BOUND_S):
        t0 = self._t0
        try:
            with _in_netns(self.netns):
                _wait_port("127.0.0.1", self.http_port, bound, self.proc, "ejabberd", self.log)
            self.vm_pid = self._find_vm()
            if ADMIN_USER not in self.registered:
                self.register(ADMIN_USER, ADMIN_PASSWORD)
            deadline = t0 + bound
            while True:
                try:
                    status, body = self.api("status")
                    if status == 200:
                        break
                except OSError:
                    status, body = None, b""
                if time.monotonic() > deadline:
                    raise RuntimeError("ejabberd API not answering status after %.0f s "
                                       "(last %s %r); log:\n%s" % (bound, status, body[:200],
                                                                   tail(self.log)))
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise
        self._say("started in %.1f s (vm pid %s)" % (time.monotonic() - t0, self.vm_pid))

    def _find_vm(self, bound=10.0):
        deadline = time.monotonic() + bound
        while True:
            for pid in _children(self.proc.pid):
                if (_comm(pid) or "").startswith("beam"):
                    return pid
            if time.monotonic() > deadline:
                raise RuntimeError("no beam process under ejabberdctl pid %d" % self.proc.pid)
            time.sleep(0.05)

    def _live_vm(self):
        """The VM's PID (looked up now when not known yet) while it is alive, else None."""
        if self.vm_pid is None and self.running():
            try:
                self.vm_pid = self._find_vm(bound=0)
            except RuntimeError:
                pass
        return self.vm_pid if self.vm_pid and _alive(self.vm_pid) else None

    def stop(self, bound=STOP_BOUND_S):
        """`ejabberdctl stop`, then SIGTERM and SIGKILL to the VM and the shell by PID, each
        bounded. Idempotent."""
        unregister_cleanup(self.stop)
        if self.proc is None:
            return None
        vm = self._live_vm()
        if vm:
            try:
                os.kill(vm, signal.SIGCONT)
            except ProcessLookupError:
                pass
            try:
                self.ctl("stop", timeout=bound, check=False)
            except subprocess.TimeoutExpired:
                pass
            deadline = time.monotonic() + bound
            while _alive(vm) and time.monotonic() < deadline:
                time.sleep(0.05)
            for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                if not _alive(vm):
                    break
                try:
                    os.kill(vm, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + wait
                while _alive(vm) and time.monotonic() < deadline:
                    time.sleep(0.05)
        rc = stop_process(self.proc, bound=5)
        self.proc, self.vm_pid = None, None
        return rc

    def freeze(self):
        """SIGSTOP the Erlang VM (the kernel keeps accepting connections on its ports)."""
        os.kill(self.vm_pid, signal.SIGSTOP)

    def thaw(self):
        if self.vm_pid and _alive(self.vm_pid):
            os.kill(self.vm_pid, signal.SIGCONT)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # ----------------------------------------------------------------- users and API
    def register(self, user, password):
        self.ctl("register", user, self.domain, password)
        self.registered[user] = password

    def unregister(self, user):
        self.ctl("unregister", user, self.domain)
        self.registered.pop(user, None)

    def api(self, command, args=None, auth=None, timeout=5.0):
        """POSTs one command to mod_http_api; (status, body bytes). auth: (user, password)
        for HTTP Basic; by default the admin JID when basic_auth, none otherwise."""
        headers = {"Content-Type": "application/json"}
        if auth is None and self.basic_auth:
            auth = (self.admin_jid(), ADMIN_PASSWORD)
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % auth).encode()).decode()
        with _in_netns(self.netns):
            status, _, body, _ = http_url("%s/%s" % (self.api_url(), command), method="POST",
                                          headers=headers, data=json.dumps(args or {}).encode(),
                                          timeout=timeout)
        return status, body


# --------------------------------------------------------------------------------------

class Prosody:
    """A throwaway Prosody 0.12 server (see the module docstring).

    Options for other set-ups (federation.py): netns (as for Ejabberd), certificate ((cert,
    key) files, the same as cert=/key=) and cafile (what it verifies peers against),
    s2s_interface (an address: mod_s2s on port 5269 there, encryption and certificate
    authentication required; None disables mod_s2s), plugin_paths, extra_modules (names
    added to modules_enabled) and extra_config (Lua text added before the VirtualHost).
    reconfigure(**options) rewrites the file for the next start. (route_s2s(), s2s=True
    and outgoing_s2s=True are the other, simpler ways to s2s; extra_hosts and
    launch_prefix: see the module docstring.)"""

    def __init__(self, workdir, domain=DOMAIN, verbose=False, muc=None, cert=None, key=None,
                 direct_tls=False, s2s=False, netns=None, certificate=None, cafile=None,
                 s2s_interface=None, plugin_paths=(), extra_modules=(), extra_config="",
                 outgoing_s2s=False, extra_hosts=(), launch_prefix=()):
        if cert and not certificate:
            certificate = (cert, key)
        self.dir = os.path.abspath(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.domain = domain
        self.netns = netns
        self.certificate, self.cafile = certificate, cafile
        self.s2s_interface = s2s_interface
        self.plugin_paths = tuple(plugin_paths)
        self.extra_modules = tuple(extra_modules)
        self.extra_config = extra_config
        self.verbose = verbose
        self.muc = muc
        self.c2s_port = free_port()
        self.http_port = free_port()
        self.direct_tls_port = free_port() if direct_tls else None
        self.s2s = s2s
        self.s2s_port = free_port() if s2s else None  # s2s_address()/route_s2s() pick one too
        self.s2s_routes = {}
        self.outgoing_s2s = outgoing_s2s
        self.extra_hosts = tuple(extra_hosts)
        self.launch_prefix = list(launch_prefix)
        self.config = os.path.join(self.dir, "prosody.cfg.lua")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "prosody.log")
        self.proc = None
        self.cert = self.key = self.cert_not_after = None
        self.registered = {}
        self._written = False

    def metrics_url(self):
        return "http://127.0.0.1:%d/metrics" % self.http_port

    def c2s_address(self):
        return "127.0.0.1:%d" % self.c2s_port

    def s2s_address(self):
        if self.s2s_port is None:
            self.s2s_port = free_port()
        return "127.0.0.1:%d" % self.s2s_port

    def route_s2s(self, domain, address):
        """Before start(): enables s2s (dialback, TLS not required, on a free port) and
        sends stanzas for domain to address ("host:port"), through
        prosody_plugins/mod_test_s2s_addresses.lua (Prosody 0.12.3 resolves s2s peers with
        its own DNS library, which ignores /etc/hosts and knows no static mapping)."""
        self.s2s_routes[domain] = address
        self.s2s_address()  # picks the port

    def reconfigure(self, **options):
        """Changes constructor options (e.g. s2s_interface=None) and rewrites the config;
        a running server takes it at its next start."""
        for name, value in options.items():
            if not hasattr(self, name) or name in ("dir", "domain"):
                raise AttributeError("Prosody has no option %s" % name)
            setattr(self, name, value)
        self._write_config()

    def _write_config(self):
        os.makedirs(self.data, exist_ok=True)
        os.chmod(self.data, 0o750)
        if self.certificate:
            self.cert, self.key = self.certificate
            self.cert_not_after = certificate_not_after(self.cert)
        elif self.cert is None:
            self.cert, self.key, self.cert_not_after = make_certificate(self.dir, self.domain)
        root = os.geteuid() == 0
        plugin_paths, modules = list(self.plugin_paths), list(self.extra_modules)
        extra = self.extra_config
        if self.s2s_routes:
            plugin_paths.append(PROSODY_PLUGINS)
            modules += ["dialback", "test_s2s_addresses"]
            s2s = ('modules_disabled = { }\ns2s_ports = { %d }\ns2s_interfaces = { "127.0.0.1" }\n'
                   "s2s_require_encryption = false\ns2s_secure_auth = false\n"
                   % self.s2s_port)
            extra += "test_s2s_addresses = {\n%s}\n" % "".join(
                '    ["%s"] = "%s";\n' % route for route in sorted(self.s2s_routes.items()))
        elif self.s2s_interface:
            s2s = ('modules_disabled = { }\ns2s_ports = { 5269 }\ns2s_interfaces = { "%s" }\n'
                   's2s_require_encryption = true\ns2s_secure_auth = true\n'
                   % self.s2s_interface)
        elif self.s2s:
            s2s = ('modules_disabled = { }\ns2s_ports = { %d }\ns2s_interfaces = { "127.0.0.1" }\n'
                   % self.s2s_port)
        elif self.outgoing_s2s:
            s2s = "s2s_ports = { }\n"
        else:
            s2s = 'modules_disabled = { "s2s" }\n'
        cafile = '; cafile = "%s"' % self.cafile if self.cafile else ""
        text = """-- Written by tests/integration/xmpp_servers.py: a throwaway server on 127.0.0.1.
%(root)s
pidfile = "%(dir)s/prosody.pid"
data_path = "%(data)s"
plugin_paths = { %(plugin_paths)s }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
http_interfaces = { "127.0.0.1" }
https_interfaces = { "127.0.0.1" }
c2s_ports = { %(c2s)d }
c2s_direct_tls_ports = { %(direct)s }
legacy_ssl_ports = { }
http_ports = { %(http)d }
https_ports = { }
modules_enabled = {
    "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix"; "admin_shell";
    "http_openmetrics";%(modules)s
}
%(s2s)sstatistics = "internal"
statistics_interval = "manual"
openmetrics_allow_ips = { "127.0.0.1" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
log = { { levels = { min = "info" }, to = "console" } }
ssl = { certificate = "%(cert)s"; key = "%(key)s"%(cafile)s }
%(extra)s
VirtualHost "%(domain)s"
%(hosts)s""" % dict(root="run_as_root = true" if root else "", dir=self.dir, data=self.data,
                    c2s=self.c2s_port, http=self.http_port, cert=self.cert, key=self.key,
                    domain=self.domain, cafile=cafile, s2s=s2s, extra=extra,
                    direct=self.direct_tls_port or "",
                    plugin_paths=", ".join('"%s"' % p for p in plugin_paths),
                    modules="".join(' "%s";' % m for m in modules),
                    hosts="".join('VirtualHost "%s"\n' % h for h in self.extra_hosts)
                    + ('Component "%s" "muc"\n' % self.muc if self.muc else ""))
        with open(self.config, "w") as f:
            f.write(text)
        self._written = True

    def start(self, bound=START_BOUND_S):
        self.launch()
        self.wait_ready(bound)

    def launch(self):
        """Starts prosody without waiting (from the main thread); wait_ready() next."""
        if self.proc is not None and self.proc.poll() is None:
            return
        if not self._written:
            self._write_config()
        with open(self.log, "ab") as f:
            f.write(("---- %s start c2s %d http %d\n" % (
                time.strftime("%H:%M:%S"), self.c2s_port, self.http_port)).encode())
        prefix = self.netns.prefix() if self.netns is not None else []
        self.proc = spawn(self.launch_prefix + prefix + [PROSODY, "-F", "--config", self.config],
                          self.log, cwd=self.dir)

    def wait_ready(self, bound=START_BOUND_S):
        try:
            with _in_netns(self.netns):
                _wait_port("127.0.0.1", self.http_port, bound, self.proc, "prosody", self.log)
                _wait_port("127.0.0.1", self.c2s_port, bound, self.proc, "prosody", self.log)
            deadline = time.monotonic() + bound
            while True:
                with _in_netns(self.netns):
                    status, _, body, _ = http_url(self.metrics_url(), timeout=5)
                if status == 200:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("prosody /metrics answered %s: %r" % (status, body[:200]))
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def stop(self, bound=STOP_BOUND_S):
        rc = stop_process(self.proc, bound=bound)
        self.proc = None
        return rc

    def freeze(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def register(self, user, password):
        prefix = self.netns.prefix() if self.netns is not None else []
        r = subprocess.run(prefix + [PROSODYCTL, "--config", self.config, "register", user,
                                     self.domain, password], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=CTL_TIMEOUT_S)
        if r.returncode != 0:
            raise RuntimeError("prosodyctl register %s failed (%d): %s" % (
                user, r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")))
        self.registered[user] = password

    def metrics(self):
        """The raw /metrics body (bytes)."""
        with _in_netns(self.netns):
            status, _, body, _ = http_url(self.metrics_url(), timeout=5)
        if status != 200:
            raise RuntimeError("prosody /metrics answered %d" % status)
        return body

    def c2s_sessions(self):
        """The sum of prosody_mod_c2s__connections{type="c2s"} (0 without samples)."""
        return self.metric_sum("prosody_mod_c2s__connections", 'type="c2s"')

    def metric_sum(self, family, label=None, body=None):
        """The sum of a family's samples (those with label, e.g. 'type="s2sin"', when
        given) in body or a fresh /metrics; 0 without samples."""
        total = 0.0
        body = self.metrics() if body is None else body
        for line in body.decode("utf-8").splitlines():
            if line.startswith(family + "{") and (label is None or label in line):
                total += float(line.rsplit(None, 1)[1])
        return total


def start_all(servers):
    """Launches every server (from this, the main thread: see common.spawn), then waits
    for each: they come up in parallel."""
    for srv in servers:
        srv.launch()
    for srv in servers:
        srv.wait_ready()


def stop_all(servers):
    """Stops the servers (None is skipped) in parallel, each within its own bounds."""
    threads = [threading.Thread(target=s.stop, daemon=True) for s in servers if s is not None]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


# --------------------------------------------------------------------------------------
# replmon's configuration for these servers

def replmon_xmpp_node(name, server, ca_file=None, probe_account=None, **fields):
    """One node of replmon's `xmpp:` section watching server (an Ejabberd or a Prosody):
    its name, type, api_url (Prosody: /metrics), c2s_address and domain; with ca_file,
    tls: {ca_file}; with probe_account, (user, password file[, relogin_interval]), the
    logged-in probe as user@domain; then fields, each a key and its YAML text (e.g.
    s2s_ping="[a.test, b.test]")."""
    if isinstance(server, Ejabberd):
        kind, api = "ejabberd", server.api_url()
    else:
        kind, api = "prosody", server.metrics_url()
    text = ("      - name: %s\n        type: %s\n        api_url: %s\n"
            "        c2s_address: %s\n        domain: %s\n"
            % (name, kind, api, server.c2s_address(), server.domain))
    if ca_file:
        text += "        tls: {ca_file: %s}\n" % ca_file
    if probe_account:
        user, password_file = probe_account[:2]
        relogin = (", relogin_interval: %s" % probe_account[2]
                   if len(probe_account) > 2 else "")
        text += ("        probe_account: {jid: %s@%s, password_file: %s%s}\n"
                 % (user, server.domain, password_file, relogin))
    return text + "".join("        %s: %s\n" % field for field in fields.items())


def replmon_xmpp_config(poll_s, connect_s, query_s, clusters):
    """A replmon configuration with XMPP clusters only: the poll interval and timeouts
    (seconds), then clusters, {cluster name: [replmon_xmpp_node() text]} in order."""
    text = ("global: {poll_interval: %gs, connect_timeout: %gs, query_timeout: %gs}\nxmpp:\n"
            % (poll_s, connect_s, query_s))
    for cluster, nodes in clusters.items():
        text += "  - cluster: %s\n    nodes:\n" % cluster + "".join(nodes)
    return text


# --------------------------------------------------------------------------------------

_SLIX_PY = []


def slixmpp_python():
    """An interpreter that can import slixmpp: $XMPP_PYTHON, this one, or /usr/bin/python3
    (Debian's python3-slixmpp installs into the system Python only)."""
    if _SLIX_PY:
        return _SLIX_PY[0]
    candidates = [os.environ.get("XMPP_PYTHON"), sys.executable, "/usr/bin/python3",
                  shutil.which("python3")]
    for py in candidates:
        if not py or not os.access(py, os.X_OK):
            continue
        try:
            r = subprocess.run([py, "-c", "import slixmpp"], capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            _SLIX_PY.append(py)
            return py
    raise RuntimeError("no Python with slixmpp found (Debian package python3-slixmpp; "
                       "or set XMPP_PYTHON)")


class Client:
    """One real XMPP session (slixmpp, in a subprocess). presence=True sends initial
    presence (messages to the bare JID reach it); send=(to, body) sends one chat message
    once the session started (sent_at()); join="room@service/nick" enters (and so creates)
    a MUC room (wait_joined()); messages()/wait_message() read what arrived; ping=JID sends
    one XEP-0199 ping (wait_pong()). prefix: a command that execs the client (e.g. `ip
    netns exec NS`)."""

    def __init__(self, address, jid, password, logdir=None, starttls=False, presence=False,
                 send=None, join=None, ping=None, prefix=()):
        self.address, self.jid, self.password = address, jid, password
        self.ping = ping
        self.prefix = list(prefix)
        self.starttls = starttls
        self.presence = presence
        self.send = send
        self.join = join
        self.logdir = logdir or os.environ.get("TMPDIR", "/tmp")
        self.log = os.path.join(self.logdir, "client-%s-%s.log" % (
            jid.replace("@", "_at_").replace("/", "_"), _unique("")))
        self.proc = None
        self.full_jid = None

    def connect(self, bound=30.0):
        """Starts the client and returns once its session started (its full JID)."""
        env = dict(os.environ)
        env["XMPP_CLIENT_PASSWORD"] = self.password
        env["PYTHONUNBUFFERED"] = "1"
        argv = [slixmpp_python(), os.path.join(HERE, "xmpp_client.py"), self.address,
                self.jid] + (["--starttls"] if self.starttls else [])
        if self.presence:
            argv.append("--presence")
        if self.send:
            argv += ["--send", self.send[0], self.send[1]]
        if self.ping:
            argv += ["--ping", self.ping]
        if self.join:
            argv += ["--join", self.join]
        self.proc = spawn(self.prefix + argv, self.log, env=env)
        deadline = time.monotonic() + bound
        while True:
            text = self.log_text()
            m = re.search(r"^READY (\S+)$", text, re.M)
            if m:
                self.full_jid = m.group(1)
                return self.full_jid
            if self.proc.poll() is not None or "FAILED" in text:
                rc = self.proc.wait(5)
                forget(self.proc)
                self.proc = None
                raise RuntimeError("client %s could not log in to %s (exit %s):\n%s"
                                   % (self.jid, self.address, rc, text[-2000:]))
            if time.monotonic() > deadline:
                self.disconnect()
                raise RuntimeError("client %s: no session after %.0f s:\n%s"
                                   % (self.jid, bound, text[-2000:]))
            time.sleep(0.05)

    def disconnect(self, bound=10.0):
        """Ends the session (</stream:stream>) and waits for the process; exit status."""
        rc = stop_process(self.proc, bound=bound)
        self.proc = None
        return rc

    def connected(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_pong(self, bound=15.0):
        """The ping's (ping=JID) outcome: ("PONG", rtt seconds) or ("PING-FAILED",
        reason); RuntimeError after bound seconds without either."""
        deadline = time.monotonic() + bound
        while True:
            m = re.search(r"^(PONG|PING-FAILED) (.*)$", self.log_text(), re.M)
            if m:
                return (m.group(1), float(m.group(2)) if m.group(1) == "PONG" else m.group(2))
            if time.monotonic() > deadline:
                raise RuntimeError("client %s: no ping outcome within %.0f s:\n%s"
                                   % (self.jid, bound, self.log_text()[-2000:]))
            time.sleep(0.01)

    def sent_at(self):
        """time.monotonic() in the client when it sent its message (send=), or None."""
        m = re.search(r"^SENT (\S+)$", self.log_text(), re.M)
        return float(m.group(1)) if m else None

    def messages(self):
        """[(monotonic time received, from full JID, body)] of the messages so far."""
        return [(float(t), frm, body) for t, frm, body in
                re.findall(r"^MESSAGE (\S+) (\S+) (.*)$", self.log_text(), re.M)]

    def wait_message(self, body, bound=10.0):
        """(time received, from) of the first message with this body; RuntimeError after
        bound seconds without it."""
        deadline = time.monotonic() + bound
        while True:
            for t, frm, got in self.messages():
                if got == body:
                    return t, frm
            if time.monotonic() > deadline:
                raise RuntimeError("client %s: no message %r within %.0f s:\n%s"
                                   % (self.jid, body, bound, self.log_text()[-2000:]))
            time.sleep(0.01)

    def wait_joined(self, bound=10.0):
        """Waits until the room of join= sent our own presence back (we are in it)."""
        deadline = time.monotonic() + bound
        while "JOINED " not in self.log_text():
            if time.monotonic() > deadline:
                raise RuntimeError("client %s: not in room %s within %.0f s:\n%s"
                                   % (self.jid, self.join, bound, self.log_text()[-2000:]))
            time.sleep(0.02)

    def log_text(self):
        return read_log(self.log)


# --------------------------------------------------------------------------------------

SESSIONS_PATH = "/plugins/restapi/v1/system/statistics/sessions"


class OpenfireReplay:
    """The Openfire REST API plugin's answers, replayed by http.server on 127.0.0.1.

    GET /plugins/restapi/v1/system/statistics/sessions answers
    {"localSessions":N,"clusterSessions":M} with `Accept: application/json`, otherwise
    <sessions><localSessions>N</localSessions><clusterSessions>M</clusterSessions></sessions>
    (application/xml), or always XML with mode="xml". The Authorization header must be the
    shared secret (raw, no scheme) or HTTP Basic user:password, else 401.
    /plugins/restapi/v1/system/liveness and /readiness answer 200 without auth.
    Counts requests (`requests`, `sessions_requests`), keeps the headers of the last one
    (`last_headers`, names in lower case)."""

    def __init__(self, secret="openfire-Secret-5", basic=("admin", "openfire-Admin-6"),
                 local_sessions=0, cluster_sessions=0, mode="json"):
        self.secret, self.basic = secret, basic
        self.local_sessions, self.cluster_sessions = local_sessions, cluster_sessions
        self.mode = mode
        self.requests = 0
        self.sessions_requests = 0
        self.last_headers = None
        self.lock = threading.Lock()
        self.port = None
        self._server = None
        self._thread = None

    def base_url(self):
        return "http://127.0.0.1:%d/plugins/restapi/v1" % self.port

    def set_sessions(self, local_sessions, cluster_sessions):
        with self.lock:
            self.local_sessions, self.cluster_sessions = local_sessions, cluster_sessions

    def _authorized(self, value):
        if value is None:
            return False
        if self.secret is not None and value == self.secret:
            return True
        if self.basic is not None and value.startswith("Basic "):
            try:
                got = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
            except ValueError:
                return False
            return got == "%s:%s" % self.basic
        return False

    def start(self):
        replay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "Jetty(9.4.43.v20210629)"
            sys_version = ""

            def log_message(self, fmt, *args):
                pass

            def _send(self, status, ctype, body):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with replay.lock:
                    replay.requests += 1
                    replay.last_headers = {k.lower(): v for k, v in self.headers.items()}
                    local, cluster, mode = (replay.local_sessions, replay.cluster_sessions,
                                            replay.mode)
                if path in ("/plugins/restapi/v1/system/liveness",
                            "/plugins/restapi/v1/system/readiness"):
                    return self._send(200, None, b"")
                if path != SESSIONS_PATH:
                    return self._send(404, "text/html;charset=iso-8859-1",
                                      b"<html><body><h2>HTTP ERROR 404 Not Found</h2>"
                                      b"</body></html>")
                with replay.lock:
                    replay.sessions_requests += 1
                if not replay._authorized(self.headers.get("Authorization")):
                    return self._send(401, "text/html;charset=iso-8859-1",
                                      b"<html><body><h2>HTTP ERROR 401 Unauthorized</h2>"
                                      b"</body></html>")
                if mode == "json" and "application/json" in self.headers.get("Accept", ""):
                    body = json.dumps({"localSessions": local, "clusterSessions": cluster},
                                      separators=(",", ":")).encode()
                    return self._send(200, "application/json", body)
                body = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                        "<sessions><localSessions>%d</localSessions>"
                        "<clusterSessions>%d</clusterSessions></sessions>"
                        % (local, cluster)).encode()
                return self._send(200, "application/xml", body)

            def do_POST(self):
                self._send(405, "text/plain", b"Method Not Allowed")

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name="openfire-replay-%d" % self.port)
        self._thread.start()
        register_cleanup(self.stop)
        return self

    def stop(self):
        unregister_cleanup(self.stop)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --------------------------------------------------------------------------------------
# Self-check and data capture

EJABBERD_CALLS = (
    ("connected_users_number", {}),
    ("stats", {"name": "onlineusers"}),
    ("stats", {"name": "onlineusersnode"}),
    ("stats", {"name": "registeredusers"}),
    ("stats", {"name": "uptimeseconds"}),
    ("incoming_s2s_number", {}),
    ("outgoing_s2s_number", {}),
    ("muc_online_rooms", {"service": "global"}),
    ("status", {}),
)


def _call_name(cmd, args):
    return cmd + "".join("_" + str(v) for v in args.values() if v != "global")


def prosody_federation_check(workdir, say, check, save_file):
    """Two Prosody servers federating over s2s (one.test with a MUC component, two.test):
    what mod_s2s and mod_muc export, fresh, with an unauthenticated inbound stream, with
    a room and a connection each way, and after the peer stopped."""
    one = Prosody(os.path.join(workdir, "prosody-one"), domain="one.test",
                  muc="rooms.one.test")
    two = Prosody(os.path.join(workdir, "prosody-two"), domain="two.test")
    one.route_s2s(two.domain, two.s2s_address())
    two.route_s2s(one.domain, one.s2s_address())
    clients = []
    try:
        one.start()
        two.start()
        one.register("alice", "alice-Secret-7")
        two.register("bob", "bob-Secret-8")
        body = one.metrics()
        check(b"# TYPE prosody_mod_s2s__connections_inbound gauge" in body and
              b"prosody_mod_s2s__connections_inbound{" not in body and
              b'prosody_mod_muc__live_room{host="rooms.one.test"} 0' in body,
              "prosody fresh with s2s and MUC: s2s families without samples, 0 rooms")
        save_file("prosody_metrics_s2s_muc_fresh.txt", body)

        host, _, port = one.s2s_address().rpartition(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                         "xmlns:stream='http://etherx.jabber.org/streams' to='one.test' "
                         "from='elsewhere.test' version='1.0'>").encode())
            raw.recv(65536)
            body = one.metrics()
            check(one.metric_sum("prosody_mod_s2s__connections_inbound",
                                 'type="s2sin_unauthed"', body) == 1 and
                  one.metric_sum("prosody_mod_s2s__connections_inbound", 'type="s2sin"',
                                 body) == 0,
                  "prosody: an s2s stream not yet authenticated is s2sin_unauthed")
            save_file("prosody_metrics_s2s_unauthed.txt", body)
            raw.sendall(b"</stream:stream>")

        alice = Client(one.c2s_address(), "alice@one.test", "alice-Secret-7", logdir=workdir,
                       presence=True, join="lobby@rooms.one.test/alice")
        clients.append(alice)
        alice.connect()
        alice.wait_joined()
        bob = Client(two.c2s_address(), "bob@two.test", "bob-Secret-8", logdir=workdir,
                     send=("alice@one.test", "hello over s2s"))
        clients.append(bob)
        t1 = time.monotonic()
        bob.connect()
        alice.wait_message("hello over s2s", bound=15)
        say("  two.test -> one.test message over s2s in %.2f s" % (time.monotonic() - t1))
        body = one.metrics()
        check(one.metric_sum("prosody_mod_s2s__connections_inbound", 'type="s2sin"',
                             body) == 1 and
              one.metric_sum("prosody_mod_s2s__connections_outbound", 'type="s2sout"',
                             body) == 1 and
              one.metric_sum("prosody_mod_muc__live_room", None, body) == 1,
              "prosody federating: s2sin 1, s2sout 1 (dialback opens one each way), 1 room")
        save_file("prosody_metrics_s2s_muc.txt", body)

        for c in clients:
            c.disconnect()
        clients = []
        two.stop()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = one.metrics()
            if (one.metric_sum("prosody_mod_s2s__connections_inbound", None, body) == 0 and
                    one.metric_sum("prosody_mod_s2s__connections_outbound", None, body) == 0):
                break
            time.sleep(0.1)
        check(b'type="s2sin",ip_family="ipv4"} 0' in body and
              b'prosody_mod_muc__live_room{host="rooms.one.test"} 0' in body,
              "prosody after the peer stopped: s2s series stay at 0; the empty room is gone")
        save_file("prosody_metrics_s2s_muc_after.txt", body)
    finally:
        for c in clients:
            c.disconnect()
        for srv in (one, two):
            srv.stop()


def self_check(workdir, save=None, verbose=True):
    def say(msg):
        if verbose:
            print(msg, flush=True)

    def save_file(name, data):
        if save:
            os.makedirs(save, exist_ok=True)
            with open(os.path.join(save, name), "wb") as f:
                f.write(data)
            say("  saved %s (%d bytes)" % (name, len(data)))

    ej = Ejabberd(os.path.join(workdir, "ejabberd"), verbose=verbose)
    ejb = Ejabberd(os.path.join(workdir, "ejabberd-basic"), basic_auth=True,
                   refuse=("muc_online_rooms",), verbose=verbose)
    pr = Prosody(os.path.join(workdir, "prosody"), verbose=verbose)
    clients = []
    problems = []

    def check(cond, what):
        say(("  ok    " if cond else "  FAIL  ") + what)
        if not cond:
            problems.append(what)

    try:
        t0 = time.monotonic()
        ej.start()
        ejb.start()
        pr.start()
        say("servers up in %.1f s: ejabberd api %s c2s %s; ejabberd-basic api %s; prosody "
            "metrics %s c2s %s" % (time.monotonic() - t0, ej.api_url(), ej.c2s_address(),
                                   ejb.api_url(), pr.metrics_url(), pr.c2s_address()))
        for srv in (ej, pr):
            srv.register("alice", "alice-Secret-7")
            srv.register("bob", "bob-Secret-8")

        # Fresh Prosody: no client ever connected.
        save_file("prosody_metrics_fresh.txt", pr.metrics())

        # Stream openings, before any login.
        for name, srv in (("ejabberd", ej), ("prosody", pr)):
            raw = stream_features(srv.c2s_address(), srv.domain)
            check(b"<starttls" in raw and b"</stream:features>" in raw,
                  "%s stream features offer starttls" % name)
            check(b"<required" not in raw.split(b"<starttls", 1)[-1].split(b"</starttls>")[0],
                  "%s starttls not required" % name)
            save_file("%s_stream_features.xml" % name, raw)
            raw = stream_features(srv.c2s_address(), "wrong.example")
            check(b"host-unknown" in raw, "%s wrong domain: host-unknown" % name)
            save_file("%s_stream_error_host_unknown.xml" % name, raw)

        # Two sessions on each.
        for srv in (ej, pr):
            for user in ("alice", "bob"):
                c = Client(srv.c2s_address(), "%s@%s" % (user, srv.domain),
                           srv.registered[user], logdir=workdir)
                t1 = time.monotonic()
                c.connect()
                say("  %s logged in in %.2f s" % (c.full_jid, time.monotonic() - t1))
                clients.append(c)
        c = Client(ej.c2s_address(), "alice@" + ej.domain, "wrong", logdir=workdir)
        try:
            c.connect()
            check(False, "a wrong password is refused")
            c.disconnect()
        except RuntimeError as e:
            check("FAILED auth" in str(e), "a wrong password is refused (%s)"
                  % str(e).splitlines()[0][:80])
        time.sleep(0.3)

        # ejabberd: every command, with two sessions.
        for cmd, args in EJABBERD_CALLS:
            status, body = ej.api(cmd, args)
            say("  ejabberd %s %s -> %d %s" % (cmd, json.dumps(args), status, body[:120]))
            check(status == 200, "ejabberd %s answers 200" % cmd)
            save_file("ejabberd_%s.json" % _call_name(cmd, args), body)
        check(json.loads(ej.api("connected_users_number")[1]) == {"num_sessions": 2},
              "ejabberd connected_users_number is 2")
        check(json.loads(ej.api("stats", {"name": "registeredusers"})[1]) == {"stat": 3},
              "ejabberd registeredusers is 3 (admin, alice, bob)")
        # A room, for a non-empty muc_online_rooms answer.
        ej.ctl("create_room", "lobby", "conference." + ej.domain, ej.domain)
        status, body = ej.api("muc_online_rooms", {"service": "global"})
        check(status == 200 and b"lobby@conference" in body, "muc_online_rooms lists a room")
        save_file("ejabberd_muc_online_rooms_one_room.json", body)
        ej.ctl("destroy_room", "lobby", "conference." + ej.domain)
        # Error answers.
        status, body = ej.api("no_such_command")
        check(status == 404, "unknown command: 404 (%s)" % body[:80])
        save_file("ejabberd_error_404_unknown_command.json", body)
        status, body = ejb.api("muc_online_rooms", {"service": "global"})
        check(status == 403 and b'"code":32' in body, "refused command: 403 code 32")
        save_file("ejabberd_error_403_not_allowed.json", body)
        status, body = ejb.api("connected_users_number", auth=(ejb.admin_jid(), "wrong"))
        check(status == 401 and b'"code":10' in body, "wrong Basic password: 401 code 10")
        save_file("ejabberd_error_401_bad_credentials.json", body)
        status, body = ejb.api("connected_users_number", auth=())
        check(status in (401, 403), "no credentials on basic-auth node: %d %s"
              % (status, body[:100]))
        status, body = ejb.api("connected_users_number")
        check(status == 200, "basic-auth node with the admin password: %d" % status)

        # Prosody with two sessions, then with a third connection that has not logged in.
        body = pr.metrics()
        check(pr.c2s_sessions() == 2, "prosody c2s sessions 2")
        save_file("prosody_metrics_2_sessions.txt", body)
        st, hdr, _, _ = http_url(pr.metrics_url())
        say("  prosody /metrics Content-Type: %s" % hdr.get("Content-Type"))
        host, _, port = pr.c2s_address().rpartition(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(stream_header(pr.domain))
            raw.recv(65536)
            body = pr.metrics()
            check(b'type="c2s_unauthed"' in body and pr.c2s_sessions() == 2,
                  "prosody: an open stream counts as c2s_unauthed only")
            save_file("prosody_metrics_2_sessions_1_unauthed.txt", body)
            raw.sendall(b"</stream:stream>")

        for c in clients:
            rc = c.disconnect()
            check(rc == 0, "%s disconnected cleanly (exit %s)" % (c.jid, rc))
        clients = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if (json.loads(ej.api("connected_users_number")[1])["num_sessions"] == 0 and
                    pr.c2s_sessions() == 0):
                break
            time.sleep(0.1)
        check(json.loads(ej.api("connected_users_number")[1]) == {"num_sessions": 0},
              "ejabberd sessions back to 0")
        check(pr.c2s_sessions() == 0, "prosody sessions back to 0")
        save_file("prosody_metrics_0_sessions.txt", pr.metrics())
        save_file("ejabberd_connected_users_number_0.json", ej.api("connected_users_number")[1])

        prosody_federation_check(workdir, say, check, save_file)

        # Openfire replay.
        of = OpenfireReplay(local_sessions=3, cluster_sessions=5).start()
        try:
            url = of.base_url() + "/system/statistics/sessions"
            st, _, body, _ = http_url(url, headers={"Accept": "application/json",
                                                    "Authorization": of.secret})
            check((st, json.loads(body)) == (200, {"localSessions": 3, "clusterSessions": 5}),
                  "openfire replay JSON")
            st, hdr, body, _ = http_url(url, headers={"Authorization": of.secret})
            check(st == 200 and b"<localSessions>3<" in body, "openfire replay XML")
            st, _, _, _ = http_url(url, headers={"Accept": "application/json"})
            check(st == 401, "openfire replay without auth: 401")
            basic = "Basic " + base64.b64encode(b"admin:openfire-Admin-6").decode()
            st, _, _, _ = http_url(url, headers={"Authorization": basic})
            check(st == 200, "openfire replay with Basic")
            check(of.requests == 4, "openfire replay counted 4 requests")
        finally:
            of.stop()

        # Freeze and stop behaviour of ejabberd.
        ej.freeze()
        try:
            try:
                st, _ = ej.api("status", timeout=1.0)
                check(False, "frozen ejabberd answered %s" % st)
            except OSError as e:
                check(True, "frozen ejabberd: API times out (%s)" % type(e).__name__)
        finally:
            ej.thaw()
        check(ej.api("status")[0] == 200, "thawed ejabberd answers again")
    finally:
        for c in clients:
            c.disconnect()
        t1 = time.monotonic()
        for srv in (ej, ejb, pr):
            srv.stop()
        say("servers stopped in %.1f s" % (time.monotonic() - t1))
    return problems


if __name__ == "__main__":
    import tempfile
    from common import install_signal_handlers
    install_signal_handlers()
    args = sys.argv[1:]
    save_dir = None
    if "--save-data" in args:
        save_dir = os.path.abspath(args[args.index("--save-data") + 1])
    wd = tempfile.mkdtemp(prefix="xmpp-servers-")
    problems = ["interrupted"]
    try:
        problems = self_check(wd, save=save_dir)
    finally:
        if problems:
            print("xmpp_servers: %d problem(s); files kept in %s" % (len(problems), wd))
        else:
            shutil.rmtree(wd, ignore_errors=True)
    print("xmpp_servers self-check: %s" % ("OK" if not problems else "FAILED: %s" % problems))
    sys.exit(1 if problems else 0)
