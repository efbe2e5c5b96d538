#!/usr/bin/env python3
"""`make bench`: measures every function against the Lambda limits, on this machine.

1. Cold start: for each release binary, the time from exec to its first request for work
   (`GET /runtime/invocation/next`) on a small fake Lambda Runtime API, median of RUNS runs, beside a
   hello-world lambda_http binary built the same way, and the ratio.
2. Warm requests: a mixed workload (login, list habits, record an entry, stats, list
   notifications) sent through the Lambda runtime path (fake runtime API -> function process ->
   DynamoDB Local), many users, REQUESTS requests: throughput, p50/p99 latency, CPU time per request
   of the function processes (from /proc/<pid>/task/*/schedstat, nanoseconds) and their peak RSS.
3. Binary sizes of the release binaries.

Writes docs/BENCHMARKS.md and prints the same tables. Needs DYNAMODB_ENDPOINT (DynamoDB Local) and
the release binaries in target/release (scripts/bench.sh builds and starts both).
"""
import http.server
import json
import socket
import os
import platform
import queue
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BENCH_BIN") or os.path.join(ROOT, "target", "release")
FUNCTIONS = ["auth", "users", "habits", "categories", "reminders", "challenges", "dispatcher", "deliver"]
RUNS = int(os.environ.get("RUNS", "20"))
REQUESTS = int(os.environ.get("REQUESTS", "10000"))
ENDPOINT = os.environ["DYNAMODB_ENDPOINT"]
SECRET = "bench-secret-bench-secret-bench-secret-00"


class Runtime:
    """A fake Lambda Runtime API for one function process: hands out queued events, collects
    responses, and notes when the process first asks for work."""

    def __init__(self):
        self.events = queue.Queue()
        self.pending = {}
        self.first_next = threading.Event()
        self.first_next_at = None
        runtime = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without TCP_NODELAY, Nagle's algorithm
            # holds the second until the client's delayed ACK (40 ms), which the previous figures
            # measured instead of the functions.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404)
                    return
                if not runtime.first_next.is_set():
                    runtime.first_next_at = time.perf_counter()
                    runtime.first_next.set()
                request_id, payload, done = runtime.events.get()
                runtime.pending[request_id] = done
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:bench")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                parts = self.path.split("/")
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if "invocation" in parts:
                    request_id = parts[parts.index("invocation") + 1]
                    done = runtime.pending.pop(request_id, None)
                    if done is not None:
                        done.put(json.loads(data) if data else None)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def invoke(self, payload):
        done = queue.Queue()
        self.events.put((str(uuid.uuid4()), payload, done))
        return done.get(timeout=60)


def env_for(runtime, table, extra=None):
    # What Lambda gives a function, not this shell's environment: a developer's shell may export
    # SSL_CERT_DIR (this machine's does), which makes the TLS set-up parse every file there.
    env = {k: os.environ[k] for k in ("PATH", "LANG", "TZ") if k in os.environ}
    env.update(extra or {})
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime.port}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "TABLE_NAME": table, "JWT_SECRET": SECRET, "DYNAMODB_ENDPOINT": ENDPOINT, "LOG_LEVEL": "warn",
        # Web Push and e-mail settings (reminders, auth, users); no mail is sent by the benchmark.
        "VAPID_SECRET": "the-benchmark's-vapid-secret-0123456789", "VAPID_SUBJECT": "mailto:bench@example.com",
        "SES_FROM_ADDRESS": "no-reply@example.com", "APP_URL": "https://app.example.com",
        "SES_ENDPOINT": "http://127.0.0.1:9",
    })
    return env


def start_once(binary, extra=None):
    """Milliseconds from exec to the binary's first `GET /next`."""
    rt = Runtime()
    start = time.perf_counter()
    proc = subprocess.Popen([os.path.join(BIN, binary)], env=env_for(rt, "cold", extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = rt.first_next.wait(10)
    proc.kill()
    proc.wait()
    # The handler thread stays parked on the dead process's `/next`; stop serving without waiting.
    threading.Thread(target=rt.server.shutdown, daemon=True).start()
    if not ok:
        raise SystemExit(f"{binary} never asked for work")
    return (rt.first_next_at - start) * 1000


def cold_starts(cases):
    """The median start of each `(label, binary, extra environment)`, measured in RUNS rounds that
    start every case once in turn, so that the machine's drift during the measurement falls on
    all of them alike and the ratios compare like with like."""
    times = {label: [] for label, _, _ in cases}
    for _ in range(RUNS):
        for label, binary, extra in cases:
            times[label].append(start_once(binary, extra))
    return {label: statistics.median(t) for label, t in times.items()}


def cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def process_cpu_us(pid):
    """utime + stime of the whole process, exited threads included (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e6 / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def event(method, path, route, token=None, body=None, params=None, query="", source="127.0.0.1"):
    headers = {"content-type": "application/json", "host": "bench.local"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    e = {
        "version": "2.0", "routeKey": f"{method} {route}", "rawPath": path, "rawQueryString": query,
        "headers": headers,
        "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "bench.local",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source, "userAgent": "bench"},
                           "requestId": str(uuid.uuid4()), "routeKey": f"{method} {route}", "stage": "$default",
                           "time": "24/Nov/2026:08:00:00 +0000", "timeEpoch": 1795507200000},
        "isBase64Encoded": False,
    }
    if params:
        e["pathParameters"] = params
    if body is not None:
        e["body"] = json.dumps(body)
    return e


def status_of(resp):
    return resp.get("statusCode") if isinstance(resp, dict) else None


def body_of(resp):
    return json.loads(resp.get("body") or "null")


def create_table(table):
    subprocess.run([os.path.join(BIN, "habit-admin"), "create-table"],
                   env={**os.environ, "TABLE_NAME": table, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": "us-east-1"},
                   check=True, stdout=subprocess.DEVNULL)


def p50_p99(values):
    """The median and the 99th percentile (nearest rank) of latencies, as every table here gives them."""
    values = sorted(values)
    return statistics.median(values), values[int(len(values) * 0.99) - 1]


def warm(table):
    create_table(table)
    procs, rts = {}, {}
    for name in ["auth", "habits", "reminders"]:
        rts[name] = Runtime()
        procs[name] = subprocess.Popen([os.path.join(BIN, name)], env=env_for(rts[name], table), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    users = 50
    today = datetime.now(timezone.utc).date()
    tokens, habits = [], []
    for i in range(users):
        r = rts["auth"].invoke(event("POST", "/auth/register", "/auth/register", body={"username": f"bench{i}", "email": f"bench{i}@example.com", "password": "correct horse battery"}))
        assert status_of(r) == 201, r
        tok = body_of(r)["access_token"]
        h = rts["habits"].invoke(event("POST", "/habits", "/habits", tok, {"title": "Read", "frequency": {"type": "daily"}, "start_date": (today - timedelta(days=60)).isoformat()}))
        assert status_of(h) == 201, h
        tokens.append(tok)
        habits.append(body_of(h)["habit_id"])
    before = {n: process_cpu_us(p.pid) for n, p in procs.items()}
    latencies = {n: [] for n in procs}
    cpu_per = {n: [] for n in procs}
    counts = {n: 0 for n in procs}
    lock = threading.Lock()
    mix = ["habits.list", "habits.entry", "habits.stats", "reminders.notifications", "habits.list", "habits.entry", "habits.stats", "reminders.notifications", "habits.entry", "auth.login"]

    def worker(function, kinds, n):
        for k in range(n):
            i = k % users
            kind = kinds[k % len(kinds)]
            if kind == "habits.list":
                e = event("GET", "/habits", "/habits", tokens[i])
            elif kind == "habits.entry":
                day = (today - timedelta(days=k % 60)).isoformat()
                e = event("PUT", f"/habits/{habits[i]}/entries/{day}", "/habits/{id}/entries/{date}", tokens[i], {"status": "done"}, {"id": habits[i], "date": day})
            elif kind == "habits.stats":
                e = event("GET", f"/habits/{habits[i]}/stats", "/habits/{id}/stats", tokens[i], params={"id": habits[i]})
            elif kind == "reminders.notifications":
                e = event("GET", "/me/notifications", "/me/notifications", tokens[i])
            else:
                # Each user from an address of their own, as people sign in: one address would
                # meet the per-source budget of password checks (100 in 5 minutes) and get 429s.
                e = event("POST", "/auth/login", "/auth/login", body={"username": f"bench{i}", "password": "correct horse battery"},
                          source=f"192.0.2.{i + 1}")
            pid = procs[function].pid
            c0 = cpu_ns(pid)
            t0 = time.perf_counter()
            r = rts[function].invoke(e)
            dt = time.perf_counter() - t0
            c1 = cpu_ns(pid)
            assert status_of(r) in (200, 201), (kind, r)
            with lock:
                latencies[function].append(dt * 1000)
                cpu_per[function].append((c1 - c0) / 1000)
                counts[function] += 1

    share = {f: sum(1 for m in mix if m.startswith(f)) / len(mix) for f in procs}
    plan = {f: int(REQUESTS * share[f]) for f in procs}
    kinds = {f: [m for m in mix if m.startswith(f)] for f in procs}
    failures = []

    def guarded(*args):
        try:
            worker(*args)
        except BaseException as e:  # an unexpected answer ends the run, not one thread silently
            failures.append(e)

    threads = [threading.Thread(target=guarded, args=(f, kinds[f], plan[f])) for f in procs if plan[f]]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"warm workload: {failures[0]!r}")
    elapsed = time.perf_counter() - t0
    rows = []
    for f in procs:
        if not counts[f]:
            continue
        cpu = sorted(cpu_per[f])
        rows.append((f, counts[f], *p50_p99(latencies[f]), statistics.median(cpu),
                     (process_cpu_us(procs[f].pid) - before[f]) / counts[f], peak_rss_mb(procs[f].pid)))
    for p in procs.values():
        p.kill()
        p.wait()
    total = sum(counts.values())
    return rows, total, elapsed


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


READ_ROUTES = [
    ("GET /habits", lambda tok, habit: event("GET", "/habits", "/habits", tok)),
    ("GET /habits/{id}/stats", lambda tok, habit: event("GET", f"/habits/{habit}/stats", "/habits/{id}/stats", tok, params={"id": habit})),
    ("GET /me/today", lambda tok, habit: event("GET", "/me/today", "/me/today", tok)),
]


def reads_in_region(table, latency="4-6", users=10, days=20, per_route=REQUESTS // 20):
    """p50/p99 of the signed-in reads with an in-region DynamoDB latency: DynamoDB Local answers on
    loopback in well under a millisecond, so the fault proxy (`--latency`) gives every call the
    4-6 ms of a call inside an AWS region, and the figure counts round trips as the cloud does."""
    port = free_port()
    proxy = subprocess.Popen([os.path.join(BIN, "fault-proxy"), "--upstream", ENDPOINT, "--port", str(port), "--latency", latency],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    create_table(table)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                raise SystemExit("fault-proxy did not start")
            time.sleep(0.05)
    extra = {"DYNAMODB_ENDPOINT": f"http://127.0.0.1:{port}"}
    procs, rts = {}, {}
    try:
        for name in ["auth", "habits"]:
            rts[name] = Runtime()
            procs[name] = subprocess.Popen([os.path.join(BIN, name)], env={**env_for(rts[name], table), **extra},
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        today = datetime.now(timezone.utc).date()
        callers = []
        for i in range(users):
            r = rts["auth"].invoke(event("POST", "/auth/register", "/auth/register", body={"username": f"reader{i}", "email": f"reader{i}@example.com", "password": "correct horse battery"}))
            assert status_of(r) == 201, r
            tok = body_of(r)["access_token"]
            h = rts["habits"].invoke(event("POST", "/habits", "/habits", tok, {"title": "Read", "frequency": {"type": "daily"}, "start_date": (today - timedelta(days=days)).isoformat()}))
            assert status_of(h) == 201, h
            habit = body_of(h)["habit_id"]
            for d in range(days):
                day = (today - timedelta(days=d)).isoformat()
                e = rts["habits"].invoke(event("PUT", f"/habits/{habit}/entries/{day}", "/habits/{id}/entries/{date}", tok, {"status": "done"}, {"id": habit, "date": day}))
                assert status_of(e) in (200, 201), e
            callers.append((tok, habit))
        rows = []
        for label, make in READ_ROUTES:
            times = []
            for k in range(per_route):
                tok, habit = callers[k % users]
                t0 = time.perf_counter()
                r = rts["habits"].invoke(make(tok, habit))
                times.append((time.perf_counter() - t0) * 1000)
                assert status_of(r) == 200, (label, r)
            rows.append((label, per_route, *p50_p99(times)))
        return rows
    finally:
        for p in list(procs.values()) + [proxy]:
            p.kill()
            p.wait()


def reads_table(rows, latency="4-6"):
    out = [f"\n## Signed-in reads with an in-region DynamoDB latency ({latency} ms per call, `fault-proxy --latency`)\n\n"
           "Sequential requests to `habits` through the runtime API, 10 users with 20 tracked days each.\n\n"
           "| route | requests | p50 ms | p99 ms |\n|---|---|---|---|"]
    for label, n, p50, p99 in rows:
        out.append(f"| {label} | {n} | {p50:.2f} | {p99:.2f} |")
    return out


def cold_start_table():
    print("cold start ...", file=sys.stderr)
    # Where a function's start goes beyond hello-world's: the TLS trust store the AWS SDK parses
    # at client creation (`validate_base_client_config`). The functions trust roots compiled in
    # (`TLS_ROOTS=compiled`); `TLS_ROOTS=platform` gives them the platform's store instead.
    empty = os.path.join(ROOT, "target", "empty-trust-store.pem")
    open(empty, "w").close()
    platform_bundle = "/etc/ssl/certs/ca-certificates.crt"
    trust = [
        ("compiled-in roots (the default)", {}),
        ("TLS_ROOTS=platform, as Lambda starts it (probe: this machine's bundle and its 290-file directory)", {"TLS_ROOTS": "platform"}),
        ("TLS_ROOTS=platform, one bundle file (SSL_CERT_FILE)", {"TLS_ROOTS": "platform", "SSL_CERT_FILE": platform_bundle}),
        ("TLS_ROOTS=platform, no roots at all (SSL_CERT_FILE empty: the floor without TLS set-up)", {"TLS_ROOTS": "platform", "SSL_CERT_FILE": empty}),
    ]
    trust = [(label, extra) for label, extra in trust if os.path.exists(extra.get("SSL_CERT_FILE", empty))]
    ms = cold_starts([(b, b, None) for b in ["hello-lambda"] + FUNCTIONS] + [(label, "auth", extra) for label, extra in trust])
    hello = ms["hello-lambda"]
    out = [f"## Cold start (exec to first `GET /next`, median of {RUNS}, the binaries started in turn)\n\n| binary | ms | × hello-world |\n|---|---|---|",
           f"| hello-lambda (baseline) | {hello:.2f} | 1.00 |"]
    out += [f"| {f} | {ms[f]:.2f} | {ms[f] / hello:.2f} |" for f in FUNCTIONS]
    out.append(f"\n### Where `auth`'s start goes (median of {RUNS})\n\n| trust store | ms | × hello-world |\n|---|---|---|")
    out += [f"| {label} | {ms[label]:.2f} | {ms[label] / hello:.2f} |" for label, _ in trust]
    return out


def main():
    machine = f"{platform.machine()}, {os.cpu_count()} cores, " + next(
        (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    out = [f"# Benchmarks\n\nMachine: {machine}, Linux {platform.release()}. Written by `make bench` on "
           f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; ratios compare figures of the same run.\n"]
    out += cold_start_table()
    print("warm workload ...", file=sys.stderr)
    rows, total, elapsed = warm(f"bench-{uuid.uuid4().hex[:8]}")
    out.append(f"\n## Warm requests through the runtime API ({total} requests, 50 users, DynamoDB Local)\n\n"
               f"Throughput: {total / elapsed:.0f} requests/s over {elapsed:.1f} s (one process per function, each "
               "handling one request at a time, as Lambda does).\n\n"
               "| function | requests | p50 ms | p99 ms | CPU µs/request (median, live threads) | CPU µs/request (mean, whole process) | peak RSS MB |\n|---|---|---|---|---|---|---|")
    for f, n, p50, p99, cpu_med, cpu_mean, rss in rows:
        note = " (includes argon2id hashing)" if f == "auth" else ""
        out.append(f"| {f}{note} | {n} | {p50:.2f} | {p99:.2f} | {cpu_med:.0f} | {cpu_mean:.0f} | {rss:.1f} |")
    print("reads with an in-region latency ...", file=sys.stderr)
    out += reads_table(reads_in_region(f"bench-reads-{uuid.uuid4().hex[:8]}"))
    out.append("\n## Release binary sizes (x86-64, `cargo build --release`: LTO, 1 codegen unit, panic=abort, stripped)\n\n| binary | MB |\n|---|---|")
    for f in ["hello-lambda"] + FUNCTIONS:
        out.append(f"| {f} | {os.path.getsize(os.path.join(BIN, f)) / 1e6:.2f} |")
    text = "\n".join(out) + "\n"
    print(text)
    return text


if __name__ == "__main__":
    if os.environ.get("BENCH_ONLY") == "reads":
        print("\n".join(reads_table(reads_in_region(f"bench-reads-{uuid.uuid4().hex[:8]}"))))
        sys.exit(0)
    if os.environ.get("BENCH_ONLY") == "cold":
        print("\n".join(cold_start_table()))
        sys.exit(0)
    text = main()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(text)
