"""A webhook receiver for scripts/test-lifecycle.sh: verifies every request's
Standard Webhooks signature with the endpoint secret, de-duplicates by
webhook-id, and answers 503 while told to fail.

  test_receiver.py PORT SECRET STATE_FILE
  GET  /stats         {"verified": n, "rejected": n, "duplicates": n, "ids": [...]}
  POST /mode?fail=1   answer 503 from now on (fail=0: 204 again)
  POST /mark          remember the current request count (received_since_mark)
"""

import base64
import hashlib
import hmac
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, SECRET = int(sys.argv[1]), sys.argv[2]
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))
lock = threading.Lock()
state = {"verified": 0, "rejected": 0, "duplicates": 0, "ids": {}, "fail": False, "since_mark": set()}


def valid(headers, body: bytes) -> bool:
    message_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    signed = f"{message_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()
    offered = [part.split(",", 1)[1] for part in headers.get("webhook-signature", "").split() if part.startswith("v1,")]
    return any(hmac.compare_digest(expected, sig) for sig in offered)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, payload=None):
        body = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(code)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            self.answer(200, {"verified": state["verified"], "rejected": state["rejected"],
                              "duplicates": state["duplicates"], "ids": sorted(state["ids"]),
                              "since_mark": sorted(state["since_mark"])})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.startswith("/mode"):
            with lock:
                state["fail"] = self.path.endswith("fail=1")
            return self.answer(204)
        if self.path.startswith("/mark"):
            with lock:
                state["since_mark"] = set()
            return self.answer(204)
        with lock:
            if not valid(self.headers, body):
                state["rejected"] += 1
                return self.answer(401)
            if state["fail"]:
                return self.answer(503)
            message_id = self.headers["webhook-id"]
            state["verified"] += 1
            if message_id in state["ids"]:
                state["duplicates"] += 1
            state["ids"][message_id] = state["ids"].get(message_id, 0) + 1
            state["since_mark"].add(message_id)
        self.answer(204)


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
