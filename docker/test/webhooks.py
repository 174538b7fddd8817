#!/usr/bin/env python3
"""Host side of scripts/test-containers.sh (standard library only).

  receive  a webhook receiver: appends one JSON line per answered delivery to --log, after
           sleeping the seconds written in --delay-file (0 when absent), so a test can keep
           deliveries in flight while it stops a container. Writes its port to --port-file.
  send     posts events to a gateway, appends the id of every acknowledged (202) one to
           --acked; --batch N sends one batch of N, --until FILE keeps --concurrency senders
           posting single events until FILE exists (and through a gateway's stop).
  check    verifies the receiver's log: every delivery carries a valid Standard Webhooks
           signature for one of --secret, and every acknowledged id arrived. Exits 1 otherwise.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import sys
import threading
import time
import uuid


def receive(args):
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                with open(args.delay_file) as f:
                    time.sleep(float(f.read().strip() or 0))
            except FileNotFoundError:
                pass
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()
            self.wfile.flush()
            record = {
                "id": self.headers.get("webhook-id"),
                "timestamp": self.headers.get("webhook-timestamp"),
                "signature": self.headers.get("webhook-signature"),
                "body": body.decode("utf-8", "replace"),
            }
            with lock, open(args.log, "a") as f:
                f.write(json.dumps(record) + "\n")

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer((args.bind, 0), Handler)
    server.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


def post(conn, key, path, document):
    conn.request(
        "POST",
        path,
        body=json.dumps(document),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


def event(index):
    return {
        "type": "order.created",
        "payload": {"order": index, "note": "container test"},
        "idempotency_key": str(uuid.uuid4()),
    }


def send(args):
    host, port = args.gateway.rsplit(":", 1)
    acked = open(args.acked, "a")
    lock = threading.Lock()

    def record(ids):
        with lock:
            for id_ in ids:
                acked.write(id_ + "\n")
            acked.flush()

    if args.batch:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        status, answer = post(conn, args.key, "/v1/events/batch", {"events": [event(i) for i in range(args.batch)]})
        if status != 200:
            sys.exit(f"batch answered {status}: {answer}")
        record(r["id"] for r in answer["results"] if r["status"] == 202)
        print(f"{answer['accepted']} of {args.batch} acknowledged")
        return

    counts = {"acked": 0, "refused": 0}

    def sender():
        conn = None
        index = 0
        while not os.path.exists(args.until):
            index += 1
            try:
                conn = conn or http.client.HTTPConnection(host, int(port), timeout=10)
                status, answer = post(conn, args.key, "/v1/events", event(index))
            except (OSError, http.client.HTTPException, ValueError):
                # The gateway is stopping or gone: nothing was acknowledged; try again.
                conn = None
                with lock:
                    counts["refused"] += 1
                time.sleep(0.05)
                continue
            if status == 202:
                record([answer["id"]])
                with lock:
                    counts["acked"] += 1
            else:
                with lock:
                    counts["refused"] += 1

    threads = [threading.Thread(target=sender) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"{counts['acked']} acknowledged, {counts['refused']} refused or failed")


def signature_valid(secrets, record):
    """True when a v1 signature is the HMAC under one of the endpoints' secrets, and fresh."""
    signed = f"{record['id']}.{record['timestamp']}.{record['body']}".encode()
    presented = [s.split(",", 1)[1] for s in (record["signature"] or "").split() if s.startswith("v1,")]
    fresh = abs(time.time() - int(record["timestamp"] or 0)) < 300
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(expected, p) for p in presented):
            return fresh
    return False


def check(args):
    records = []
    if os.path.exists(args.log):
        with open(args.log) as f:
            records = [json.loads(line) for line in f if line.strip()]
    acked = set()
    for path in args.acked:
        with open(path) as f:
            acked.update(line.strip() for line in f if line.strip())
    unsigned = [r["id"] for r in records if not signature_valid(args.secret, r)]
    delivered = {r["id"] for r in records}
    lost = sorted(acked - delivered)
    print(
        f"acknowledged {len(acked)}, deliveries {len(records)}, unique {len(delivered)}, "
        f"duplicates {len(records) - len(delivered)}, bad signatures {len(unsigned)}, lost {len(lost)}"
    )
    if unsigned:
        print("bad signature on", unsigned[:5])
    if lost and args.verbose:
        print("not delivered (yet):", lost[:5])
    sys.exit(0 if acked and not lost and not unsigned else 1)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("receive")
    r.add_argument("--bind", required=True)
    r.add_argument("--port-file", required=True)
    r.add_argument("--log", required=True)
    r.add_argument("--delay-file", required=True)
    s = commands.add_parser("send")
    s.add_argument("--gateway", required=True, help="host:port")
    s.add_argument("--key", required=True)
    s.add_argument("--acked", required=True)
    s.add_argument("--batch", type=int, default=0)
    s.add_argument("--until")
    s.add_argument("--concurrency", type=int, default=4)
    c = commands.add_parser("check")
    c.add_argument("--log", required=True)
    c.add_argument("--secret", nargs="+", required=True, help="the endpoints' whsec_ secrets")
    c.add_argument("--acked", nargs="+", required=True)
    c.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    {"receive": receive, "send": send, "check": check}[args.command](args)


if __name__ == "__main__":
    main()
