#!/usr/bin/env python3
"""The web configuration on the real daemon: TLS (with and without client certificates),
basic auth with a bcrypt hash, /-/healthy left open, promtool's view of the same file,
refused files at start-up, the headers of every answer (replmon's defaults, and those of
http_server_config, applied again on reload), a real Prometheus scraping over HTTPS with
basic auth, a slowloris client that must not lock the scrapers out, every web configuration
file of exporter-toolkit's documentation and tests scraped by one real Prometheus, repeated
--web.listen-address with rate_limit, and socket activation (--web.systemd-socket) under
systemd-socket-activate. No database is needed: the one node points at a closed port.

    python3 tests/integration/test_security.py [-v]
"""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import base64
import re
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "dashboards"))
from common import (ReplmonCase, free_port, http, replmon_path, run_suite, spawn,  # noqa: E402
                    stop_process)
from promstack import Prometheus  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402  (libxcrypt's bcrypt, as replmon uses it)

PASSWORD = "s3cret-Planted-7"
TOOLKIT_DATA = os.path.join(HERE, "data", "exporter-toolkit")
# What replmon allows one client address (main.c), and more than its overall limit (256).
PER_ADDRESS_LIMIT = 128
SLOW_CONNECTIONS = 300


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class TestSecurity(ReplmonCase):
    workdir = None

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="replmon-sec-")
        d = cls.workdir
        # A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by it.
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
                "ca.pem", "-days", "2", "-subj", "/CN=replmon test CA", cwd=d)
        # The client's DNS name is one of client_allowed_sans in exporter-toolkit's example.
        for name, ext in (("server", "subjectAltName=IP:127.0.0.1"),
                          ("client", "extendedKeyUsage=clientAuth\nsubjectAltName=DNS:test3")):
            openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                    name + ".csr", "-subj", "/CN=" + name, cwd=d)
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write(ext + "\n")
            openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile",
                    name + ".ext", cwd=d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            cls.hash = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))
        with open(os.path.join(d, "replmon.yml"), "w") as f:
            f.write("mariadb: [{cluster: c, user: u, password_env: REPLMON_SEC_PW, "
                    "nodes: [{name: db1, address: '127.0.0.1:1'}]}]\n")
        cls.procs = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            stop_process(p)
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def start(self, web_yaml, tag):
        path = os.path.join(self.workdir, tag + ".web.yml")
        with open(path, "w") as f:
            f.write(web_yaml)
        port = free_port()
        log = os.path.join(self.workdir, tag + ".log")
        env = dict(os.environ, REPLMON_SEC_PW=PASSWORD)
        proc = spawn([replmon_path(), "--config.file=" + os.path.join(self.workdir, "replmon.yml"),
                      "--web.config.file=" + path, "--web.listen-address=127.0.0.1:%d" % port],
                     log, env=env)
        self.procs.append(proc)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port, path, log, proc
            except OSError:
                if proc.poll() is not None:
                    self.fail("replmon exited %s: %s" % (proc.returncode, open(log).read()))
                time.sleep(0.05)
        self.fail("replmon not listening")

    def start_prometheus(self, jobs):
        """A Prometheus scraping every second with jobs (each a scrape config's YAML text),
        ready; stopped with the suite's other processes."""
        prom = Prometheus(self.workdir)
        with open(prom.config, "w") as f:
            f.write("global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n"
                    + "\n".join(jobs) + "\n")
        prom.start()
        self.procs.append(prom.proc)
        prom.wait_ready()
        return prom

    def targets_health(self, prom, settled, bound=30.0):
        """{job: (health, lastError)} of prom's targets once settled() says so of them, or as
        they are after bound seconds."""
        deadline = time.monotonic() + bound
        health = {}
        while time.monotonic() < deadline:
            status, answer = prom.get_json("/api/v1/targets")
            if status == 200:
                health = {t["labels"]["job"]: (t["health"], t["lastError"])
                          for t in answer["data"]["activeTargets"]}
                if settled(health):
                    break
            time.sleep(0.5)
        return health

    def get(self, port, path, user=None, password=None, cert=None):
        ctx = ssl.create_default_context(cafile=os.path.join(self.workdir, "ca.pem"))
        if cert:
            ctx.load_cert_chain(os.path.join(self.workdir, cert + ".pem"),
                                os.path.join(self.workdir, cert + ".key"))
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (port, path))
        if user:
            token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
            req.add_header("Authorization", "Basic " + token)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=ctx))
        try:
            with opener.open(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def curl(self, port, path, user=None, cert=None):
        """The HTTP status curl reports over TLS (checked against our CA), or its exit code."""
        config = ['url = "https://127.0.0.1:%d%s"' % (port, path),
                  'cacert = "%s"' % os.path.join(self.workdir, "ca.pem"),
                  "silent", 'output = "/dev/null"', 'write-out = "%{http_code}"']
        if user:
            config.append('user = "%s"' % user)
        if cert:
            config += ['cert = "%s.pem"' % os.path.join(self.workdir, cert),
                       'key = "%s.key"' % os.path.join(self.workdir, cert)]
        r = subprocess.run(["curl", "--noproxy", "*", "-K", "-"], input="\n".join(config).encode(),
                           capture_output=True, timeout=30)
        return r.stdout.decode() if r.returncode == 0 else "curl exit %d" % r.returncode

    def test_01_tls_and_basic_auth(self):
        web = ("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
               "basic_auth_users:\n  prometheus: %s\n" % self.hash)
        port, path, log, proc = self.start(web, "auth")
        r = subprocess.run(["promtool", "check", "web-config", path], capture_output=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        status, headers, _ = self.get(port, "/metrics")
        self.assertEqual(status, 401)
        self.assertIn("Basic", headers.get("WWW-Authenticate", ""))
        self.assertEqual(self.get(port, "/metrics", "prometheus", "wrong")[0], 401)
        self.assertEqual(self.get(port, "/", "nobody", PASSWORD)[0], 401)
        status, _, body = self.get(port, "/metrics", "prometheus", PASSWORD)
        self.assertEqual(status, 200)
        self.assertIn(b"mariadb_up", body)
        self.assertEqual(self.get(port, "/-/healthy")[0], 200)  # open, as in every exporter
        for p in ("/", "/health/db1", "/probe?target=db1"):
            self.assertEqual(self.get(port, p)[0], 401, p)
        # The same with curl, the admin's tool (credentials on stdin, not on its command line).
        for user, want in (("prometheus:" + PASSWORD, "200"), ("prometheus:wrong", "401")):
            self.assertEqual(self.curl(port, "/metrics", user=user), want, user)
        # Plain HTTP on the TLS port gets no metrics.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            try:
                data = s.recv(4096)
            except (socket.timeout, ConnectionResetError):
                data = b""
        self.assertNotIn(b"mariadb_up", data)
        # No planted secret in any answer or in the log.
        for p in ("/", "/metrics"):
            self.assertNotIn(PASSWORD.encode(), self.get(port, p, "prometheus", PASSWORD)[2])
        self.assertNotIn(PASSWORD, open(log).read())

    def test_02_client_certificates(self):
        web = ("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
               "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n")
        port, path, _, _ = self.start(web, "mtls")
        try:
            status = self.get(port, "/metrics")[0]
        except (ssl.SSLError, ConnectionResetError, urllib.error.URLError):
            status = "refused"
        self.assertIn(status, (403, "refused"))
        self.assertEqual(self.get(port, "/metrics", cert="client")[0], 200)
        self.assertEqual(self.curl(port, "/metrics", cert="client"), "200")
        self.assertNotEqual(self.curl(port, "/metrics"), "200")

    def test_03_bad_files_stop_start_up(self):
        cases = {
            "tls_server_config:\n  cert_file: server.pem\n  key_file: nokey.pem\n":
                "key_file: cannot read",
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.pem\n":
                "not a matching PEM certificate and key",
            "basic_auth_users:\n  prometheus: plain\n": "expected a bcrypt hash",
            "tls_server_config:\n  cert_fil: x\n": "unknown key 'cert_fil'",
            "http_server_config:\n  headers:\n    Content-Type: text/html\n":
                "'Content-Type' cannot be set",
            "http_server_config:\n  headers:\n    X-XSS-Protection: \"0\\r\\nSet-Cookie: a=b\"\n":
                "control character 0x0d in the value",
        }
        for text, message in cases.items():
            path = os.path.join(self.workdir, "bad.web.yml")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run([replmon_path(), "--config.file=" + os.path.join(
                self.workdir, "replmon.yml"), "--web.config.file=" + path],
                capture_output=True, timeout=30, env=dict(os.environ, REPLMON_SEC_PW="x"))
            self.assertEqual(r.returncode, 2, r.stderr)
            err = r.stderr.decode()
            self.assertTrue(err.startswith(path + ":"), err)
            self.assertIn(message, err)
            self.assertEqual(err.count("\n"), 1, err)
        # A suite whose cipher this system's GnuTLS disables (as a crypto policy or FIPS mode
        # would): GnuTLS drops it without an error; replmon names it and stops.
        policy = os.path.join(self.workdir, "gnutls.config")
        with open(policy, "w") as f:
            f.write("[overrides]\ntls-disabled-cipher = CHACHA20-POLY1305\n")
        path = os.path.join(self.workdir, "policy.web.yml")
        with open(path, "w") as f:
            f.write("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
                    "  cipher_suites:\n    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
                    "    - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256\n")
        r = subprocess.run([replmon_path(), "--config.file=" + os.path.join(
            self.workdir, "replmon.yml"), "--web.config.file=" + path],
            capture_output=True, timeout=30,
            env=dict(os.environ, REPLMON_SEC_PW="x", GNUTLS_SYSTEM_PRIORITY_FILE=policy))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.decode(),
                         "%s:6:7: tls_server_config: GnuTLS cannot honour "
                         "'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256' here: CHACHA20-POLY1305 is "
                         "disabled by this system's GnuTLS configuration or unknown to it\n" % path)

    def test_04_headers(self):
        tls = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
        users = "basic_auth_users:\n  prometheus: %s\n" % self.hash
        headers = ("http_server_config:\n  http2: true\n  headers:\n"
                   "    Content-Security-Policy: \"default-src 'none'; frame-ancestors 'self'\"\n"
                   "    Strict-Transport-Security: max-age=31536000\n"
                   "    X-Frame-Options: sameorigin\n")
        port, path, _, proc = self.start(tls + users + headers, "headers")
        r = subprocess.run(["promtool", "check", "web-config", path], capture_output=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        auth = ("prometheus", PASSWORD)
        # The file's headers go on every answer (a refusal too) and replace the defaults of
        # their names; the other defaults stay.
        for p, want in (("/", 200), ("/metrics", 200), ("/nosuch", 404)):
            status, h, _ = self.get(port, p, *auth)
            self.assertEqual(status, want, p)
            self.assertEqual(h.get("Content-Security-Policy"),
                             "default-src 'none'; frame-ancestors 'self'", p)
            self.assertEqual(h.get("Strict-Transport-Security"), "max-age=31536000", p)
            self.assertEqual(h.get("X-Frame-Options"), "sameorigin", p)
            self.assertEqual(h.get("X-Content-Type-Options"), "nosniff", p)
            self.assertEqual(h.get("Referrer-Policy"), "no-referrer", p)
        status, h, _ = self.get(port, "/metrics")
        self.assertEqual(status, 401)
        self.assertEqual(h.get("Strict-Transport-Security"), "max-age=31536000")
        self.assertEqual(h.get("X-Content-Type-Options"), "nosniff")
        # On reload the headers change at once: an empty value removes one, defaults included.
        with open(path, "w") as f:
            f.write(tls + users + "http_server_config:\n  headers:\n"
                    "    Content-Security-Policy: \"\"\n    X-XSS-Protection: \"0\"\n")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while True:
            status, h, _ = self.get(port, "/", *auth)
            if "X-XSS-Protection" in h:
                break
            self.assertLess(time.monotonic(), deadline, "headers unchanged after SIGHUP: %s" % h)
            time.sleep(0.1)
        self.assertEqual(status, 200)
        self.assertEqual(h.get("X-XSS-Protection"), "0")
        self.assertNotIn("Content-Security-Policy", h)
        self.assertNotIn("Strict-Transport-Security", h)
        self.assertEqual(h.get("X-Frame-Options"), "DENY")  # the page's default again
        self.assertEqual(h.get("X-Content-Type-Options"), "nosniff")
        # Without http_server_config, replmon's defaults.
        port, _, _, _ = self.start(tls, "default-headers")
        status, h, _ = self.get(port, "/")
        self.assertEqual(status, 200)
        self.assertTrue(h.get("Content-Security-Policy", "").startswith(
            "default-src 'none'; style-src 'sha256-"), h)
        self.assertEqual(h.get("X-Frame-Options"), "DENY")
        status, h, _ = self.get(port, "/metrics")
        self.assertNotIn("Content-Security-Policy", h)
        self.assertEqual(h.get("Referrer-Policy"), "no-referrer")

    def test_05_prometheus_scrapes_over_https_with_basic_auth(self):
        web = ("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
               "basic_auth_users:\n  prometheus: %s\n" % self.hash)
        port, _, log, _ = self.start(web, "prom")
        jobs = []
        for job, secret in (("replmon", PASSWORD), ("replmon-wrong", "wrong")):
            pass_file = os.path.join(self.workdir, job + ".pass")
            with open(pass_file, "w") as f:
                f.write(secret)
            jobs.append("\n".join([
                "  - job_name: %s" % job,
                "    scheme: https",
                "    tls_config: {ca_file: %s}" % os.path.join(self.workdir, "ca.pem"),
                "    basic_auth: {username: prometheus, password_file: %s}" % pass_file,
                "    static_configs: [{targets: ['127.0.0.1:%d']}]" % port]))
        prom = self.start_prometheus(jobs)
        health = self.targets_health(prom, lambda health: len(health) == 2 and all(
            h[0] != "unknown" for h in health.values()))
        self.assertEqual(health.get("replmon"), ("up", ""), health)
        self.assertEqual(health.get("replmon-wrong", ("",))[0], "down", health)
        self.assertIn("401", health["replmon-wrong"][1])
        # The samples arrived: replmon's own series, through the TLS connection.
        status, answer = prom.query('mariadb_up{job="replmon",node="db1"}')
        self.assertEqual(status, 200, answer)
        self.assertEqual(len(answer["data"]["result"]), 1, answer)
        self.assertNotIn(PASSWORD, open(log).read() + prom.log_text())
        print("\n    Prometheus over HTTPS + basic auth: up; wrong password: %s"
              % health["replmon-wrong"][1])

    def test_06_slowloris_leaves_room_for_scrapers(self):
        # One address (127.0.0.2) opens more connections than replmon accepts in all, each
        # sending its request a byte a second; the scraper on 127.0.0.1 must still get in.
        port = free_port()
        log = os.path.join(self.workdir, "slow.log")
        proc = spawn([replmon_path(), "--config.file=" + os.path.join(self.workdir, "replmon.yml"),
                      "--web.listen-address=127.0.0.1:%d" % port], log,
                     env=dict(os.environ, REPLMON_SEC_PW=PASSWORD))
        self.procs.append(proc)
        deadline = time.monotonic() + 15
        while True:
            try:
                if http(port, "/-/healthy", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            self.assertLess(time.monotonic(), deadline, "replmon not serving")
            time.sleep(0.05)
        slow = []
        try:
            for _ in range(SLOW_CONNECTIONS):
                s = socket.socket()
                s.bind(("127.0.0.2", 0))
                s.settimeout(2)
                try:
                    s.connect(("127.0.0.1", port))
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    slow.append(s)
                except OSError:
                    s.close()
            # For 12 s (past the 10 s idle timeout, which the dribble keeps resetting),
            # a byte a second on each, and a scrape every 0.2 s from 127.0.0.1.
            worst, scrapes, t_end, next_byte = 0.0, 0, time.monotonic() + 12, 0.0
            while time.monotonic() < t_end:
                if time.monotonic() >= next_byte:
                    for s in list(slow):
                        try:
                            s.send(b"a")
                        except OSError:
                            slow.remove(s)
                            s.close()
                    next_byte = time.monotonic() + 1
                status, _, body, secs = http(port, "/metrics", timeout=5)
                self.assertEqual(status, 200)
                self.assertIn(b"mariadb_up", body)
                worst, scrapes = max(worst, secs), scrapes + 1
                time.sleep(0.2)
            # Connections the server closed read as EOF (or a reset) once it has dropped them.
            held = 0
            for s in slow:
                s.settimeout(0.05)
                try:
                    held += s.recv(1) != b""
                except socket.timeout:
                    held += 1
                except OSError:
                    pass
        finally:
            for s in slow:
                s.close()
        self.assertLessEqual(held, PER_ADDRESS_LIMIT)
        self.assertGreater(held, PER_ADDRESS_LIMIT // 2)  # the attack did hold connections
        self.assertLess(worst, 2.0)
        print("\n    slowloris from 127.0.0.2: %d of %d connections held; %d scrapes from "
              "127.0.0.1, slowest %.1f ms" % (held, SLOW_CONNECTIONS, scrapes, worst * 1000))
        self.assertEqual(proc.poll(), None, open(log).read())

    def toolkit_examples(self):
        """exporter-toolkit's files as (name, text), with our certificates and our hash."""
        d = self.workdir
        # The names its files use for the server's pair and the client CAs.
        for ours, theirs in (("server.pem", "server.crt"), ("server.key", "server.key"),
                             ("ca.pem", "client_selfsigned.pem"),
                             ("ca.pem", "client2_selfsigned.pem")):
            if ours != theirs:
                shutil.copy(os.path.join(d, ours), os.path.join(d, theirs))
        pem = {}
        for kind, name in (("CERTIFICATE", "server.pem"), ("PRIVATE KEY", "server.key")):
            pem[kind] = open(os.path.join(d, name)).read().strip()
        examples = []
        for name in sorted(os.listdir(TOOLKIT_DATA)):
            if not name.endswith((".yml", ".yaml")):
                continue
            text = open(os.path.join(TOOLKIT_DATA, name)).read()
            for kind, block in pem.items():
                text = re.sub(r"( *)-----BEGIN %s-----\n.*?-----END %s-----" % (kind, kind),
                              lambda m, b=block: "\n".join(m.group(1) + line
                                                           for line in b.splitlines()),
                              text, flags=re.S)
            text = re.sub(r"\$2y\$\d\d\$[./A-Za-z0-9]{53}", lambda m: self.hash, text)
            examples.append((name, text))
        return examples

    def test_07_exporter_toolkit_examples_scraped_by_prometheus(self):
        """Every web configuration of exporter-toolkit's docs and tests starts replmon, and one
        Prometheus scrapes each replmon as that file asks (TLS, client certificate, basic
        auth); the SAN file that must refuse is refused, and the one file replmon cannot serve
        stops it with a clear line."""
        jobs, ports, logs = [], {}, []
        ca = os.path.join(self.workdir, "ca.pem")
        refused = {}
        for name, text in self.toolkit_examples():
            if name.startswith("tls_config_noAuth.requireanyclientcert"):
                path = os.path.join(self.workdir, name)
                with open(path, "w") as f:
                    f.write(text)
                r = subprocess.run([replmon_path(), "--config.file=" + os.path.join(
                    self.workdir, "replmon.yml"), "--web.config.file=" + path],
                    capture_output=True, timeout=30, env=dict(os.environ, REPLMON_SEC_PW="x"))
                refused[name] = (r.returncode, r.stderr.decode())
                continue
            port, _, log, _ = self.start(text, name)
            logs.append(log)
            job = re.sub(r"[^A-Za-z0-9_]", "_", name)
            ports[job] = port
            tls = "tls_server_config" in text
            lines = ["  - job_name: %s" % job,
                     "    scheme: %s" % ("https" if tls else "http"),
                     "    static_configs: [{targets: ['127.0.0.1:%d']}]" % port]
            if tls:
                client = ""
                if "client_ca_file" in text:
                    client = ", cert_file: %s, key_file: %s" % (
                        os.path.join(self.workdir, "client.pem"),
                        os.path.join(self.workdir, "client.key"))
                lines.append("    tls_config: {ca_file: %s%s}" % (ca, client))
            if re.search(r"^basic_auth_users:\n +\w", text, re.M):
                user = "alice" if "alice:" in text else "prometheus"
                lines.append("    basic_auth: {username: %s, password_file: %s}"
                             % (user, os.path.join(self.workdir, "prometheus.pass")))
            jobs.append("\n".join(lines))
        with open(os.path.join(self.workdir, "prometheus.pass"), "w") as f:
            f.write(PASSWORD)
        prom = self.start_prometheus(jobs)
        health = self.targets_health(prom, lambda health: len(health) == len(ports) and all(
            h[0] != "unknown" and (h[0] == "up" or "client_san_bad" in j)
            for j, h in health.items()))
        bad_san = "web_config_auth_client_san_bad_yaml"
        for job in ports:
            if job == bad_san:
                continue
            self.assertEqual(health.get(job), ("up", ""), (job, health))
        # Its only allowed SAN is "bad": the client's certificate (DNS:test3) is turned away.
        self.assertEqual(health[bad_san][0], "down", health)
        self.assertIn("403", health[bad_san][1])
        status, answer = prom.query('count by (job) (mariadb_up{job=~"(web|tls)_config.*"})')
        self.assertEqual(status, 200, answer)
        self.assertEqual({r["metric"]["job"] for r in answer["data"]["result"]},
                         set(ports) - {bad_san}, answer)
        # RequireAnyClientCert without a CA: libmicrohttpd cannot ask for a certificate.
        for name, (code, err) in refused.items():
            self.assertEqual(code, 2, err)
            self.assertIn("client_auth_type RequireAnyClientCert needs client_ca_file", err)
        for log in logs:
            self.assertNotIn(PASSWORD, open(log).read())
        print("\n    exporter-toolkit's files: %d scraped by Prometheus, the bad SAN refused "
              "(%s), %d refused at start-up" % (len(ports) - 1, health[bad_san][1],
                                                len(refused)))

    def test_08_several_listen_addresses_and_rate_limit(self):
        """Each --web.listen-address is served; rate_limit counts requests on all of them,
        before authentication."""
        ports = [free_port(), free_port()]
        path = os.path.join(self.workdir, "rate.web.yml")
        with open(path, "w") as f:
            f.write("rate_limit: {interval: 30s, burst: 3}\n"
                    "basic_auth_users:\n  prometheus: %s\n" % self.hash)
        log = os.path.join(self.workdir, "rate.log")
        proc = spawn([replmon_path(), "--config.file=" + os.path.join(self.workdir, "replmon.yml"),
                      "--web.config.file=" + path]
                     + ["--web.listen-address=127.0.0.1:%d" % p for p in ports]
                     + ["--web.listen-address=[::1]:%d" % ports[0]], log,
                     env=dict(os.environ, REPLMON_SEC_PW=PASSWORD))
        self.procs.append(proc)
        deadline = time.monotonic() + 15
        while open(log).read().count("msg=listening") < 3:
            self.assertIsNone(proc.poll(), open(log).read())
            self.assertLess(time.monotonic(), deadline, open(log).read())
            time.sleep(0.05)
        auth = {"Authorization": "Basic " + base64.b64encode(
            ("prometheus:" + PASSWORD).encode()).decode()}
        codes = [http(ports[0], "/metrics", headers=auth)[0],
                 http(ports[1], "/metrics", headers=auth)[0],
                 http(ports[1], "/metrics")[0],  # a refused request counts too
                 http(ports[0], "/metrics", headers=auth)[0],
                 http(ports[1], "/-/healthy")[0]]
        self.assertEqual(codes, [200, 200, 401, 429, 429])
        with socket.create_connection(("::1", ports[0]), timeout=5) as s:
            s.sendall(b"GET /-/healthy HTTP/1.0\r\n\r\n")
            self.assertTrue(s.recv(64).startswith(b"HTTP/1.1 429"))

    def test_09_systemd_socket_activation(self):
        """systemd-socket-activate (systemd's own tool) binds two sockets and starts replmon on
        the first connection, as a .socket unit would; replmon serves both."""
        ports = [free_port(), free_port()]
        log = os.path.join(self.workdir, "socket.log")
        argv = ["systemd-socket-activate", "-E", "REPLMON_SEC_PW=" + PASSWORD]
        argv += ["--listen=127.0.0.1:%d" % p for p in ports]
        argv += [replmon_path(), "--config.file=" + os.path.join(self.workdir, "replmon.yml"),
                 "--web.systemd-socket", "--web.listen-address=127.0.0.1:1"]
        proc = spawn(argv, log)
        self.procs.append(proc)
        deadline = time.monotonic() + 15
        while "Listening on 127.0.0.1:%d" % ports[1] not in open(log).read():
            self.assertIsNone(proc.poll(), open(log).read())
            self.assertLess(time.monotonic(), deadline, open(log).read())
            time.sleep(0.05)
        for port in ports:  # the first connection waits in the backlog while replmon starts
            status, _, body, _ = http(port, "/metrics", timeout=10)
            self.assertEqual(status, 200)
            self.assertIn(b"mariadb_up", body)
        text = open(log).read()
        for port in ports:
            self.assertIn("msg=listening address=127.0.0.1:%d" % port, text)
        self.assertIn("systemd_socket=yes", text)
        # Without sockets from systemd: one clear line, and no start.
        r = subprocess.run([replmon_path(), "--config.file=" + os.path.join(
            self.workdir, "replmon.yml"), "--web.systemd-socket"], capture_output=True,
            timeout=30, env=dict(os.environ, REPLMON_SEC_PW="x"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("systemd passed no socket", r.stderr.decode())


if __name__ == "__main__":
    sys.exit(run_suite(TestSecurity, sys.argv[1:], "integration-security",
                       sys.modules[__name__]))
