#!/usr/bin/env python3
"""A tiny local HTTP server that answers like the XMPP servers' monitoring APIs, for the
benchmark (tests/bench/run): replmon polls it as it would poll real servers, so that many
"XMPP nodes" cost the machine next to nothing.

    python3 tests/bench/xmpp_replay.py PORT [PORT...]

On every port (127.0.0.1 only, HTTP/1.1 with keep-alive):
- GET  any path ending in /metrics: Prosody 0.12.3's mod_http_openmetrics answer with two
  c2s sessions (the body of tests/unit/data/xmpp/prosody_metrics_2_sessions.txt, copied
  below so that this file stands alone);
- POST /api/COMMAND (anything before /api is ignored): ejabberd 23.01 mod_http_api's JSON
  for the read-only commands replmon calls;
- GET  /_stats: {"PORT": {"requests": N, "connections": M}, ...} counted per listening port
  since start (the benchmark reads requests and new TCP connections per poll from it; its
  own request and connection are counted on the port it asks).

Python 3 standard library only. Stops on SIGTERM/SIGINT.
"""

import http.server
import json
import signal
import socketserver
import sys
import threading

# Prosody ends a UNIT line without a unit in a space, written \x20 here so that no editor
# strips it.
PROSODY_METRICS = b"""# HELP prosody_stats_collection_seconds stats.collection times
# UNIT prosody_stats_collection_seconds seconds
# TYPE prosody_stats_collection_seconds histogram
prosody_stats_collection_seconds_bucket{le="0.001"} 3
prosody_stats_collection_seconds_bucket{le="0.01"} 3
prosody_stats_collection_seconds_bucket{le="0.1"} 3
prosody_stats_collection_seconds_bucket{le="1"} 3
prosody_stats_collection_seconds_bucket{le="10"} 3
prosody_stats_collection_seconds_bucket{le="100"} 3
prosody_stats_collection_seconds_bucket{le="+Inf"} 3
prosody_stats_collection_seconds_count 3
prosody_stats_collection_seconds_created 1795335518.3243961
prosody_stats_collection_seconds_sum 5.6743621826171875e-05
# HELP prosody_mod_c2s__encrypted Encrypted connections
# UNIT prosody_mod_c2s__encrypted\x20
# TYPE prosody_mod_c2s__encrypted counter
# HELP prosody_stats_processing_seconds stats.processing times
# UNIT prosody_stats_processing_seconds seconds
# TYPE prosody_stats_processing_seconds histogram
prosody_stats_processing_seconds_bucket{le="0.001"} 3
prosody_stats_processing_seconds_bucket{le="0.01"} 3
prosody_stats_processing_seconds_bucket{le="0.1"} 3
prosody_stats_processing_seconds_bucket{le="1"} 3
prosody_stats_processing_seconds_bucket{le="10"} 3
prosody_stats_processing_seconds_bucket{le="100"} 3
prosody_stats_processing_seconds_bucket{le="+Inf"} 3
prosody_stats_processing_seconds_count 3
prosody_stats_processing_seconds_created 1795335518.3244228
prosody_stats_processing_seconds_sum 5.9604644775390625e-06
# HELP prosody_mod_s2s_auth_certs__checked Certificate validation results
# UNIT prosody_mod_s2s_auth_certs__checked\x20
# TYPE prosody_mod_s2s_auth_certs__checked counter
# HELP prosody_mod_c2s__connections Established c2s connections
# UNIT prosody_mod_c2s__connections\x20
# TYPE prosody_mod_c2s__connections gauge
prosody_mod_c2s__connections{host="chat.test",type="c2s",ip_family="ipv6"} 0
prosody_mod_c2s__connections{host="chat.test",type="c2s",ip_family="ipv4"} 2
# EOF
"""

EJABBERD = {
    "connected_users_number": {"num_sessions": 2},
    "incoming_s2s_number": {"s2s_incoming": 0},
    "outgoing_s2s_number": {"s2s_outgoing": 0},
    "muc_online_rooms": [],
    "status": "The node replay@localhost is started. Status: startedejabberd 23.01-1 is "
              "running in that node",
}
EJABBERD_STATS = {"onlineusers": 2, "onlineusersnode": 2, "registeredusers": 3,
                  "uptimeseconds": 9}

_lock = threading.Lock()
_counts = {}  # port -> {"requests": N, "connections": M}


def _count(port, key):
    with _lock:
        _counts[port][key] += 1


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Prosody and ejabberd do
    server_version = "replay"

    def setup(self):
        super().setup()
        _count(self.server.server_address[1], "connections")

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        _count(self.server.server_address[1], "requests")
        path = self.path.split("?", 1)[0]
        if path == "/_stats":
            with _lock:
                body = json.dumps(_counts).encode()
            self._send(200, "application/json", body)
        elif path.endswith("/metrics"):
            self._send(200, "application/openmetrics-text; version=0.0.4", PROSODY_METRICS)
        else:
            self._send(404, "text/plain", b"not found\n")

    def do_POST(self):
        _count(self.server.server_address[1], "requests")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        command = path.rsplit("/", 1)[-1] if "/api/" in path else ""
        if command == "stats":
            try:
                name = json.loads(raw or b"{}").get("name")
            except ValueError:
                name = None
            if name in EJABBERD_STATS:
                return self._send(200, "application/json",
                                  json.dumps({"stat": EJABBERD_STATS[name]}).encode())
        elif command in EJABBERD:
            return self._send(200, "application/json", json.dumps(EJABBERD[command]).encode())
        self._send(404, "application/json",
                   b'{"status":"error","code":40,"message":"Unknown command"}')


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # hundreds of pollers connect at the same instant


def main(argv):
    ports = [int(a) for a in argv[1:]]
    if not ports:
        print("usage: xmpp_replay.py PORT [PORT...]", file=sys.stderr)
        return 2
    for p in ports:
        _counts[p] = {"requests": 0, "connections": 0}
    servers = [Server(("127.0.0.1", p), Handler) for p in ports]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("xmpp_replay: serving on 127.0.0.1 port(s) %s" % " ".join(map(str, ports)), flush=True)
    while not stop.wait(1.0):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
