"""Throwaway Prometheus 2.42, Alertmanager 0.25 and SMTP sink processes on 127.0.0.1, for
check_queries.py, test_dashboards.py and tests/integration/test_alerting.py, and a
synthetic /metrics endpoint for such a Prometheus to scrape, and a stand-in for the Telegram
Bot API for such an Alertmanager to send to.

    prom = Prometheus(workdir, rule_files=[...], scrape={"replmon": ["127.0.0.1:9873"]},
                      alertmanager="127.0.0.1:9093")
    prom.start(); prom.wait_ready()
    prom.query('up')            # (HTTP status, decoded JSON answer)
    prom.stop()

Each process gets its own directory under workdir (data, configuration, log), a free port,
and is started with tests/integration/common.py's spawn() (own session,
PR_SET_PDEATHSIG) and stopped by PID (stop(), or common's atexit and signal clean-up).
Nothing listens anywhere but 127.0.0.1: Alertmanager's gossip is off
(`--cluster.listen-address=`). Python 3 standard library only; the SMTP sink runs Debian's
python3-aiosmtpd in its own interpreter.

    ep = MetricsEndpoint(text).start()   # serves text on http://127.0.0.1:<port>/metrics
    Prometheus(workdir, scrape={"replmon": [ep.target]}); ep.set_text(other); ep.stop()

    tg = TelegramBotApi().start()        # POST /bot<token>/sendMessage on tg.url
    alertmanager_test_config(..., telegram_url=tg.url); tg.messages(); tg.stop()

MetricsEndpoint and TelegramBotApi are threads of the calling process (http.server), not
processes: they end with it.
"""

import email
import email.policy
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from common import free_port, http_url, read_log, spawn, stop_process, tail  # noqa: E402

PROMETHEUS = os.environ.get("PROMETHEUS", "prometheus")
ALERTMANAGER = os.environ.get("ALERTMANAGER", "prometheus-alertmanager")
START_BOUND_S = 30.0
# What alertmanager_test_config() puts in place of the example's Telegram placeholders.
TELEGRAM_TEST_TOKEN = "4242424242:replmon-test-token"
TELEGRAM_TEST_CHAT_ID = -1004242424242

__all__ = ["Prometheus", "Alertmanager", "SmtpSink", "MetricsEndpoint", "TelegramBotApi",
           "aiosmtpd_python", "wait_port", "alertmanager_test_config", "rules_test_copy",
           "telegram_html_problem", "TELEGRAM_TEST_TOKEN", "TELEGRAM_TEST_CHAT_ID"]


def wait_port(port, bound, proc=None, what="server", log=None):
    deadline = time.monotonic() + bound
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s at start-up; log:\n%s"
                               % (what, proc.returncode, tail(log) if log else ""))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("%s not listening on 127.0.0.1:%d after %.0f s; log:\n%s"
                               % (what, port, bound, tail(log) if log else ""))
        time.sleep(0.05)


class _Server:
    name = "server"

    def __init__(self, workdir, name):
        self.dir = os.path.join(os.path.abspath(workdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log = os.path.join(self.dir, "%s.log" % name)
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def get(self, path, timeout=10.0):
        status, _, body, _ = http_url(self.url + path, timeout=timeout)
        return status, body

    def get_json(self, path, timeout=10.0):
        status, body = self.get(path, timeout)
        try:
            return status, json.loads(body.decode("utf-8"))
        except ValueError:
            return status, {"raw": body.decode("utf-8", "replace")}

    def wait_ready(self, bound=START_BOUND_S):
        deadline = time.monotonic() + bound
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s at start-up; log:\n%s"
                                   % (self.name, self.proc.returncode, tail(self.log)))
            try:
                if self.get("/-/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("%s not ready after %.0f s; log:\n%s"
                                   % (self.name, bound, tail(self.log)))
            time.sleep(0.1)

    def stop(self):
        rc = stop_process(self.proc, bound=15)
        self.proc = None
        return rc

    def log_text(self):
        return read_log(self.log)


class Prometheus(_Server):
    """A Prometheus server with its own TSDB. scrape: {job: [host:port, ...]}."""

    name = "prometheus"

    def __init__(self, workdir, rule_files=(), scrape=None, alertmanager=None,
                 scrape_interval="1s", evaluation_interval="1s"):
        super().__init__(workdir, "prometheus")
        self.config = os.path.join(self.dir, "prometheus.yml")
        lines = ["global:",
                 "  scrape_interval: %s" % scrape_interval,
                 "  scrape_timeout: %s" % scrape_interval,
                 "  evaluation_interval: %s" % evaluation_interval]
        if rule_files:
            lines.append("rule_files:")
            lines += ["  - %s" % json.dumps(os.path.abspath(f)) for f in rule_files]
        if alertmanager:
            lines += ["alerting:", "  alertmanagers:", "    - static_configs:",
                      "        - targets: [%s]" % json.dumps(alertmanager)]
        lines.append("scrape_configs:" + ("" if scrape else " []"))
        for job, targets in (scrape or {}).items():
            lines += ["  - job_name: %s" % json.dumps(job),
                      "    static_configs:",
                      "      - targets: [%s]" % ", ".join(json.dumps(t) for t in targets)]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        argv = [PROMETHEUS, "--config.file=" + self.config,
                "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                "--web.listen-address=127.0.0.1:%d" % self.port,
                "--log.level=info"]
        self.proc = spawn(argv, self.log, cwd=self.dir)
        return self

    def query(self, expr, at=None, timeout=10.0):
        """(HTTP status, answer) of /api/v1/query; a PromQL error is 400 with
        errorType bad_data."""
        params = {"query": expr}
        if at is not None:
            params["time"] = "%.3f" % at
        return self.get_json("/api/v1/query?" + urllib.parse.urlencode(params), timeout)

    def rule_groups(self):
        status, answer = self.get_json("/api/v1/rules")
        if status != 200 or answer.get("status") != "success":
            raise RuntimeError("/api/v1/rules answered %s: %r" % (status, answer))
        return answer["data"]["groups"]


class Alertmanager(_Server):
    """An Alertmanager with the given configuration text, no clustering."""

    name = "alertmanager"

    def __init__(self, workdir, config_text):
        super().__init__(workdir, "alertmanager")
        self.config = os.path.join(self.dir, "alertmanager.yml")
        with open(self.config, "w") as f:
            f.write(config_text)

    def start(self):
        argv = [ALERTMANAGER, "--config.file=" + self.config,
                "--storage.path=" + os.path.join(self.dir, "data"),
                "--web.listen-address=127.0.0.1:%d" % self.port,
                "--cluster.listen-address=", "--log.level=debug"]
        self.proc = spawn(argv, self.log, cwd=self.dir)
        return self

    def post_alerts(self, alerts):
        status, _, body, _ = http_url(self.url + "/api/v2/alerts", method="POST",
                                      headers={"Content-Type": "application/json"},
                                      data=json.dumps(alerts).encode())
        if status != 200:
            raise RuntimeError("POST /api/v2/alerts answered %s: %r" % (status, body[:300]))

    def alerts(self):
        status, answer = self.get_json("/api/v2/alerts")
        if status != 200:
            raise RuntimeError("GET /api/v2/alerts answered %s: %r" % (status, answer))
        return answer


def alertmanager_test_config(path, smtp_port, group_wait=None, group_interval=None,
                             repeat_interval=None, telegram_url=None,
                             telegram_token=TELEGRAM_TEST_TOKEN,
                             telegram_chat_id=TELEGRAM_TEST_CHAT_ID):
    """The text of the Alertmanager configuration at path (the real one, from
    dashboards/alertmanager/) with its mail sent to 127.0.0.1:smtp_port without TLS, its
    Telegram messages to the Bot API at telegram_url (by default a local port nobody
    listens on: nothing leaves the machine) with the token and chat id given and, if given,
    shorter timers. Each replaced setting must be found exactly once."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    telegram_url = telegram_url or "http://127.0.0.1:%d" % free_port()
    subs = [(r"(?m)^(\s*smarthost:)\s*\S+.*$", r"\g<1> 127.0.0.1:%d" % smtp_port),
            (r"(?m)^(\s*require_tls:)\s*true\s*$", r"\g<1> false"),
            (r"(?m)^(\s*api_url:)\s*\S+.*$", r"\g<1> %s" % telegram_url),
            (r"(?m)^(\s*-?\s*bot_token:)\s*\S+.*$", r'\g<1> "%s"' % telegram_token),
            (r"(?m)^(\s*chat_id:)\s*\S+.*$", r"\g<1> %d" % telegram_chat_id)]
    for key, value in (("group_wait", group_wait), ("group_interval", group_interval),
                       ("repeat_interval", repeat_interval)):
        if value:
            subs.append((r"(?m)^(\s*%s:)\s*\S+\s*$" % key, r"\g<1> %s" % value))
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl, text)
        if n != 1:
            raise AssertionError("%s: %r matched %d times, expected once"
                                 % (path, pattern, n))
    return text


def rules_test_copy(path, dest, for_duration):
    """Writes the rules file at path to dest with every `for:` set to for_duration (a test
    cannot wait minutes); returns how many were replaced."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text, n = re.subn(r"(?m)^(\s*for:)\s*\S+\s*$", r"\g<1> %s" % for_duration, text)
    with open(dest, "w", encoding="utf-8") as f:
        f.write(text)
    return n


def aiosmtpd_python():
    """An interpreter that can import aiosmtpd (Debian's python3-aiosmtpd lives in
    /usr/lib/python3/dist-packages, which another python3 on PATH may not see)."""
    candidates = [os.environ.get("AIOSMTPD_PYTHON"), sys.executable, "/usr/bin/python3"]
    for py in candidates:
        if not py:
            continue
        try:
            r = subprocess.run([py, "-c", "import aiosmtpd"], capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return py
    raise RuntimeError("no Python interpreter can import aiosmtpd: install python3-aiosmtpd "
                       "(or set AIOSMTPD_PYTHON)")


class SmtpSink:
    """`python3 -m aiosmtpd` with its Mailbox handler: each message received on
    127.0.0.1:port becomes a file in a Maildir."""

    def __init__(self, workdir):
        self.dir = os.path.join(os.path.abspath(workdir), "smtp")
        os.makedirs(self.dir, exist_ok=True)
        self.maildir = os.path.join(self.dir, "Maildir")
        self.port = free_port()
        self.log = os.path.join(self.dir, "aiosmtpd.log")
        self.proc = None

    def start(self, bound=START_BOUND_S):
        argv = [aiosmtpd_python(), "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:%d" % self.port,
                "-c", "aiosmtpd.handlers.Mailbox", self.maildir]
        self.proc = spawn(argv, self.log, cwd=self.dir)
        wait_port(self.port, bound, self.proc, "aiosmtpd", self.log)
        return self

    def messages(self):
        """[(subject, plain text, email.message.EmailMessage)] of every message received
        so far, oldest first."""
        files = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            if os.path.isdir(d):
                files += [os.path.join(d, n) for n in os.listdir(d)]
        out = []
        for path in files:
            try:
                with open(path, "rb") as fh:
                    raw = fh.read()
                mtime = os.path.getmtime(path)
            except OSError:  # being moved by the Maildir writer
                continue
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            text = "".join(part.get_content() for part in msg.walk()
                           if part.get_content_type() == "text/plain")
            out.append((mtime, os.path.basename(path), str(msg.get("Subject", "")), text, msg))
        out.sort(key=lambda m: (m[0], m[1]))
        return [(s, t, m) for (_, _, s, t, m) in out]

    def stop(self):
        rc = stop_process(self.proc, bound=10)
        self.proc = None
        return rc


class _QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass


class _ThreadServer:
    """Base of the stand-ins served by http.server on 127.0.0.1 in a thread of the calling
    process: _serve(handler class, thread name) starts it, stop() ends it."""

    _server = _thread = None
    port = None

    def _serve(self, handler, name):
        # Port 0: the kernel picks a free one, no race with another test.
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=name,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = self._thread = None


class MetricsEndpoint(_ThreadServer):
    """GET /metrics on 127.0.0.1 answers the text given (Prometheus text format 0.0.4);
    set_text() changes what the next scrape gets. A synthetic replmon for a Prometheus to
    scrape: series that no server in the test produces, or a fault that would take long to
    cause for real."""

    def __init__(self, text=""):
        self._text = text.encode("utf-8")
        self._lock = threading.Lock()
        self.scrapes = 0

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def set_text(self, text):
        with self._lock:
            self._text = text.encode("utf-8")

    def _body(self):
        with self._lock:
            self.scrapes += 1
            return self._text

    def start(self):
        endpoint = self

        class Handler(_QuietHandler):
            def do_GET(self):
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = endpoint._body()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return self._serve(Handler, "metrics-endpoint")


# Telegram's HTML parse mode: the tags it knows. (An `&` that starts no entity stays a
# literal `&`; a `<` that opens no known tag is an error.)
_TELEGRAM_TAG = re.compile(r"</?(b|strong|i|em|u|ins|s|strike|del|a|code|pre|span|"
                           r"tg-spoiler|tg-emoji|blockquote)(\s[^<>]*)?>")


def telegram_html_problem(text):
    """Why Telegram would refuse text in parse_mode HTML ("can't parse entities"), or None:
    a `<` that opens no tag it knows."""
    i = text.find("<")
    while i >= 0:
        m = _TELEGRAM_TAG.match(text, i)
        if not m:
            return "unsupported start tag at byte offset %d: %r" % (i, text[i:i + 12])
        i = text.find("<", m.end())
    return None


class TelegramBotApi(_ThreadServer):
    """A stand-in for the Telegram Bot API on 127.0.0.1 (a thread of the calling process):
    `POST /bot<token>/sendMessage` with a JSON body is recorded and answered as the real
    API answers, `{"ok":true,"result":<Message>}`, or, for text the API's HTML parser would
    refuse, with its 400 "Bad Request: can't parse entities" (recorded in rejected()); any
    other method or path gets the API's 404 `{"ok":false,"error_code":404,"description":
    "Not Found"}`. Alertmanager's telegram_configs `api_url` points at url."""

    def __init__(self):
        self._lock = threading.Lock()
        self._messages = []
        self._rejected = []

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def messages(self):
        """[{"path", "token", "chat_id", "text", "parse_mode", "body"}] received so far,
        oldest first; body is the decoded JSON request."""
        with self._lock:
            return list(self._messages)

    def rejected(self):
        """[(text, why)] of the messages answered 400 so far."""
        with self._lock:
            return list(self._rejected)

    def _reject(self, text, why):
        with self._lock:
            self._rejected.append((text, why))

    def _record(self, path, body):
        """The Message the API answers for a sendMessage of body to path."""
        with self._lock:
            self._messages.append({"path": path, "token": path[len("/bot"):-len("/sendMessage")],
                                   "chat_id": body.get("chat_id"), "text": body.get("text"),
                                   "parse_mode": body.get("parse_mode"), "body": body})
            message_id = len(self._messages)
        chat_id = int(body.get("chat_id"))
        return {"message_id": message_id, "date": int(time.time()),
                "chat": {"id": chat_id, "type": "supergroup", "title": "replmon test"},
                "from": {"id": 4242424242, "is_bot": True, "first_name": "replmon test",
                         "username": "replmon_test_bot"},
                "text": body.get("text", "")}

    def start(self):
        api = self

        class Handler(_QuietHandler):
            def answer(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def not_found(self):
                self.answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})

            def do_GET(self):
                self.not_found()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not re.fullmatch(r"/bot[^/]+/sendMessage", self.path):
                    self.not_found()
                    return
                try:
                    body = json.loads(raw.decode("utf-8"))
                    text = body.get("text") or ""
                    why = "message text is empty" if not text else None
                    if not why and body.get("parse_mode") == "HTML":
                        why = telegram_html_problem(text)
                    if why:
                        api._reject(text, why)
                        raise ValueError("can't parse entities: " + why)
                    message = api._record(self.path, body)
                except (ValueError, TypeError, AttributeError) as e:
                    self.answer(400, {"ok": False, "error_code": 400,
                                      "description": "Bad Request: %s" % e})
                    return
                self.answer(200, {"ok": True, "result": message})

        return self._serve(Handler, "telegram-bot-api")
