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
  A rule with an `Input` delivers that JSON instead of the event, as EventBridge does (the
  dispatcher's eight schedules, one per dispatch group). `fire` plays one delivery of each, now,
  without retries, and fails when the function fails.

- `DynamoDB` stream events: the table's stream on DynamoDB Local (which keeps one as DynamoDB
  does), polled about twice a second from `StartingPosition`; its records pass the event's
  `FilterCriteria` (exact values and `prefix` matches, as Lambda's filters take them), are
  batched by `BatchSize` and handed to the function in Lambda's DynamoDB event shape. A failed
  batch is retried `MaximumRetryAttempts` times, halved when `BisectBatchOnFunctionError`, then
  logged as sent to its `OnFailure` destination. Needs `--dynamodb` and `--table` (or
  `DYNAMODB_ENDPOINT` and `TABLE_NAME`).

Anything else that can start a function (a `cron(...)` schedule, SQS, ...,
or an `AWS::Events::Rule` / `AWS::Lambda::EventSourceMapping` resource of its own) makes
`check`, `run` and `fire` fail, naming it: the template must not gain a trigger that the local
world silently leaves out. Teach this file to play it instead.

Each invocation goes to `cargo lambda watch`'s Lambda Invoke API
(`POST /2015-03-31/functions/<binary>/invocations`), the path `cargo lambda invoke` takes.
"""
import argparse
import datetime
import json
import os
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

    def __init__(self, function, binary, event, period, rule_retry, invoke_config, constant_input=None):
        self.name = f"{function}.{event}"
        # The rule's `Input`: EventBridge then hands over exactly that JSON instead of the event.
        self.constant_input = json.loads(constant_input) if constant_input is not None else None
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
        if self.constant_input is not None:
            return self.constant_input
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


class StreamTrigger:
    """One playable trigger: a function's DynamoDB stream event source."""

    def __init__(self, function, binary, event, props):
        self.name = f"{function}.{event}"
        self.function, self.binary, self.event = function, binary, event
        self.batch_size = int(props.get("BatchSize", 100))
        self.window = float(props.get("MaximumBatchingWindowInSeconds", 0))
        self.retries = int(props.get("MaximumRetryAttempts", -1))
        self.bisect = bool(props.get("BisectBatchOnFunctionError", False))
        self.starting = props.get("StartingPosition", "LATEST")
        filters = ((props.get("FilterCriteria") or {}).get("Filters")) or []
        self.patterns = [json.loads(f["Pattern"]) for f in filters]

    def passes(self, record):
        return not self.patterns or any(matches(p, record) for p in self.patterns)


def matches(pattern, value):
    """Lambda's event filter: every key of the pattern present and matching; a list of literals
    and `{"prefix": ...}` matchers matches a scalar equal to a literal or starting with a prefix."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(v, value[k]) for k, v in pattern.items())
    if isinstance(pattern, list):
        for p in pattern:
            if isinstance(p, dict) and "prefix" in p:
                if isinstance(value, str) and value.startswith(p["prefix"]):
                    return True
            elif isinstance(p, dict):
                raise ValueError(f"a filter matcher this runner does not play: {p}")
            elif p == value:
                return True
        return False
    raise ValueError(f"a filter pattern this runner does not read: {pattern!r}")


def validate(pattern):
    """Raises ValueError for any part of a filter pattern `matches` cannot evaluate."""
    if isinstance(pattern, dict):
        for v in pattern.values():
            validate(v)
    elif isinstance(pattern, list):
        for p in pattern:
            if isinstance(p, dict) and set(p) != {"prefix"}:
                raise ValueError(f"a filter matcher this runner does not play: {p}")
    else:
        raise ValueError(f"a filter pattern this runner does not read: {pattern!r}")


def lambda_record(r, arn):
    """A stream record (boto3's shape) in the shape Lambda hands to the function."""
    d = dict(r["dynamodb"])
    created = d.get("ApproximateCreationDateTime")
    if isinstance(created, datetime.datetime):
        d["ApproximateCreationDateTime"] = created.timestamp()
    return {"eventID": r["eventID"], "eventName": r["eventName"], "eventVersion": r.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb", "awsRegion": REGION, "dynamodb": d, "eventSourceARN": arn}


def play_stream(api, t, endpoint, table):
    """Polls the table's stream and hands each batch to the function, as Lambda's poller does."""
    import boto3
    opts = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local")
    arn = boto3.client("dynamodb", **opts).describe_table(TableName=table)["Table"].get("LatestStreamArn")
    if not arn:
        log(f"{t.name}: table {table} has no stream; nothing to play")
        return
    streams = boto3.client("dynamodbstreams", **opts)
    iterators, seen, first = {}, set(), True
    log(f"playing {t.name} from {arn} into {t.binary} (batches of {t.batch_size}, {len(t.patterns)} filter(s))")
    while True:
        try:
            first = poll(api, t, streams, arn, iterators, seen, first)
        except Exception as e:  # noqa: BLE001 - a poller keeps polling, as Lambda's does
            log(f"{t.name}: reading the stream failed ({e}); trying again")
            iterators.clear()
            seen.clear()
            time.sleep(2)
        time.sleep(max(0.5, t.window))


def poll(api, t, streams, arn, iterators, seen, first):
    """One round: new shards found, every shard read once, its records handed over in batches.
    Returns False (shards found later are read from their start)."""
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        sid = shard["ShardId"]
        if sid not in seen:
            seen.add(sid)
            kind = t.starting if first else "TRIM_HORIZON"  # a shard born later is read from its start
            iterators[sid] = streams.get_shard_iterator(StreamArn=arn, ShardId=sid, ShardIteratorType=kind)["ShardIterator"]
    first = False
    records = []
    for sid, it in list(iterators.items()):
        if it is None:
            continue
        out = streams.get_records(ShardIterator=it, Limit=1000)
        iterators[sid] = out.get("NextShardIterator")
        records += [lambda_record(r, arn) for r in out.get("Records", []) if t.passes(r)]
    for i in range(0, len(records), t.batch_size):
        hand_over(api, t, records[i:i + t.batch_size], 0)
    return False


def hand_over(api, t, batch, tries):
    t0 = time.monotonic()
    outcome, answer = invoke(api, t, {"Records": batch})
    log(f"{t.name} -> {t.binary} ({len(batch)} records, attempt {tries + 1}):", outcome.upper() if outcome != "ok" else "ok",
        f"in {int((time.monotonic() - t0) * 1000)} ms:", answer.strip())
    if outcome == "ok":
        return
    if t.retries >= 0 and tries >= t.retries:
        log(f"{t.name}: {len(batch)} records failed every try (in AWS: to the OnFailure destination)")
        return
    time.sleep(1)
    if t.bisect and len(batch) > 1:
        half = len(batch) // 2
        hand_over(api, t, batch[:half], tries + 1)
        hand_over(api, t, batch[half:], tries + 1)
    else:
        hand_over(api, t, batch, tries + 1)


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
            if etype == "DynamoDB":
                if not binary:
                    unplayable.append(f"{where}: the function has no Metadata.BuildProperties.Binary")
                elif props.get("Enabled") is not False:
                    try:
                        stream = StreamTrigger(name, binary, event, props)
                        for p in stream.patterns:
                            validate(p)  # refuses a matcher this runner cannot play, now
                        playable.append(stream)
                    except (ValueError, KeyError) as e:
                        unplayable.append(f"{where}: {e}")
                continue
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
            try:
                trigger = Trigger(name, binary, event, n * UNIT_SECONDS[unit.rstrip("s")],
                                  props.get("RetryPolicy") or {}, invoke_config, props.get("Input"))
            except ValueError as e:
                unplayable.append(f"{where}: Input is not JSON: {e}")
                continue
            playable.append(trigger)
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


def describe(event):
    """How the log names an event: a scheduled event by its id and time, a rule's constant
    `Input` by its content."""
    if "id" in event and "time" in event:
        return f"event {event['id'][:8]}, time {event['time']}"
    return f"input {json.dumps(event, separators=(',', ':'))}"


def attempt(api, trigger, event, n):
    t0 = time.monotonic()
    outcome, answer = invoke(api, trigger, event)
    log(f"{trigger.name} -> {trigger.binary} ({describe(event)}, attempt {n}):",
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
                log(f"{trigger.name}: {describe(event)} not delivered (in AWS: to the rule's dead-letter queue)")
                return
        else:
            function_tries += 1
            wait = 60 * function_tries  # Lambda retries after one minute, then after two
            if function_tries > trigger.function_retries or age + wait > trigger.function_max_age:
                log(f"{trigger.name}: {describe(event)} failed every try (in AWS: to the function's dead-letter queue)")
                return
        time.sleep(wait)


def run(api, triggers, endpoint, table):
    """Plays every trigger: schedules on their period's boundaries of the wall clock, streams as
    they are written, until stopped."""
    for t in [t for t in triggers if isinstance(t, StreamTrigger)]:
        threading.Thread(target=play_stream, args=(api, t, endpoint, table), daemon=True).start()
    triggers = [t for t in triggers if not isinstance(t, StreamTrigger)]
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
    p.add_argument("--dynamodb", default=os.environ.get("DYNAMODB_ENDPOINT"), help="DynamoDB Local (for streams)")
    p.add_argument("--table", default=os.environ.get("TABLE_NAME"), help="the table (for streams)")
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
            if isinstance(t, StreamTrigger):
                print(f"triggers: {t.name} plays the table's stream into {t.binary}")
            else:
                print(f"triggers: {t.name} plays every {t.period} s into {t.binary}")
        print(f"triggers: {len(triggers)} playable, 0 not")
    elif a.command == "run":
        if any(isinstance(t, StreamTrigger) for t in triggers) and not (a.dynamodb and a.table):
            sys.exit("triggers: a stream trigger needs --dynamodb and --table (or DYNAMODB_ENDPOINT and TABLE_NAME)")
        run(a.api.rstrip("/"), triggers, a.dynamodb, a.table)
    else:
        chosen = [t for t in triggers if a.name in (None, t.name) and not isinstance(t, StreamTrigger)]
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
