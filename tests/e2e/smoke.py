#!/usr/bin/env python3
"""End-to-end: drives the running local API (cargo lambda watch + DynamoDB Local) over HTTP, as a
client would. Usage: smoke.py BASE_URL ADMIN_USERNAME ADMIN_PASSWORD"""
import datetime
import os
import subprocess
import sys
import time
import urllib.parse

from e2e_client import Api, Checks

BASE, ADMIN, ADMIN_PW = sys.argv[1], sys.argv[2], sys.argv[3]
api, checks = Api(BASE), Checks()
call, check = api.call, checks.check


def problem(name, result, status):
    code, ctype, body = result
    check(name, code == status and ctype.startswith("application/problem+json") and body and body.get("status") == status,
          f"{code} {ctype} {body}")


name = f"e2e{int(time.time() * 1000) % 10**9}"
status, _, body = call("GET", "/health")
check("health answers without credentials", status == 200 and body == {"status": "ok"}, body)

status, _, reg = call("POST", "/auth/register",
                      {"username": name, "email": f"{name}@example.com", "password": "correct horse battery"})
check("register returns 201 with tokens", status == 201 and reg and reg.get("access_token"), reg)
problem("duplicate registration is a 409 problem",
        call("POST", "/auth/register", {"username": name, "email": f"{name}@example.com", "password": "correct horse battery"}), 409)
problem("bad registration names the field",
        call("POST", "/auth/register", {"username": "x", "email": "bad", "password": "correct horse battery"}), 400)

status, _, login = call("POST", "/auth/login", {"email": f"{name}@example.com", "password": "correct horse battery"})
check("login by e-mail", status == 200 and login["user"]["username"] == name, login)
token = login["access_token"]

status, _, me = call("GET", "/me", token=token)
check("GET /me shows the caller", status == 200 and me["username"] == name, me)
problem("GET /me without a token is 401", call("GET", "/me"), 401)

status, _, prof = call("PATCH", "/me/profile", {"time_zone": "Europe/Berlin", "first_name": "Eve"}, token)
check("PATCH /me/profile", status == 200 and prof["time_zone"] == "Europe/Berlin", prof)
problem("unknown time zone is a 400", call("PATCH", "/me/profile", {"time_zone": "Mars/Base"}, token), 400)
problem("mass assignment of role is a 400", call("PATCH", "/me", {"role": "admin"}, token), 400)
problem("a user on an admin route is 403", call("GET", "/users", token=token), 403)

status, _, admin = call("POST", "/auth/login", {"username": ADMIN, "password": ADMIN_PW})
check("the first admin can log in", status == 200 and admin["user"]["role"] == "admin", admin)
status, _, user = call("GET", f"/users/{me['user_id']}", token=admin["access_token"])
check("admin reads a user by id (path parameter routed)", status == 200 and user["username"] == name, user)
# Every page, as a client would: the table may hold many more users than a page.
listed, cursor, status = [], None, 200
while status == 200:
    status, _, page = call("GET", "/users?role=user&limit=5" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""), token=admin["access_token"])
    listed += page["items"] if status == 200 else []
    cursor = page.get("next_cursor") if status == 200 else None
    if not cursor:
        break
check("admin lists users (following next_cursor)", status == 200 and any(u["user_id"] == me["user_id"] for u in listed), page)

# Habits: create one, track a week, read the statistics and today's list, file it under a category.
today = datetime.datetime.now(datetime.timezone.utc).date()
week_ago = (today - datetime.timedelta(days=6)).isoformat()
status, _, habit = call("POST", "/habits", {"title": "Read 20 pages", "frequency": {"type": "daily"}, "start_date": week_ago}, token)
check("create a habit", status == 201 and habit["frequency"] == {"type": "daily"}, habit)
hid = habit["habit_id"]
ok = all(call("PUT", f"/habits/{hid}/entries/{(today - datetime.timedelta(days=d)).isoformat()}", {"status": "done"}, token)[0] == 200
         for d in range(7))
check("track a week", ok)
problem("an entry after today is a 400", call("PUT", f"/habits/{hid}/entries/{(today + datetime.timedelta(days=2)).isoformat()}", {"status": "done"}, token), 400)
status, _, stats = call("GET", f"/habits/{hid}/stats", token=token)
check("stats: a 7-day streak, 100% over 7 days",
      status == 200 and stats["current_streak"] == 7 and stats["completion_rate_7d"] == 1.0, stats)
status, _, day = call("GET", "/me/today", token=token)
check("today lists the habit with today's entry",
      status == 200 and [i["entry"]["status"] for i in day["items"] if i["habit"]["habit_id"] == hid] == ["done"], day)
status, _, cat = call("POST", "/categories", {"name": f"Reading {name}"}, admin["access_token"])
check("admin creates a category", status == 201, cat)
status, _, _ = call("PUT", f"/habits/{hid}/categories/{cat['category_id']}", token=token)
check("file the habit under it", status == 204)
status, _, filed = call("GET", f"/categories/{cat['category_id']}/habits", token=admin["access_token"])
check("admin sees the category's habits", status == 200 and [h["habit_id"] for h in filed["items"]] == [hid], filed)
status, _, rem = call("POST", "/reminders", {"habit_id": hid, "reminder_time": "07:30", "repeat_days": ["mon", "wed", "fri"],
                                              "time_zone": "Europe/Berlin", "message": "Read now"}, token)
check("create a reminder (next fire time computed)", status == 201 and rem["next_fire_at"], rem)
problem("a reminder with an unknown time zone is a 400",
        call("POST", "/reminders", {"habit_id": hid, "reminder_time": "07:30", "repeat_days": ["mon"], "time_zone": "Mars/Base", "message": "x"}, token), 400)
status, _, ch = call("POST", "/challenges", {"challenge_name": f"Read {name}", "start_date": week_ago,
                                             "end_date": (today + datetime.timedelta(days=20)).isoformat(), "goal_days": 5},
                    admin["access_token"])
check("admin publishes a challenge", status == 201 and ch["state"] == "active", ch)
status, _, joined = call("POST", f"/challenges/{ch['challenge_id']}/join", {"habit_id": hid}, token)
check("join with the habit: the tracked week counts", status == 201 and joined["progress"] == 7, joined)
problem("joining twice is a 409", call("POST", f"/challenges/{ch['challenge_id']}/join", {"habit_id": hid}, token), 409)
status, _, board = call("GET", f"/challenges/{ch['challenge_id']}/leaderboard", token=token)
check("leaderboard ranks the user, public fields only",
      status == 200 and board["items"][0]["username"] == name and board["items"][0]["rank"] == 1
      and "email" not in board["items"][0] and board["items"][0]["goal_reached"] is True, board)
status, _, notes = call("GET", "/me/notifications", token=token)
check("notifications list (none fired yet)", status == 200 and notes["items"] == [], notes)
problem("a user cannot create categories", call("POST", "/categories", {"name": "mine"}, token), 403)

# A reminder fires locally: due at the start of the next minute, fired through the trigger runner
# (scripts/triggers.py, which also plays the schedule in the background), exactly once.
def fire():
    runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "triggers.py")
    try:
        out = subprocess.run([sys.executable, runner, "fire", "--api", BASE], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return False
    print(out.stdout.strip(), out.stderr.strip())
    return out.returncode == 0 and '"fired":' in out.stdout


def fired_for(reminder_id):
    status, _, page = call("GET", "/me/notifications?limit=100", token=token)
    return [n for n in page["items"] if n["reminder_id"] == reminder_id] if status == 200 else None


for _ in range(2):  # a second try only if the request itself crossed the minute
    due = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    status, _, soon = call("POST", "/reminders", {"habit_id": hid, "reminder_time": due.strftime("%H:%M"), "time_zone": "UTC",
                                                   "repeat_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                                   "message": "Read now"}, token)
    if status == 201 and soon["next_fire_at"] == due.strftime("%Y-%m-%dT%H:%M:%SZ"):
        break
check("a reminder due at the start of the next minute", status == 201 and soon["next_fire_at"] == due.strftime("%Y-%m-%dT%H:%M:%SZ"), soon)
time.sleep(max(0.0, (due - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) + 0.5)
check("make fire plays the schedule once and prints the dispatcher's report", fire())
once = fired_for(soon["reminder_id"])
check("the reminder fired: exactly one notification", once is not None and len(once) == 1
      and once[0]["occurrence_at"] == due.strftime("%Y-%m-%dT%H:%M:%SZ") and once[0]["message"] == "Read now", once)
check("fired again in the same minute: still one", fire() and fired_for(soon["reminder_id"]) == once, fired_for(soon["reminder_id"]))

status, _, pair = call("POST", "/auth/refresh", {"refresh_token": login["refresh_token"]})
check("refresh rotates", status == 200 and pair["refresh_token"] != login["refresh_token"], pair)
status, _, retried = call("POST", "/auth/refresh", {"refresh_token": login["refresh_token"]})
check("a refresh retried within 30 s (its answer lost) gets a valid pair", status == 200
      and call("GET", "/me", token=retried["access_token"])[0] == 200, retried)
problem("a spent refresh token used once more is 401", call("POST", "/auth/refresh", {"refresh_token": login["refresh_token"]}), 401)
status, _, _ = call("POST", "/auth/logout", {"refresh_token": reg["refresh_token"]})
check("logout", status == 204)
problem("DELETE /me without the current password is a 400", call("DELETE", "/me", {"current_password": "not it at all"}, token), 400)
status, _, _ = call("DELETE", "/me", {"current_password": "correct horse battery"}, token)
check("DELETE /me with the current password", status == 204)
problem("the deleted user's token is 401", call("GET", "/me", token=token), 401)

print(f"e2e: {checks.passed} passed, {checks.failed} failed")
sys.exit(1 if checks.failed else 0)
