#!/usr/bin/env python3
"""End-to-end webhooks: the running local API (cargo lambda watch + DynamoDB Local) with
scripts/triggers.py playing the table's stream into the deliver function, and a receiver here that
verifies every delivery with the Standard Webhooks reference library (`standardwebhooks`, PyPI).

    webhooks.py BASE_URL

A user subscribes a receiver, records an entry (its `entry.recorded` event reaches the receiver
through the outbox, the stream and the deliver function), asks for a test delivery, and reads the
webhook's deliveries; a second receiver that fails three times is retried by the schedule (the
deliver function every minute) only if the run is long enough, so it is not waited for here."""
import datetime
import http.server
import json
import sys
import threading
import time
import urllib.error
import urllib.request

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

BASE = sys.argv[1]
passed = failed = 0
received = []  # (path, headers, body, verified payload or the verification error)
secrets = {}  # path -> secret


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   ", name)
    else:
        failed += 1
        print("FAIL ", name, detail)


def call(method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            verified = Webhook(secrets[self.path]).verify(body, headers)
        except (WebhookVerificationError, KeyError) as e:
            verified = e
        received.append((self.path, headers, body, verified))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
hook_base = f"http://127.0.0.1:{server.server_address[1]}"


def wait_for(pred, seconds):
    end = time.time() + seconds
    while time.time() < end:
        found = [r for r in received if pred(r)]
        if found:
            return found
        time.sleep(0.25)
    return []


name = f"hook{int(time.time() * 1000) % 10**9}"
status, reg = call("POST", "/auth/register",
                   {"username": name, "email": f"{name}@example.com", "password": "correct horse battery"})
check("a user registers", status == 201, reg)
token = reg["access_token"]
status, w = call("POST", "/me/webhooks", {"url": hook_base + "/in", "event_types": ["entry.recorded"]}, token)
check("a webhook is added, its secret shown once", status == 201 and w["secret"].startswith("whsec_"), w)
secrets["/in"] = w["secret"]
hook = w["webhook_id"]

status, t = call("POST", f"/me/webhooks/{hook}/test", None, token)
check("the test delivery reaches the receiver", status == 200 and t["delivered"] is True, t)
tests = [r for r in received if isinstance(r[3], dict) and r[3].get("type") == "webhook.test"]
check("the test delivery's signature verifies (standardwebhooks)", len(tests) == 1, received)

status, h = call("POST", "/habits", {"title": "Stretch", "frequency": {"type": "daily"}}, token)
today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
status, e = call("PUT", f"/habits/{h['habit_id']}/entries/{today}", {"status": "done", "note": "10 min"}, token)
check("an entry is recorded", status == 200, e)
got = wait_for(lambda r: isinstance(r[3], dict) and r[3].get("type") == "entry.recorded", 30)
check("entry.recorded reaches the receiver through the outbox's stream within 30 s", len(got) == 1, received)
if got:
    _, headers, body, payload = got[0]
    check("its signature verifies with the reference library", isinstance(payload, dict), payload)
    check("it carries the entry", payload.get("data", {}).get("date") == today
          and payload["data"].get("note") == "10 min" and payload["data"].get("habit_id") == h["habit_id"], payload)
    status, listed = call("GET", f"/me/webhooks/{hook}/deliveries", None, token)
    first = (listed or {}).get("items", [{}])[0]
    check("the webhook's deliveries show it delivered, one attempt, with the same id",
          status == 200 and first.get("status") == "delivered" and len(first.get("attempts", [])) == 1
          and first.get("event_id") == headers.get("webhook-id"), listed)
bad = [r for r in received if not isinstance(r[3], dict)]
check("every delivery verified", not bad, bad)
server.shutdown()
print(f"webhooks e2e: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
