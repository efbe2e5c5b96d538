"""The user story through the generated Python client (openapi-python-client), typed end to end:
`scripts/clients.py story` runs it against the local API after installing the client's wheel, and
`mypy --strict` checks it against the client's types first.

Usage: python3 tests/clients/story.py BASE_URL ADMIN_USERNAME ADMIN_PASSWORD
"""

import datetime
import sys
import uuid
from typing import Any, TypeVar

from habit_tracker_api_client import AuthenticatedClient, Client
from habit_tracker_api_client.api.auth import health, login, refresh, register
from habit_tracker_api_client.api.challenges import create_challenge, join, leaderboard
from habit_tracker_api_client.api.habits import create_habit, delete_habit, get_habit, get_stats, put_entry
from habit_tracker_api_client.api.meta import time_zones
from habit_tracker_api_client.api.reminders import create_reminder
from habit_tracker_api_client.api.users import delete_me
from habit_tracker_api_client.models import (
    ChallengeView,
    ConfirmBody,
    CreateChallenge,
    CreateHabit,
    CreateReminder,
    Day,
    EntryView,
    Health,
    HabitView,
    MembershipView,
    PageBodyRank,
    Problem,
    RecordEntry,
    RefreshBody,
    RegisterBody,
    ReminderView,
    SessionBody,
    Status,
    StatsView,
    TimeZoneList,
    TokenPair,
    UsernameLogin,
    WeekdaysFrequency,
    WeekdaysFrequencyType,
)
from habit_tracker_api_client.types import Response

T = TypeVar("T")
passed = 0


def expect(response: Response[Any], status: int, kind: type[T]) -> T:
    """The answer, of the status and model the step expects."""
    global passed
    assert response.status_code == status, f"{response.status_code}: {response.content!r}"
    assert isinstance(response.parsed, kind), f"{type(response.parsed).__name__}, not {kind.__name__}"
    passed += 1
    return response.parsed


def main(base_url: str, admin: str, admin_password: str) -> None:
    global passed
    public = Client(base_url=base_url, raise_on_unexpected_status=True)
    expect(health.sync_detailed(client=public), 200, Health)
    zones = expect(time_zones.sync_detailed(client=public), 200, TimeZoneList)
    assert "Europe/Berlin" in zones.time_zones

    name = "py_" + uuid.uuid4().hex[:12]
    password = "a client's own passphrase"
    registered = expect(
        register.sync_detailed(
            client=public, body=RegisterBody(username=name, email=f"{name}@example.com", password=password)
        ),
        201,
        SessionBody,
    )
    assert registered.user.username == name
    session = expect(login.sync_detailed(client=public, body=UsernameLogin(username=name, password=password)), 200, SessionBody)
    me = AuthenticatedClient(base_url=base_url, token=session.access_token)

    weekdays = WeekdaysFrequency(days=[Day.MON, Day.WED, Day.FRI], type_=WeekdaysFrequencyType.WEEKDAYS)
    new_habit = CreateHabit(title="Read 20 pages", frequency=weekdays)
    key = str(uuid.uuid4())
    habit = expect(create_habit.sync_detailed(client=me, body=new_habit, idempotency_key=key), 201, HabitView)
    # The same create again with its key: the first answer, no second habit.
    again = expect(create_habit.sync_detailed(client=me, body=new_habit, idempotency_key=key), 201, HabitView)
    assert again.habit_id == habit.habit_id

    today = datetime.datetime.now(datetime.timezone.utc).date()  # the profile names no time zone: UTC
    entry = expect(
        put_entry.sync_detailed(habit.habit_id, today, client=me, body=RecordEntry(status=Status.DONE)), 200, EntryView
    )
    assert entry.date == today and entry.status == Status.DONE
    stats = expect(get_stats.sync_detailed(habit.habit_id, client=me), 200, StatsView)
    assert stats.total_done == 1 and stats.as_of == today

    reminder = expect(
        create_reminder.sync_detailed(
            client=me,
            body=CreateReminder(
                habit_id=habit.habit_id,
                reminder_time="07:30",
                repeat_days=[Day.MON, Day.WED],
                message="Time to read",
                time_zone="Europe/Berlin",
            ),
            idempotency_key=str(uuid.uuid4()),
        ),
        201,
        ReminderView,
    )
    assert reminder.time_zone == "Europe/Berlin"

    admin_session = expect(
        login.sync_detailed(client=public, body=UsernameLogin(username=admin, password=admin_password)), 200, SessionBody
    )
    operator = AuthenticatedClient(base_url=base_url, token=admin_session.access_token)
    challenge = expect(
        create_challenge.sync_detailed(
            client=operator,
            body=CreateChallenge(
                challenge_name=f"Read with {name}", start_date=today, end_date=today + datetime.timedelta(days=30)
            ),
            idempotency_key=str(uuid.uuid4()),
        ),
        201,
        ChallengeView,
    )
    # No body: a new daily habit is made from the challenge.
    membership = expect(join.sync_detailed(challenge.challenge_id, client=me), 201, MembershipView)
    assert membership.challenge_id == challenge.challenge_id
    board = expect(leaderboard.sync_detailed(challenge.challenge_id, client=me), 200, PageBodyRank)
    assert [row.username for row in board.items] == [name]

    pair = expect(refresh.sync_detailed(client=public, body=RefreshBody(refresh_token=session.refresh_token)), 200, TokenPair)
    me = AuthenticatedClient(base_url=base_url, token=pair.access_token)

    bad = expect(create_habit.sync_detailed(client=me, body=CreateHabit(title="", frequency=weekdays)), 400, Problem)
    assert bad.status == 400 and [e.field for e in (bad.errors or [])] == ["title"]

    expect(delete_habit.sync_detailed(habit.habit_id, client=me), 204, type(None))
    expect(get_habit.sync_detailed(habit.habit_id, client=me), 404, Problem)
    expect(delete_me.sync_detailed(client=me, body=ConfirmBody(current_password=password)), 204, type(None))
    expect(login.sync_detailed(client=public, body=UsernameLogin(username=name, password=password)), 401, Problem)
    print(f"python client: {passed} passed")


if __name__ == "__main__":
    main(*sys.argv[1:4])
