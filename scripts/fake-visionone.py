#!/usr/bin/env python3
"""Test helper: a local stand-in for Vision One's connectivity endpoint, on 127.0.0.1 only.

    fake-visionone.py LOGFILE

Prints the port it listens on, then answers GET /v3.0/healthcheck/connectivity according to the
bearer token: ...ok... → 200 {"status": "available"}; e401 / e403 / e429 / e500 → the matching
Vision One error body; slow → waits 30 s; redirect → 302 to /elsewhere on the same server.
Every request (method, path, headers) is appended to LOGFILE as one JSON line. It exits by
itself after 10 minutes.
"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[1]
lock = threading.Lock()
ERRORS = {
    "e401": (401, "InvalidCredentials", "Invalid credentials."),
    "e403": (403, "AccessDenied", "The API key does not have permission to access this resource."),
    "e429": (429, "TooManyRequests", "Too many requests."),
    "e500": (500, "InternalServerError", "Internal server error."),
}

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-trace-id", "trace-%d-%s" % (status, self.path.strip("/").replace("/", "-")))
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock, open(LOG, "a") as f:
            f.write(json.dumps({"method": "GET", "path": self.path, "headers": dict(self.headers.items())}) + "\n")
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        if self.path == "/elsewhere":
            return self.reply(200, {"status": "available"})
        if self.path != "/v3.0/healthcheck/connectivity":
            return self.reply(404, {"error": {"code": "NotFound", "message": "Not found."}})
        if "slow" in token:
            time.sleep(30)
        if "redirect" in token:
            return self.reply(302, {}, [("Location", "http://127.0.0.1:%d/elsewhere" % self.server.server_address[1])])
        for key, (status, code, message) in ERRORS.items():
            if key in token:
                return self.reply(status, {"error": {"code": code, "message": message, "innererror": {"code": code + "Detail"}}})
        if "ok" in token:
            return self.reply(200, {"status": "available"})
        return self.reply(401, {"error": {"code": "InvalidCredentials", "message": "Invalid credentials.", "innererror": {}}})

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
threading.Timer(600, server.shutdown).start()
server.serve_forever()
