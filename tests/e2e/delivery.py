#!/usr/bin/env python3
"""End-to-end delivery: the running local API (cargo lambda watch + DynamoDB Local) with
scripts/triggers.py playing the schedules and the table's stream into the functions, and two
stand-ins here, each checking what it gets with a reference implementation:

- a webhook receiver verifying every request with the Standard Webhooks reference library
  (`standardwebhooks`, PyPI);
- a push service decrypting every message with the subscription's private key (`http_ece`, PyPI,
  RFC 8291) and verifying its VAPID JWT (`cryptography`, RFC 8292);
- and the local SES (`SES_ENDPOINT`, aws-ses-v2-local), whose store holds the e-mails the
  functions sent: the verification and reset links are followed.

    delivery.py BASE_URL TRIGGERS_LOG

A user adds a webhook, asks for a test delivery, records an entry (`entry.recorded` reaches the
receiver through the outbox, the stream and the deliver function: the triggers' log shows the
stream's invocation delivering it), subscribes a browser, and sets a reminder due at the start
of the next minute: when the dispatcher's schedule fires it, the browser gets the reminder
(decrypted: exactly the reminder) and the webhook `reminder.fired`, both named by the
notification's id."""
import base64
import datetime
import http.server
import json
import os
import sys
import threading
import time
import urllib.request

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from e2e_client import Api, Checks
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

BASE, TRIGGERS_LOG = sys.argv[1], sys.argv[2]
SES = os.environ["SES_ENDPOINT"]
received = []  # (path, headers, body, verified payload or the verification error)
secrets = {}  # path -> secret
pushed = []  # (headers, decrypted payload or the error)
BROWSER = ec.generate_private_key(ec.SECP256R1())  # the subscribed browser's key pair
BROWSER_AUTH = os.urandom(16)


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_checked(authorization, origin, public_key):
    """The VAPID JWT of `Authorization: vapid t=..., k=...`: signed (ES256) by `k`, which is the
    API's public key, for this push service's origin, not expired, with a contact."""
    t, k = authorization.removeprefix("vapid t=").split(", k=")
    if k != public_key:
        raise ValueError(f"k={k} is not the API's public key")
    head, claims, sig = t.split(".")
    raw = unb64u(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(k))
    key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    c = json.loads(unb64u(claims))
    if c["aud"] != origin or not (time.time() < c["exp"] <= time.time() + 86400) or not c["sub"].startswith("mailto:"):
        raise ValueError(f"claims {c}")
    return c


api, checks = Api(BASE), Checks()
check = checks.check


def call(method, path, body=None, token=None):
    status, _, answer = api.call(method, path, body, token)
    return status, answer


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path.startswith("/push/"):
            try:
                vapid_checked(headers.get("authorization", ""), hook_base, PUBLIC_KEY)
                plain = http_ece.decrypt(body, private_key=BROWSER, auth_secret=BROWSER_AUTH, version="aes128gcm")
                pushed.append((headers, json.loads(plain)))
            except Exception as e:  # noqa: BLE001 - any failure is what the check reports
                pushed.append((headers, e))
            self.send_response(201)
            self.end_headers()
            return
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


status, pk = call("GET", "/push/public-key")
check("the VAPID public key is served without credentials", status == 200 and len(unb64u(pk["public_key"])) == 65, pk)
PUBLIC_KEY = pk["public_key"]

name = f"hook{int(time.time() * 1000) % 10**9}"
status, reg = call("POST", "/auth/register",
                   {"username": name, "email": f"{name}@example.com", "password": "correct horse battery"})
check("a user registers", status == 201, reg)
token = reg["access_token"]


def mail_to(address):
    with urllib.request.urlopen(SES + "/store", timeout=30) as r:
        return [m for m in json.loads(r.read())["emails"] if address in m["destination"]["to"]]


def link_token(address, page):
    for m in reversed(mail_to(address)):
        text = m["body"].get("text") or ""
        if f"/{page}?token=" in text:
            return text.split(f"/{page}?token=", 1)[1].split()[0]
    return None


address = f"{name}@example.com"
mails = mail_to(address)
check("registration e-mailed a verification link to the address (SES)",
      len(mails) == 1 and mails[0]["subject"] == "Confirm your e-mail address", mails)
token_v = link_token(address, "verify-email")
status, _ = call("POST", "/auth/verify-email", {"token": token_v})
status_me, me = call("GET", "/me", None, token)
check("following it verifies the address", status == 204 and me.get("email_verified") is True, (status, me))
status, accepted = call("POST", "/auth/password-reset", {"email": address})
check("a password reset is accepted", status == 202, accepted)
token_r = link_token(address, "reset-password")
status, _ = call("POST", "/auth/password-reset/confirm", {"token": token_r, "new_password": "a fresh horse battery staple"})
status_old, _ = call("GET", "/me", None, token)
status_login, login = call("POST", "/auth/login", {"username": name, "password": "a fresh horse battery staple"})
check("the reset link sets a new password and ends every session",
      status == 204 and status_old == 401 and status_login == 200, (status, status_old, status_login))
token = login["access_token"]
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
got = wait_for(lambda r: r[0] == "/in" and b"entry.recorded" in r[2], 30)
check("entry.recorded reaches the receiver within 30 s", len(got) == 1, received)
with open(TRIGGERS_LOG) as f:
    streamed = [line for line in f if "DeliverFunction.Outbox -> deliver" in line and '"delivered":1' in line]
check("it came through the table's stream (the triggers' log shows the stream's invocation delivering it)",
      bool(streamed))
if got:
    _, headers, body, payload = got[0]
    check("its signature verifies with the reference library", isinstance(payload, dict), payload)
    payload = payload if isinstance(payload, dict) else {}
    check("it carries the entry", payload.get("data", {}).get("date") == today
          and payload["data"].get("note") == "10 min" and payload["data"].get("habit_id") == h["habit_id"], payload)
    status, listed = call("GET", f"/me/webhooks/{hook}/deliveries", None, token)
    first = ((listed or {}).get("items") or [{}])[0]
    check("the webhook's deliveries show it delivered, one attempt, with the same id",
          status == 200 and first.get("status") == "delivered" and len(first.get("attempts", [])) == 1
          and first.get("event_id") == headers.get("webhook-id"), listed)
# A browser subscribes, and a reminder fires at the start of the next minute.
status, _ = call("PATCH", f"/me/webhooks/{hook}", {"event_types": ["entry.recorded", "reminder.fired"]}, token)
check("the webhook takes reminder.fired too", status == 200)
subscription = {"endpoint": hook_base + "/push/browser-1", "expirationTime": None,
                "keys": {"p256dh": b64u(BROWSER.public_key().public_bytes(serialization.Encoding.X962,
                                                                           serialization.PublicFormat.UncompressedPoint)),
                         "auth": b64u(BROWSER_AUTH)}}
status, sub = call("POST", "/me/push-subscriptions", subscription, token)
check("a browser subscribes (its PushSubscription JSON)", status == 201 and sub.get("subscription_id"), sub)
due = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
status, rem = call("POST", "/reminders", {"habit_id": h["habit_id"], "reminder_time": due.strftime("%H:%M"), "time_zone": "UTC",
                                          "repeat_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                          "message": "Stretch for ten minutes"}, token)
check("a reminder due at the start of the next minute", status == 201, rem)
end = time.time() + 150  # the minute, the dispatcher's run, the stream
while time.time() < end and not (pushed and any(b"reminder.fired" in r[2] for r in received)):
    time.sleep(0.5)
check("the browser's push service got one message", len(pushed) == 1, pushed)
if pushed:
    headers, message = pushed[0]
    check("it decrypts with the browser's key (http_ece, aes128gcm) and its VAPID JWT verifies",
          isinstance(message, dict), message)
    message = message if isinstance(message, dict) else {}
    check("the message is exactly the reminder", message.get("type") == "reminder.fired"
          and message.get("data", {}).get("message") == "Stretch for ten minutes"
          and message["data"].get("reminder_id") == rem.get("reminder_id"), message)
    status, notes = call("GET", "/me/notifications", None, token)
    note = (notes or {}).get("items", [{}])[0]
    check("it names the notification the API shows", message.get("data", {}).get("notification_id") == note.get("notification_id"),
          (message, notes))
    fired = [r for r in received if b"reminder.fired" in r[2]]
    check("the webhook got reminder.fired once, named by the same notification id",
          len(fired) == 1 and fired[0][1].get("webhook-id") == note.get("notification_id"), fired)
bad = [r for r in received if not isinstance(r[3], dict)]
check("every webhook delivery verified", not bad, bad)
server.shutdown()
print(f"delivery e2e: {checks.passed} passed, {checks.failed} failed")
sys.exit(1 if checks.failed else 0)
