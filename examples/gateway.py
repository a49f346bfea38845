#!/usr/bin/env python3
"""A minimal AI-agent gateway that asks agenwork before every tool call.

It needs only the standard library. Run it against `make run`:

    KEY=$(.venv/bin/python manage.py create_api_key example-gateway | tail -n 1)
    AGENWORK_KEY=$KEY python examples/gateway.py ana@example.com google-calendar \
        google-calendar_events_create --note "Book the QBR with ACME"

With --webhook-port, it waits for agenwork's signed webhook instead of polling
(create the key with --webhook-url http://127.0.0.1:PORT/ and pass AGENWORK_WEBHOOK_SECRET).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

API = os.environ.get("AGENWORK_URL", "http://127.0.0.1:8000") + "/api/v1"
KEY = os.environ.get("AGENWORK_KEY", "")
FINAL = {"approved", "auto_approved", "denied", "expired", "cancelled"}


def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One API call; returns the status and the JSON body (errors included)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        API + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def verify(secret: str, body: bytes, header: str, tolerance: int = 300) -> bool:
    """Check agenwork's Agenwork-Signature header: HMAC of "t.body", and a recent t."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), fields.get("v1", ""))


def wait_by_polling(request_id: str, every: float = 2.0) -> dict:
    """Poll the request until a person (or the timeout) decides."""
    while True:
        status, body = call("GET", f"/requests/{request_id}")
        if status != 200:
            raise SystemExit(f"polling failed: {status} {body}")
        if body["status"] in FINAL:
            return body
        print(f"  … still {body['status']}", flush=True)
        time.sleep(every)


def wait_by_webhook(request_id: str, port: int, secret: str) -> dict:
    """Listen for the signed webhook of this request's resolution."""
    received: queue.Queue[dict] = queue.Queue()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not verify(secret, body, self.headers.get("Agenwork-Signature", "")):
                self.send_response(401)
                self.end_headers()
                return
            self.send_response(204)
            self.end_headers()
            payload = json.loads(body)
            if payload["id"] == request_id:
                received.put(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        return received.get()
    finally:
        server.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("user")
    parser.add_argument("connector")
    parser.add_argument("tools", nargs="+")
    parser.add_argument("--note", default="")
    parser.add_argument("--agent", default="example-gateway")
    parser.add_argument("--stepped-up", action="store_true", help="the user just re-authenticated")
    parser.add_argument("--webhook-port", type=int, help="wait for the webhook, not by polling")
    args = parser.parse_args()
    if not KEY:
        raise SystemExit("set AGENWORK_KEY (manage.py create_api_key NAME prints one)")

    body = {
        "user": args.user,
        "connector": args.connector,
        "tools": args.tools,
        "note": args.note,
        "agent": args.agent,
    }
    if args.stepped_up:
        body["step_up"] = {"authenticated_at": datetime.now(UTC).isoformat()}
    status, answer = call("POST", "/decisions", body)
    if status != 200:
        print(f"agenwork refused the call: {status} {answer['error']}")
        return 2
    print(f"decision: {answer['decision']} ({answer['reason_code']}) — {answer['reason']}")

    if answer["decision"] == "allow":
        print("→ run the tool call")
        return 0
    if answer["decision"] == "deny":
        print("→ tell the agent it may not do this")
        return 1
    if answer["decision"] == "step_up":
        print("→ ask the user to re-authenticate, then call again with --stepped-up")
        return 1

    request = answer["request"]
    print(f"→ paused; an approver reviews it at {request['review_url']}")
    if args.webhook_port:
        secret = os.environ.get("AGENWORK_WEBHOOK_SECRET", "")
        outcome = wait_by_webhook(request["id"], args.webhook_port, secret)
    else:
        outcome = wait_by_polling(request["id"])
    print(f"outcome: {outcome['status']} by {outcome['decided_by']} via {outcome['decided_via']}")
    if outcome["status"] not in {"approved", "auto_approved"}:
        comment = f": {outcome['comment']}" if outcome["comment"] else ""
        print(f"→ tell the agent it was not approved{comment}")
        return 1
    approved = [t["tool"] for t in outcome["tools"] if t["status"] == "approved"]
    status, _ = call("POST", f"/requests/{request['id']}/consume")
    if status == 409:
        print("→ this approval was used already; ask again")
        return 1
    until = f" (grant until {outcome['grant_expires_at']})" if outcome["grant_expires_at"] else ""
    print(f"→ run the tool call with {', '.join(approved)}{until}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
