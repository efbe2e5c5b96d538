#!/usr/bin/env python3
"""Writes the Postman collection (tests/postman/habit-tracker.postman_collection.json) from the
OpenAPI document and a scripted user story.

- "User story": register -> login -> profile -> habit -> subscribe a webhook and a browser ->
  track a week -> see each day and the streak delivered to the webhook -> stats -> reminder ->
  join a challenge -> leaderboard -> logout, every step with Postman tests. `make test` runs it
  with newman against the local API (scripts/contract.sh).
- "API reference": one request per operation of docs/openapi.json, with its parameters and an
  example body, ready to import and try.

    python3 scripts/postman.py          # write the collection
    python3 scripts/postman.py --check  # exit 1 when the committed collection is not current
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs/openapi.json"
OUT = ROOT / "tests/postman/habit-tracker.postman_collection.json"

JSON_HEADER = [{"key": "Content-Type", "value": "application/json"}]


def script(*lines):
    return {"exec": list(lines), "type": "text/javascript"}


def request(name, method, path, body=None, auth=True, tests=(), prerequest=(), token=None):
    """One request item; `path` may hold {{variables}}. Signed in as the collection's
    `{{accessToken}}`, or `token`, unless `auth` is false."""
    item = {
        "name": name,
        "request": {
            "method": method,
            "header": JSON_HEADER if body is not None else [],
            "url": {"raw": "{{baseUrl}}" + path, "host": ["{{baseUrl}}"], "path": [p for p in path.split("/") if p]},
        },
        "event": [],
    }
    if body is not None:
        item["request"]["body"] = {"mode": "raw", "raw": json.dumps(body, indent=2), "options": {"raw": {"language": "json"}}}
    if not auth:
        item["request"]["auth"] = {"type": "noauth"}
    elif token:
        item["request"]["auth"] = {"type": "bearer", "bearer": [{"key": "token", "value": token, "type": "string"}]}
    if prerequest:
        item["event"].append({"listen": "prerequest", "script": script(*prerequest)})
    if tests:
        item["event"].append({"listen": "test", "script": script(*tests)})
    return item


def status(code):
    return f'pm.test("status {code}", () => pm.response.to.have.status({code}));'


def json_body():
    return 'pm.test("JSON body", () => pm.response.to.be.json);'


def problem(code):
    return [
        status(code),
        'pm.test("problem+json", () => pm.expect(pm.response.headers.get("Content-Type")).to.include("application/problem+json"));',
        f'pm.test("problem status is {code}", () => pm.expect(pm.response.json().status).to.eql({code}));',
    ]


# A browser's subscription key (a P-256 point), as `pushManager.subscribe` gives it.
PUSH_P256DH = "BDiu7PSXE6GFZi1d6lbcHNeLEwIucDLKzGfEyMNFLidyPjacwczYubHgURuF7ncy9bQfxtcNje6fVHTeDNwpdkY"


def story():
    """The user story, in order; each step's tests assert what the user relies on."""
    days = [
        request(
            f"Track day {offset} ({'today' if offset == 0 else f'{-offset} days ago'})",
            "PUT",
            f"/habits/{{{{habitId}}}}/entries/{{{{day{-offset}}}}}",
            {"status": "done", "note": "walked"},
            # A 503 (a dependency throttled or unanswering; nothing written) is retried after its
            # Retry-After, as a client does, up to three times.
            prerequest=['if (Number(pm.collectionVariables.get("retries") || 0) > 0) { setTimeout(() => {}, 1000); }'],
            tests=[
                'const retries = Number(pm.collectionVariables.get("retries") || 0);',
                "if (pm.response.code === 503 && retries < 3) {",
                '  pm.collectionVariables.set("retries", retries + 1);',
                "  postman.setNextRequest(pm.info.requestName);",
                "} else {",
                '  pm.collectionVariables.set("retries", 0);',
                "  " + status(200),
                '  pm.test("recorded as done", () => pm.expect(pm.response.json().status).to.eql("done"));',
                "}",
            ],
        )
        for offset in range(-6, 1)
    ]
    return [
        request(
            "Register",
            "POST",
            "/auth/register",
            {"username": "{{username}}", "email": "{{username}}@example.com", "password": "{{password}}"},
            auth=False,
            prerequest=[
                'pm.collectionVariables.set("username", "pm" + Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36));',
                'pm.collectionVariables.set("password", "correct horse battery staple");',
                "for (let i = 0; i <= 6; i++) {",
                "  const d = new Date(Date.now() - i * 86400000);",
                '  pm.collectionVariables.set("day" + i, d.toISOString().slice(0, 10));',
                "}",
            ],
            tests=[
                status(201),
                json_body(),
                'pm.test("a session comes back", () => { const b = pm.response.json(); pm.expect(b.access_token).to.be.a("string"); pm.expect(b.user.role).to.eql("user"); });',
                'pm.test("no password hash is shown", () => pm.expect(pm.response.text()).not.to.include("argon2"));',
            ],
        ),
        request(
            "Register the same username again",
            "POST",
            "/auth/register",
            {"username": "{{username}}", "email": "other-{{username}}@example.com", "password": "{{password}}"},
            auth=False,
            tests=problem(409),
        ),
        request(
            "Log in",
            "POST",
            "/auth/login",
            {"username": "{{username}}", "password": "{{password}}"},
            auth=False,
            tests=[
                status(200),
                'const b = pm.response.json();',
                'pm.collectionVariables.set("accessToken", b.access_token);',
                'pm.collectionVariables.set("refreshToken", b.refresh_token);',
                'pm.collectionVariables.set("userId", b.user.user_id);',
                'pm.test("bearer tokens", () => pm.expect(b.token_type).to.eql("Bearer"));',
            ],
        ),
        request(
            "Log in with a wrong password",
            "POST",
            "/auth/login",
            {"username": "{{username}}", "password": "not the password"},
            auth=False,
            tests=problem(401),
        ),
        request("Without a token", "GET", "/me", auth=False, tests=problem(401)),
        request(
            "Fill in the profile",
            "PATCH",
            "/me/profile",
            {"first_name": "Pat", "bio": "Walking every day", "time_zone": "UTC"},
            tests=[
                status(200),
                'pm.test("profile saved", () => { const b = pm.response.json(); pm.expect(b.first_name).to.eql("Pat"); pm.expect(b.time_zone).to.eql("UTC"); });',
            ],
        ),
        request(
            "A profile with an unknown time zone",
            "PATCH",
            "/me/profile",
            {"time_zone": "Mars/Olympus"},
            tests=problem(400) + ['pm.test("names the field", () => pm.expect(pm.response.json().errors[0].field).to.eql("time_zone"));'],
        ),
        request(
            "Create a habit",
            "POST",
            "/habits",
            {"title": "Walk", "frequency": {"type": "daily"}, "start_date": "{{day6}}"},
            tests=[
                status(201),
                'const b = pm.response.json();',
                'pm.collectionVariables.set("habitId", b.habit_id);',
                'pm.test("owned by me", () => pm.expect(b.user_id).to.eql(pm.collectionVariables.get("userId")));',
                'pm.test("active", () => pm.expect(b.is_active).to.eql(true));',
            ],
        ),
        request(
            "Subscribe a webhook to my entries and streaks",
            "POST",
            "/me/webhooks",
            {"url": "{{webhookUrl}}", "description": "my home automation", "event_types": ["entry.recorded", "streak.milestone"]},
            tests=[
                status(201),
                'const b = pm.response.json();',
                'pm.collectionVariables.set("webhookId", b.webhook_id);',
                'pm.test("its signing secret, shown once", () => pm.expect(b.secret).to.match(/^whsec_/));',
            ],
        ),
        request(
            "Send the webhook a test event",
            "POST",
            "/me/webhooks/{{webhookId}}/test",
            tests=[status(200), 'pm.test("the endpoint took it", () => pm.expect(pm.response.json().delivered).to.eql(true));'],
        ),
        request(
            "Subscribe this browser to reminders (Web Push)",
            "POST",
            "/me/push-subscriptions",
            {"endpoint": "https://push.example.com/send/{{username}}", "expirationTime": None,
             "keys": {"p256dh": PUSH_P256DH, "auth": "tBHItJI5svbpez7KI4CCXg"}},
            tests=[status(201), 'pm.test("subscribed", () => pm.expect(pm.response.json().subscription_id).to.be.a("string"));'],
        ),
        *days,
        request(
            "See the week delivered to the webhook",
            "GET",
            "/me/webhooks/{{webhookId}}/deliveries",
            prerequest=[
                # The deliveries happen in the background (the table's stream, the deliver
                # function): ask again, a second apart, until they are all there (at most 150 s).
                'const tries = Number(pm.collectionVariables.get("deliveryTries") || 0);',
                "if (tries > 0) { setTimeout(() => {}, 1000); }",
            ],
            tests=[
                "const items = pm.response.json().items;",
                'const delivered = t => items.filter(d => d.event_type === t && d.status === "delivered").length;',
                'const tries = Number(pm.collectionVariables.get("deliveryTries") || 0);',
                'if ((delivered("entry.recorded") < 7 || delivered("streak.milestone") < 1) && tries < 150) {',
                '  pm.collectionVariables.set("deliveryTries", tries + 1);',
                "  postman.setNextRequest(pm.info.requestName);",
                "} else {",
                '  pm.collectionVariables.set("deliveryTries", 0);',
                '  pm.test("each day recorded reached the webhook once", () => pm.expect(delivered("entry.recorded")).to.eql(7));',
                '  pm.test("and the week-long streak, once", () => pm.expect(delivered("streak.milestone")).to.eql(1));',
                '  pm.test("one attempt each", () => items.forEach(d => pm.expect(d.attempts.length).to.eql(1)));',
                "}",
            ],
        ),
        request(
            "Track a day before the habit started",
            "PUT",
            "/habits/{{habitId}}/entries/2001-01-01",
            {"status": "done"},
            tests=problem(400),
        ),
        request(
            "Statistics",
            "GET",
            "/habits/{{habitId}}/stats",
            tests=[
                status(200),
                'const b = pm.response.json();',
                'pm.test("a week-long streak", () => { pm.expect(b.current_streak).to.eql(7); pm.expect(b.longest_streak).to.eql(7); pm.expect(b.streak_unit).to.eql("days"); });',
                'pm.test("seven done", () => pm.expect(b.total_done).to.eql(7));',
                'pm.test("a perfect week", () => pm.expect(b.completion_rate_7d).to.eql(1));',
            ],
        ),
        request(
            "Today",
            "GET",
            "/me/today",
            tests=[
                status(200),
                'pm.test("the habit is done today", () => { const i = pm.response.json().items.find(i => i.habit.habit_id === pm.collectionVariables.get("habitId")); pm.expect(i.entry.status).to.eql("done"); });',
            ],
        ),
        request(
            "Set a reminder",
            "POST",
            "/reminders",
            {"habit_id": "{{habitId}}", "reminder_time": "07:30", "repeat_days": ["mon", "wed", "fri"], "time_zone": "Europe/Berlin", "message": "Time to walk"},
            tests=[
                status(201),
                'const b = pm.response.json();',
                'pm.collectionVariables.set("reminderId", b.reminder_id);',
                'pm.test("next firing is in the future", () => pm.expect(Date.parse(b.next_fire_at)).to.be.above(Date.now()));',
            ],
        ),
        request(
            "Admin logs in",
            "POST",
            "/auth/login",
            {"username": "{{adminUsername}}", "password": "{{adminPassword}}"},
            auth=False,
            tests=[status(200), 'pm.collectionVariables.set("adminToken", pm.response.json().access_token);'],
        ),
        request(
            "A user cannot create a challenge",
            "POST",
            "/challenges",
            {"challenge_name": "Walk a week", "start_date": "{{day6}}", "end_date": "{{day0}}", "goal_days": 7},
            tests=problem(403),
        ),
        request(
            "Admin creates a challenge",
            "POST",
            "/challenges",
            {"challenge_name": "Walk a week", "start_date": "{{day6}}", "end_date": "{{day0}}", "goal_days": 7},
            token="{{adminToken}}",
            tests=[status(201), 'pm.collectionVariables.set("challengeId", pm.response.json().challenge_id);'],
        ),
        request(
            "Join the challenge with the habit",
            "POST",
            "/challenges/{{challengeId}}/join",
            {"habit_id": "{{habitId}}"},
            tests=[
                status(201),
                'pm.test("the week already counts", () => pm.expect(pm.response.json().progress).to.eql(7));',
            ],
        ),
        request("Join twice", "POST", "/challenges/{{challengeId}}/join", {"habit_id": "{{habitId}}"}, tests=problem(409)),
        request(
            "Leaderboard",
            "GET",
            "/challenges/{{challengeId}}/leaderboard",
            tests=[
                status(200),
                'const first = pm.response.json().items[0];',
                'pm.test("ranked first", () => { pm.expect(first.rank).to.eql(1); pm.expect(first.username).to.eql(pm.collectionVariables.get("username")); });',
                'pm.test("goal reached", () => pm.expect(first.goal_reached).to.eql(true));',
                'pm.test("public fields only", () => pm.expect(first).to.not.have.property("user_id"));',
            ],
        ),
        request(
            "Log out",
            "POST",
            "/auth/logout",
            {"refresh_token": "{{refreshToken}}"},
            auth=False,
            tests=[status(204)],
        ),
        request(
            "The refresh token is spent after logout",
            "POST",
            "/auth/refresh",
            {"refresh_token": "{{refreshToken}}"},
            auth=False,
            tests=problem(401),
        ),
    ]


def example(schema, schemas, depth=0):
    """An example value for a schema: its `examples`/`example`, else one made from its type."""
    if depth > 6:
        return None
    if "$ref" in schema:
        return example(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas, depth + 1)
    for key in ("examples", "example"):
        if key in schema:
            value = schema[key]
            return value[0] if key == "examples" and isinstance(value, list) and value else value
    for key in ("oneOf", "anyOf"):
        options = [s for s in schema.get(key, []) if s.get("type") != "null"]
        if options:
            return example(options[0], schemas, depth + 1)
    if "allOf" in schema:
        merged = {}
        for part in schema["allOf"]:
            value = example(part, schemas, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    if "enum" in schema:
        return schema["enum"][0]
    t = schema.get("type")
    t = next((x for x in t if x != "null"), None) if isinstance(t, list) else t
    if t == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        return {k: example(v, schemas, depth + 1) for k, v in schema.get("properties", {}).items() if k in required}
    if t == "array":
        return [example(schema.get("items", {}), schemas, depth + 1)]
    if t in ("integer", "number"):
        return schema.get("minimum", 1)
    if t == "boolean":
        return True
    if schema.get("format") == "date":
        return "2026-01-01"
    return "string"


def reference(spec):
    """One request per operation of the document, grouped by tag."""
    schemas = spec["components"]["schemas"]
    folders = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            body = None
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if content:
                body = example(content["schema"], schemas)
            postman_path = path
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    postman_path = postman_path.replace("{" + p["name"] + "}", ":" + p["name"])
            r = request(op.get("summary", op["operationId"]), method.upper(), postman_path, body, auth=bool(op.get("security")))
            r["request"]["description"] = op.get("description", op.get("summary", ""))
            variables = [{"key": p["name"], "value": "", "description": p.get("description", "")} for p in op.get("parameters", []) if p["in"] == "path"]
            if variables:
                r["request"]["url"]["variable"] = variables
            query = [
                {"key": p["name"], "value": "", "description": p.get("description", ""), "disabled": True}
                for p in op.get("parameters", [])
                if p["in"] == "query"
            ]
            if query:
                r["request"]["url"]["query"] = query
            del r["event"]
            folders.setdefault((op.get("tags") or ["other"])[0], []).append(r)
    return [{"name": tag, "item": items} for tag, items in sorted(folders.items())]


def collection():
    spec = json.loads(SPEC.read_text())
    return {
        "info": {
            "name": spec["info"]["title"],
            "description": "Generated by scripts/postman.py from docs/openapi.json. Set `baseUrl` (e.g. http://localhost:9000); "
            "the user story also needs `adminUsername`, `adminPassword` and `webhookUrl` (an endpoint that answers 2xx: "
            "`python3 tests/contract/receiver.py PORT`). Signed-in requests use `{{accessToken}}`.",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}]},
        "variable": [{"key": "baseUrl", "value": "http://localhost:9000"}],
        "item": [
            {"name": "User story", "item": story()},
            {"name": "API reference", "item": reference(spec)},
        ],
    }


def main():
    text = json.dumps(collection(), indent=2, ensure_ascii=False) + "\n"
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is out of date: run `python3 scripts/postman.py` and commit it", file=sys.stderr)
            sys.exit(1)
        print(f"{OUT.relative_to(ROOT)} is current")
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
