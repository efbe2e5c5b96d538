#!/usr/bin/env python3
"""The local event sources: plays every trigger that `infra/template.yaml` declares (other than the
HTTP API's routes, which `cargo lambda watch` serves itself) against `cargo lambda watch`, as AWS
would.

    triggers.py check [--template T]     every trigger the template declares can be played here?
    triggers.py run --api URL            plays them until stopped (started by `make dev` and `make test`)
    triggers.py fire --api URL [NAME]    plays the schedules once, now (`make fire`), and prints
                                         each function's answer

Played today:
- `Schedule` events with `rate(N minute|minutes|hour|hours|day|days)`: an EventBridge "Scheduled
  Event" on every period boundary of the wall clock, delivered as AWS delivers it: EventBridge
  invokes the function asynchronously, retrying only an event it could not hand over (here: no
  answer from `cargo lambda watch`) under the rule's `RetryPolicy`; a function that fails is
  retried by Lambda under the function's `EventInvokeConfig` (one minute, then two minutes later,
  up to `MaximumRetryAttempts`, while younger than `MaximumEventAgeInSeconds`).
  `fire` plays one delivery, now, without retries, and fails when the function fails.

Anything else that can start a function (a `cron(...)` schedule, DynamoDB Streams, SQS, ...,
or an `AWS::Events::Rule` / `AWS::Lambda::EventSourceMapping` resource of its own) makes
`check`, `run` and `fire` fail, naming it: the template must not gain a trigger that the local
world silently leaves out. Teach this file to play it instead.

Each invocation goes to `cargo lambda watch`'s Lambda Invoke API
(`POST /2015-03-31/functions/<binary>/invocations`), the path `cargo lambda invoke` takes.
"""
import argparse
import datetime
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

from samtranslator.yaml_helper import yaml_parse  # reads CloudFormation's short forms (!Ref, ...)

ACCOUNT, REGION, STACK = "123456789012", "us-east-1", "habit-tracker-local"
DEFAULT_TEMPLATE = "infra/template.yaml"
# Resource types that start functions on their own, outside a function's `Events`.
TRIGGER_RESOURCES = {
    "AWS::Events::Rule", "AWS::Scheduler::Schedule", "AWS::Lambda::EventSourceMapping",
    "AWS::SNS::Subscription", "AWS::S3::Bucket", "AWS::Pipes::Pipe",
}
RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class Trigger:
    """One playable trigger: a schedule of one function."""

    def __init__(self, function, binary, event, period, rule_retry, invoke_config):
        self.name = f"{function}.{event}"
        self.function, self.binary, self.event = function, binary, event
        self.period = period  # seconds
        # EventBridge's retries of an event it could not hand over (its defaults: 185 tries, 24 h).
        self.delivery_retries = rule_retry.get("MaximumRetryAttempts", 185)
        self.delivery_max_age = rule_retry.get("MaximumEventAgeInSeconds", 86400)
        # Lambda's retries of a failed asynchronous invocation (its defaults: 2 retries, 6 h).
        self.function_retries = invoke_config.get("MaximumRetryAttempts", 2)
        self.function_max_age = invoke_config.get("MaximumEventAgeInSeconds", 21600)

    def scheduled_event(self, at):
        """The event EventBridge delivers for the rule's firing at `at` (UTC)."""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-{self.function}{self.event}"],
            "detail": {},
        }


def read_triggers(path):
    """Returns (playable triggers, [why each unplayable trigger cannot be played])."""
    with open(path) as f:
        template = yaml_parse(f.read())
    playable, unplayable = [], []
    for name, res in (template.get("Resources") or {}).items():
        kind = res.get("Type")
        if kind in TRIGGER_RESOURCES:
            unplayable.append(f"{name}: resource type {kind} is not played locally")
            continue
        if kind != "AWS::Serverless::Function":
            continue
        binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        for event, spec in ((res.get("Properties") or {}).get("Events") or {}).items():
            etype, props = spec.get("Type"), spec.get("Properties") or {}
            if etype == "HttpApi":
                continue  # served by `cargo lambda watch`'s router (checked by tests/tests/api/infra.rs)
            where = f"{name}.{event}"
            if etype != "Schedule":
                unplayable.append(f"{where}: event type {etype} is not played locally")
                continue
            if props.get("Enabled") is False or props.get("State") == "DISABLED":
                continue  # a disabled rule fires nowhere
            m = RATE.match(str(props.get("Schedule", "")))
            if not m:
                unplayable.append(f"{where}: schedule {props.get('Schedule')!r} is not a rate(...) this runner plays")
                continue
            n, unit = int(m.group(1)), m.group(2)
            if n < 1 or (n == 1) != (not unit.endswith("s")):
                unplayable.append(f"{where}: {props['Schedule']!r} is not a valid rate (AWS wants `rate(1 minute)`, `rate(5 minutes)`)")
                continue
            if not binary:
                unplayable.append(f"{where}: the function has no Metadata.BuildProperties.Binary")
                continue
            invoke_config = (res.get("Properties") or {}).get("EventInvokeConfig") or {}
            playable.append(Trigger(name, binary, event, n * UNIT_SECONDS[unit.rstrip("s")],
                                    props.get("RetryPolicy") or {}, invoke_config))
    return playable, unplayable


def log(*parts):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S")
    print(f"[triggers {now}]", *parts, flush=True)


def invoke(api, trigger, event):
    """One invocation through `cargo lambda watch`: ("ok" | "failed" | "no answer", the answer as text)."""
    req = urllib.request.Request(f"{api}/2015-03-31/functions/{trigger.binary}/invocations",
                                 data=json.dumps(event).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=900) as r:
            body = r.read().decode(errors="replace")
            failed = r.headers.get("x-amz-function-error") is not None or '"errorType"' in body
            return ("failed" if failed else "ok"), body
    except urllib.error.HTTPError as e:
        return "failed", f"HTTP {e.code}: {e.read().decode(errors='replace')}"
    except OSError as e:
        return "no answer", str(e)


def attempt(api, trigger, event, n):
    t0 = time.monotonic()
    outcome, answer = invoke(api, trigger, event)
    log(f"{trigger.name} -> {trigger.binary} (event {event['id'][:8]}, time {event['time']}, attempt {n}):",
        outcome.upper() if outcome != "ok" else "ok", f"in {int((time.monotonic() - t0) * 1000)} ms:", answer.strip())
    return outcome


def deliver(api, trigger, at):
    """One firing, delivered and retried as AWS would (see the module's documentation)."""
    event = trigger.scheduled_event(at)
    start, n, handed_over, function_tries = time.monotonic(), 0, 0, 0
    while True:
        n += 1
        outcome = attempt(api, trigger, event, n)
        age = time.monotonic() - start
        if outcome == "ok":
            return
        if outcome == "no answer":
            handed_over += 1
            wait = min(2 ** handed_over, 60)
            if handed_over > trigger.delivery_retries or age + wait > trigger.delivery_max_age:
                log(f"{trigger.name}: event {event['id'][:8]} not delivered (in AWS: to the rule's dead-letter queue)")
                return
        else:
            function_tries += 1
            wait = 60 * function_tries  # Lambda retries after one minute, then after two
            if function_tries > trigger.function_retries or age + wait > trigger.function_max_age:
                log(f"{trigger.name}: event {event['id'][:8]} failed every try (in AWS: to the function's dead-letter queue)")
                return
        time.sleep(wait)


def run(api, triggers):
    """Plays every trigger on its period's boundaries of the wall clock, until stopped."""
    for t in triggers:
        log(f"playing {t.name} every {t.period} s against {api} (function {t.binary})")
    due = {t.name: _next_boundary(t.period) for t in triggers}
    while True:
        now = time.time()
        for t in triggers:
            if now >= due[t.name]:
                at = datetime.datetime.fromtimestamp(due[t.name], datetime.timezone.utc)
                # A run longer than the period overlaps the next one, as in AWS.
                threading.Thread(target=deliver, args=(api, t, at), daemon=True).start()
                due[t.name] = _next_boundary(t.period)
        time.sleep(max(0.05, min(due.values()) - time.time()))


def _next_boundary(period):
    return (int(time.time()) // period + 1) * period


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["check", "run", "fire"])
    p.add_argument("name", nargs="?", help="fire: only this trigger (Function.Event)")
    p.add_argument("--template", default=DEFAULT_TEMPLATE)
    p.add_argument("--api", default="http://127.0.0.1:9000", help="cargo lambda watch's address")
    a = p.parse_args()
    triggers, unplayable = read_triggers(a.template)
    if unplayable:
        for why in unplayable:
            print(f"triggers: not played locally: {why}", file=sys.stderr)
        print(f"triggers: {len(triggers)} playable, {len(unplayable)} not: teach scripts/triggers.py to play them",
              file=sys.stderr)
        sys.exit(1)
    if a.command == "check":
        for t in triggers:
            print(f"triggers: {t.name} plays every {t.period} s into {t.binary}")
        print(f"triggers: {len(triggers)} playable, 0 not")
    elif a.command == "run":
        run(a.api.rstrip("/"), triggers)
    else:
        chosen = [t for t in triggers if a.name in (None, t.name)]
        if not chosen:
            sys.exit(f"triggers: no trigger named {a.name!r} (have: {', '.join(t.name for t in triggers)})")
        now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
        outcomes = [attempt(a.api.rstrip("/"), t, t.scheduled_event(now), 1) for t in chosen]
        sys.exit(0 if all(o == "ok" for o in outcomes) else 1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
