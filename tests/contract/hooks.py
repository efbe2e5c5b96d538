"""Schemathesis checks of our own, loaded through schemathesis.toml (`hooks`)."""
import json

import schemathesis
from schemathesis.generation import GenerationMode


@schemathesis.check
def problem_json_4xx(ctx, response, case):
    """Every 4xx is application/problem+json whose `status` equals the HTTP status."""
    code = response.status_code
    if not 400 <= code < 500:
        return None
    ctype = (response.headers.get("content-type") or [""])[0]
    if ctype.split(";")[0].strip().lower() != "application/problem+json":
        raise AssertionError(f"{code} answered with Content-Type {ctype!r}, not application/problem+json")
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{code} problem body is not JSON: {exc}") from None
    if not isinstance(body, dict) or body.get("status") != code:
        got = body.get("status") if isinstance(body, dict) else body
        raise AssertionError(f"problem `status` is {got!r}, the HTTP status is {code}")
    for field in ("type", "title", "detail"):
        if not isinstance(body.get(field), str):
            raise AssertionError(f"problem has no string `{field}`")
    return None


# Rules a JSON schema cannot state: they relate two fields, or a field to stored data or to the
# caller's today. A request the schema allows may be refused with 400 for these fields only; any
# other 400 to a schema-valid request means the document says less than the code checks.
EVERYWHERE = {
    "cursor",  # valid only exactly as the API returned it in `next_cursor` (signed)
    # one of the names `GET /time-zones` lists: the document states their form, not the list,
    # which changes with the tz database (README, "Generated clients")
    "time_zone",
}
CONTEXT_RULES = {
    # not one repeated character, not the username or e-mail
    "POST /auth/register": {"password"},
    # must be the caller's current password; the new one must differ from username and e-mail
    "PUT /me/password": {"current_password", "new_password"},
    # start_date up to a year from today, end_date not before start_date, times <= period_days
    "POST /habits": {"start_date", "end_date", "frequency.times"},
    "PATCH /habits/{id}": {"start_date", "end_date", "frequency.times"},
    # a day between the habit's start_date, end_date and the caller's today; status and
    # unit_completed as the habit's target decides
    "PUT /habits/{id}/entries/{date}": {"date", "status", "unit_completed"},
    "GET /habits/{id}/entries": {"to"},  # not before from
    # end_date not before start_date; dates fixed once someone joined
    "POST /challenges": {"end_date"},
    "PATCH /challenges/{id}": {"end_date", "start_date"},
    # a new e-mail needs the caller's current password; deleting the account too
    "PATCH /me": {"current_password"},
    "DELETE /me": {"current_password"},
    "PATCH /me/profile": {"dob"},  # in the past
    "PUT /me/profile": {"dob"},
    # a link's token is one this API signed, unexpired and unused; the new password as at registration
    "POST /auth/verify-email": {"token"},
    "POST /auth/password-reset/confirm": {"token", "new_password"},
    # an endpoint must be https (outside local development) and on a public address
    "POST /me/webhooks": {"url"},
    "PATCH /me/webhooks/{id}": {"url"},
    # the same for a push service's endpoint; p256dh must be a point of the P-256 curve, auth 16 bytes
    "POST /me/push-subscriptions": {"endpoint", "keys.p256dh", "keys.auth"},
}


def _all_positive(case):
    meta = case.meta
    if meta is None:
        return False
    if meta.generation.mode != GenerationMode.POSITIVE:
        return False
    return all(c.mode == GenerationMode.POSITIVE for c in meta.components.values())


@schemathesis.check
def valid_requests_are_refused_only_for_context_rules(ctx, response, case):
    """A schema-valid request answered 400 names only fields with a rule the schema cannot state;
    one answered 422 carried an `Idempotency-Key` (used before with another body)."""
    if response.status_code == 422:
        headers = {k.lower() for k in (case.headers or {})}
        if "idempotency-key" not in headers:
            raise AssertionError("422 for a request without an Idempotency-Key")
        return None
    if response.status_code != 400 or not _all_positive(case):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError("400 without a JSON problem body") from None
    fields = {e.get("field") for e in body.get("errors") or []}
    if not fields:
        raise AssertionError(f"schema-valid request refused without naming a field: {body.get('detail')!r}")
    allowed = EVERYWHERE | CONTEXT_RULES.get(f"{case.method.upper()} {case.path}", set())
    unexpected = sorted(f for f in fields if f not in allowed)
    if unexpected:
        raise AssertionError(
            f"schema-valid request refused for {unexpected}: {body.get('errors')}; "
            "state the rule in the schema, or list it in CONTEXT_RULES with the reason"
        )
    return None


@schemathesis.hook
def filter_case(ctx, case):
    """Leave out bodies that are not UTF-8: `cargo lambda watch` cannot put them in a Lambda event
    (it answers its own 500 before any function runs). API Gateway delivers them base64-encoded;
    tests/tests/api/lambda_events.rs proves the functions answer those with a problem+json 400."""
    body = case.body
    try:
        if isinstance(body, (bytes, bytearray)):
            bytes(body).decode("utf-8")
        elif isinstance(body, str):
            body.encode("utf-8")
    except UnicodeError:
        return False
    return True
