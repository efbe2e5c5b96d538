#!/usr/bin/env python3
"""Deploy rehearsal without AWS: `make deploy-check`.

    python3 scripts/deploy_check.py --template infra/template.yaml --artifacts DIR [--out-dir DIR]

DIR holds one `<binary>.zip` per function (auth, users, habits, categories, reminders, dispatcher,
challenges), each with a `bootstrap` file at its root. Nothing here talks to AWS:

  1. the artifacts are looked at (each zip has a `bootstrap`);
  2. `sam validate --lint` checks the SAM template (SAM's own validation plus cfn-lint);
  3. aws-sam-translator turns the SAM template into plain CloudFormation, in this process, with every
     CodeUri pointing at the uploaded zip; the result is written to <out-dir>/translated.json;
  4. a local moto server plays CloudFormation: the zips go into an S3 bucket, `create_stack` runs on
     the translated template and must reach CREATE_COMPLETE;
  5. what was created is read back through boto3 and checked against what the project intends (the
     EXPECTED_* constants below, the `cargo lambda watch` router in Cargo.toml for the routes, and
     the translated template for values such as memory and timeouts). Resource types moto skips, and
     properties it ignores, are checked in the translated template instead, and the closing summary
     says which checks the emulator proved and which rest on the translated template only.

One line is printed per check, and the run ends with `deploy-check: N passed, M failed`; the exit
status is 1 when a check failed. Properties moto accepts but ignores (measured with moto 5.2.5; see
ARCHITECTURE.md section 5) are listed in MOTO_IGNORED_PROPERTIES; the resource types moto skips are
detected at run time, not assumed, and each must be one this script checks in the template.

Dependencies: the standard library, boto3, aws-sam-translator (and its PyYAML), and the `sam` and
`moto_server` commands (aws-sam-cli, moto[server]) from the same virtualenv or PATH.
"""

from __future__ import annotations

import argparse
import ast
import base64
import fnmatch
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# --- Offline environment ------------------------------------------------------------------------
# Set before boto3 or samtranslator look at it: a fixed region, dummy credentials, and no profile or
# config file of the developer's, so that nothing can reach (or be billed by) a real AWS account.
REGION = "us-east-1"
OFFLINE_ENV = {
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "deploy-check",
    "AWS_SECRET_ACCESS_KEY": "deploy-check",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "SAM_CLI_TELEMETRY": "0",
}
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ.update(OFFLINE_ENV)

import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402
from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402  (understands !Ref, !GetAtt, !Sub, ...)

ROOT = Path(__file__).resolve().parent.parent

# --- What the project intends ---------------------------------------------------------------------
# Pinned here on purpose: a template that drifts from these fails the check. Sources: ARCHITECTURE.md,
# tests/tests/api/infra.rs, shared/src/storage/table.rs, shared/src/config.rs, functions/dispatcher.

BINARIES = ["auth", "users", "habits", "categories", "reminders", "dispatcher", "challenges", "deliver"]
SCHEDULED_BINARY = "dispatcher"  # the reminder dispatcher, every minute
DELIVER_BINARY = "deliver"  # the outbox's stream, and every minute for retries
NON_HTTP = {SCHEDULED_BINARY, DELIVER_BINARY}  # every other binary serves HTTP API routes
FALLBACK_BINARY = "auth"  # serves the `$default` route (Cargo.toml router: "/{*path}" = "auth")
CATCH_ALL_LOCAL_PATH = "/{*path}"

EXPECTED_RUNTIME = "provided.al2023"
EXPECTED_ARCHITECTURES = ["arm64"]
EXPECTED_HANDLER = "bootstrap"
HTTP_API_MAX_TIMEOUT = 30  # seconds: API Gateway HTTP APIs stop waiting for an integration after 30 s

EXPECTED_TABLE_KEY = [("PK", "HASH"), ("SK", "RANGE")]
EXPECTED_ATTRIBUTES = {
    "PK": "S", "SK": "S",
    "GSI1PK": "S", "GSI1SK": "S",
    "GSI2PK": "S", "GSI2SK": "S",
    "GSI3PK": "S", "GSI3SK": "N",
}
EXPECTED_GSIS = {  # name -> (hash key, range key); every projection is ALL
    "GSI1": ("GSI1PK", "GSI1SK"),
    "GSI2": ("GSI2PK", "GSI2SK"),
    "GSI3": ("GSI3PK", "GSI3SK"),
}
EXPECTED_BILLING_MODE = "PAY_PER_REQUEST"
EXPECTED_TTL_ATTRIBUTE = "expires_at_epoch"  # shared::keys::TTL_ATTRIBUTE

EXPECTED_SCHEDULE = "rate(1 minute)"
# dispatcher::SHARD_GROUPS: one schedule per group, its event naming the group.
DISPATCH_GROUPS = 8
EXPECTED_RETRY_POLICY = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 120}
EXPECTED_DLQ_RETENTION_SECONDS = 1209600  # 14 days, the SQS maximum

# Environment variables each kind of function gets, and the rules the typed configuration applies
# at start (shared/src/config.rs, shared/src/signing.rs, functions/dispatcher/src/lib.rs): a deploy
# that breaks them would only fail at the first cold start.
COMMON_ENV = {"TABLE_NAME", "LOG_LEVEL"}
HTTP_ENV = COMMON_ENV | {"SIGNING_KEYS_SECRET_ARN", "SIGNING_KEYS_VERSION", "JWT_ISSUER", "JWT_AUDIENCE",
                         "ACCESS_TOKEN_TTL_SECONDS"}
DISPATCHER_ENV = COMMON_ENV | {"REMINDER_LATE_WINDOW_SECONDS", "DISPATCH_CONCURRENCY"}
VAPID_ENV = {"VAPID_SECRET_ARN", "VAPID_SUBJECT"}  # Web Push: the key's secret, the operator's contact
MAIL_ENV = {"SES_FROM_ADDRESS", "SES_CONFIGURATION_SET", "APP_URL"}  # e-mail links and reminders
DELIVER_ENV = COMMON_ENV | VAPID_ENV | MAIL_ENV | {"WEBHOOK_TIMEOUT_MS", "DELIVERY_MAX_ATTEMPTS", "DELIVERY_BASE_DELAY_SECONDS",
                                        "DELIVERY_MAX_DELAY_SECONDS", "WEBHOOK_DISABLE_AFTER"}
PUSH_BINARY = "reminders"  # serves the push routes (the VAPID public key)
MAIL_BINARIES = {"auth", "users", DELIVER_BINARY}  # links (auth, users), reminders (deliver)
ENV_OF = {SCHEDULED_BINARY: DISPATCHER_ENV, DELIVER_BINARY: DELIVER_ENV, PUSH_BINARY: HTTP_ENV | VAPID_ENV,
          "auth": HTTP_ENV | MAIL_ENV, "users": HTTP_ENV | MAIL_ENV}
VAPID_READERS = {PUSH_BINARY, DELIVER_BINARY}
SAME_IN_EVERY_HTTP_FUNCTION = ["SIGNING_KEYS_SECRET_ARN", "SIGNING_KEYS_VERSION", "JWT_ISSUER", "JWT_AUDIENCE",
                               "ACCESS_TOKEN_TTL_SECONDS"]  # auth issues tokens, the others verify them
SIGNING_KEYS_ENV = "SIGNING_KEYS_SECRET_ARN"  # names the AWS::SecretsManager::Secret with the key set
# Local development only, or secrets that belong in Secrets Manager, not in plain environment variables.
# WEBHOOK_ALLOW_PRIVATE lets webhooks reach private addresses (local receivers): never in the cloud.
# SES_ENDPOINT points at a local SES; VAPID_SECRET is the key material in plain text.
FORBIDDEN_ENV = {"DYNAMODB_ENDPOINT", "JWT_SECRET", "JWT_KEYS", "WEBHOOK_ALLOW_PRIVATE", "SES_ENDPOINT", "VAPID_SECRET"}
LOG_LEVELS = {"error", "warn", "info", "debug"}  # not trace: the runtime would log whole events
MIN_SECRET_LEN = 32  # bytes of a signing key (shared::signing::MIN_SECRET_LEN)
INT_RANGES = {
    "ACCESS_TOKEN_TTL_SECONDS": (1, 3600),
    "REMINDER_LATE_WINDOW_SECONDS": (60, 86_400),
    "DISPATCH_CONCURRENCY": (1, 256),
    "WEBHOOK_TIMEOUT_MS": (100, 30_000),
    "DELIVERY_MAX_ATTEMPTS": (1, 30),
    "DELIVERY_BASE_DELAY_SECONDS": (1, 3600),
    "DELIVERY_MAX_DELAY_SECONDS": (1, 86_400),
    "WEBHOOK_DISABLE_AFTER": (1, 1000),
}

# How many resources of each type the translated template must hold. A new resource type fails the
# check until deploy-check learns to check it.
EXPECTED_RESOURCE_COUNTS = {
    "AWS::DynamoDB::Table": 1,
    "AWS::Lambda::Function": len(BINARIES),
    "AWS::IAM::Role": len(BINARIES),
    "AWS::Logs::LogGroup": len(BINARIES),
    "AWS::Lambda::Permission": None,  # one per route group; checked route by route instead
    "AWS::ApiGatewayV2::Api": 1,
    "AWS::ApiGatewayV2::Stage": 1,
    "AWS::Events::Rule": 8 + 1,  # the dispatcher's schedules (one per dispatch group), the delivery's retries
    "AWS::SQS::Queue": 2,  # the dispatcher's dead-letter queue, the outbox stream's failure destination
    "AWS::SQS::QueuePolicy": 1,
    "AWS::CloudWatch::Alarm": 5,
    "AWS::Lambda::EventSourceMapping": 1,  # the outbox's stream into the deliver function
    "AWS::Logs::MetricFilter": 1,  # deliveries given up
    "AWS::SES::ConfigurationSet": 1,  # every message the functions send
    "AWS::SecretsManager::Secret": 2,  # the signing keys, the VAPID key's secret
    "AWS::Lambda::EventInvokeConfig": 1,
}

# Resource types moto may skip that this script checks in the translated template instead.
TEMPLATE_CHECKED_TYPES = {
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::CloudWatch::Alarm",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Logs::MetricFilter",
    "AWS::SES::ConfigurationSet",
}
# Properties moto accepts but does not apply (measured with moto 5.2.5): checked in the translated
# template; what the emulator reports is shown for information.
MOTO_IGNORED_PROPERTIES = [
    "DynamoDB TimeToLiveSpecification",
    "DynamoDB PointInTimeRecoverySpecification",
    "DynamoDB SSESpecification",
    "Lambda Architectures",
    "Lambda DeadLetterConfig",
    "IAM Role ManagedPolicyArns",
]

# Stack parameters: every parameter keeps its default; one without a default gets a dummy value
# that satisfies its constraints (see parameter_values).
STACK_NAME = "habit-tracker-deploy-check"
ARTIFACT_BUCKET = "deploy-check-artifacts"


# --- Reporting ------------------------------------------------------------------------------------

EMULATOR, TEMPLATE, STATIC = "emulator", "template", "static"


class Report:
    """Collects one result per check, prints it as it comes, and summarises at the end."""

    def __init__(self) -> None:
        self.results: list[tuple[bool, str, str, str]] = []  # (ok, source, area, text)
        self.notes: list[str] = []

    def check(self, source: str, area: str, text: str, ok: bool, detail: str = "", info: str = "") -> bool:
        """`detail` explains a failure (printed only then); `info` is printed either way."""
        self.results.append((ok, source, area, text))
        line = f"{'PASS' if ok else 'FAIL'} [{source:8}] {area}: {text}"
        if info:
            line += f" ({info})"
        if detail and not ok:
            line += f"\n       {detail}"
        print(line, flush=True)
        return ok

    def equal(self, source: str, area: str, text: str, actual: Any, expected: Any) -> bool:
        ok = actual == expected
        return self.check(source, area, text, ok, "" if ok else f"expected {expected!r}, got {actual!r}")

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"NOTE {text}", flush=True)

    def guarded(self, source: str, area: str, check: Callable[..., None], *args: Any) -> None:
        """Runs a group of checks, `check(report, area, *args)`; an exception (a missing resource, an
        API error) fails the group instead of stopping the run."""
        try:
            check(self, area, *args)
        except Exception as e:  # noqa: BLE001 - any surprise is a failed check, not a crash
            self.check(source, area, "every check of this group ran", False, f"{type(e).__name__}: {e}")

    def summary(self, skipped_types: set[str], started: float) -> int:
        print("\n" + "=" * 100)
        groups = [
            (STATIC, "checked before deploying (artifacts, sam validate --lint, SAM translation)"),
            (EMULATOR, "verified by the emulator (created by moto's CloudFormation, read back through boto3)"),
            (TEMPLATE, "verified from the translated template only"),
        ]
        for source, title in groups:
            areas: dict[str, list[int]] = {}
            for ok, src, area, _ in self.results:
                if src == source:
                    counts = areas.setdefault(area, [0, 0])
                    counts[0 if ok else 1] += 1
            print(f"\n{title}:")
            for area, (passed, failed) in areas.items():
                print(f"  - {area}: {passed} passed" + (f", {failed} FAILED" if failed else ""))
        if skipped_types:
            print(f"\nresource types the emulator skipped (detected in this run): {', '.join(sorted(skipped_types))}")
        print(f"properties the emulator ignores (checked in the template): {', '.join(MOTO_IGNORED_PROPERTIES)}")
        if self.notes:
            print("\nnotes (not counted):")
            for n in self.notes:
                print(f"  - {n}")
        passed = sum(1 for r in self.results if r[0])
        failed = len(self.results) - passed
        if failed:
            print("\nfailed checks:")
            for ok, src, area, text in self.results:
                if not ok:
                    print(f"  - [{src}] {area}: {text}")
        print(f"\n(took {time.monotonic() - started:.1f} s)")
        print(f"deploy-check: {passed} passed, {failed} failed")
        return 1 if failed else 0


# --- Small helpers --------------------------------------------------------------------------------


def tool(name: str) -> str | None:
    """A command from this Python's virtualenv, else from PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def resources_of(template: dict, rtype: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def getatt_target(value: Any) -> str | None:
    """`{"Fn::GetAtt": ["X", "Arn"]}` -> "X"."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        arg = value["Fn::GetAtt"]
        return (arg if isinstance(arg, list) else arg.split("."))[0]
    return None


def sub_text(value: Any) -> str | None:
    """The template string of an `Fn::Sub`."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        arg = value["Fn::Sub"]
        return arg if isinstance(arg, str) else arg[0]
    return None


def statement_key(st: dict) -> tuple:
    """A comparable form of an IAM policy statement."""
    def items(v: Any) -> tuple:
        return tuple(sorted(as_list(v if v is not None else []), key=lambda x: json.dumps(x, sort_keys=True)))
    return (st.get("Effect"), items(st.get("Action")), items(st.get("Resource")),
            json.dumps(st.get("Condition"), sort_keys=True))


def parse_policy(doc: Any) -> dict:
    """A policy document as moto returns it: JSON, or (for inline role policies made by
    CloudFormation) the Python repr of a dict."""
    if isinstance(doc, dict):
        return doc
    try:
        return json.loads(doc)
    except json.JSONDecodeError:
        return ast.literal_eval(doc)


def parameter_values(template: dict) -> dict[str, str]:
    """The stack's parameter values: the defaults, and for a parameter without one a dummy value
    within its constraints (AllowedValues, MinValue, MinLength; 40 characters for a secret)."""
    values = {}
    for name, p in (template.get("Parameters") or {}).items():
        if "Default" in p:
            values[name] = str(p["Default"])
        elif p.get("AllowedValues"):
            values[name] = str(p["AllowedValues"][0])
        elif p.get("Type") == "Number":
            values[name] = str(p.get("MinValue", 1))
        else:
            values[name] = "deploy-check-" + "x" * max(27, int(p.get("MinLength", 0)) - 13)
    return values


def references(value: Any) -> set[str]:
    """Logical ids (and parameters) a value refers to through Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= references(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(getatt_target(value))
            elif k == "Fn::Sub":
                text = sub_text(value)
                found |= {m.split(".")[0] for m in re.findall(r"\$\{(?!!)([^}]+)\}", text)}
                if isinstance(v, list):
                    found |= references(v[1])
            else:
                found |= references(v)
    return found


class Unresolved(Exception):
    pass


class Skipped(Unresolved):
    """A reference to a resource the emulator did not create."""


NO_VALUE = object()  # AWS::NoValue: the property is left out


class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Sub / Fn::Join / Fn::If (and the condition functions) with
    the stack's parameter values and, once deployed, what the emulator created."""

    def __init__(self, template: dict, params: dict[str, str]) -> None:
        self.refs: dict[str, Any] = {"AWS::NoValue": NO_VALUE, **params}
        self.atts: dict[tuple[str, str], str] = {}
        self.conditions: dict[str, Any] = template.get("Conditions") or {}
        self.skipped: set[str] = set()  # logical ids of resources the emulator skipped

    def ref(self, name: str) -> Any:
        if name in self.skipped:
            raise Skipped(f"Ref {name}")
        if name not in self.refs:
            raise Unresolved(f"Ref {name}")
        return self.refs[name]

    def att(self, name: str, attr: str) -> str:
        if name in self.skipped:
            raise Skipped(f"Fn::GetAtt {name}.{attr}")
        if (name, attr) not in self.atts:
            raise Unresolved(f"Fn::GetAtt {name}.{attr}")
        return self.atts[(name, attr)]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                name, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.att(name, attr)
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self(v) for k, v in arg[1].items()})

                def var(m: re.Match) -> str:
                    name = m.group(1)
                    if name in extra:
                        return str(extra[name])
                    if "." in name:
                        return str(self.att(*name.split(".", 1)))
                    return str(self.ref(name))

                return re.sub(r"\$\{(?!!)([^}]+)\}", var, text).replace("${!", "${")
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(self(i)) for i in items)
            if key == "Fn::If":
                name, yes, no = arg
                return self(yes if self.condition(name) else no)
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                return self.truth(value)
        return {k: self(v) for k, v in value.items()}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise Unresolved(f"Condition {name}")
        return self.truth(self.conditions[name])

    def truth(self, value: Any) -> bool:
        (key, arg), = value.items()
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            a, b = (self(x) for x in arg)
            return str(a) == str(b)
        if key == "Fn::Not":
            return not self.truth(arg[0])
        if key == "Fn::And":
            return all(self.truth(x) for x in arg)
        if key == "Fn::Or":
            return any(self.truth(x) for x in arg)
        raise Unresolved(f"condition function {key}")


# --- Stage 1: artifacts ---------------------------------------------------------------------------


def check_artifacts(report: Report, artifacts: Path) -> dict[str, Path]:
    found = {}
    for binary in BINARIES:
        path = artifacts / f"{binary}.zip"
        if not path.is_file():
            report.check(STATIC, "artifacts", f"{path.name} exists", False, f"no {path}")
            continue
        try:
            with zipfile.ZipFile(path) as z:
                info = next((i for i in z.infolist() if i.filename == "bootstrap"), None)
            ok = info is not None and not info.is_dir()
            report.check(STATIC, "artifacts", f"{path.name} holds a bootstrap file at its root", ok,
                         "" if ok else "no `bootstrap` entry at the root of the zip")
        except zipfile.BadZipFile as e:
            report.check(STATIC, "artifacts", f"{path.name} is a zip file", False, str(e))
            continue
        found[binary] = path
    return found


# --- Stage 2: sam validate --lint -----------------------------------------------------------------


def sam_validate(report: Report, template: Path) -> None:
    sam = tool("sam")
    if not sam:
        report.check(STATIC, "sam validate --lint", "aws-sam-cli is installed", False, "no `sam` command")
        return
    started = time.monotonic()
    proc = subprocess.run(
        [sam, "validate", "--lint", "--template", str(template)],
        capture_output=True, text=True, env={**os.environ, **OFFLINE_ENV}, timeout=300,
    )
    took = time.monotonic() - started
    output = (proc.stdout + proc.stderr).strip()
    report.check(STATIC, "sam validate --lint", "SAM validation and cfn-lint pass", proc.returncode == 0,
                 detail="\n       ".join(output.splitlines()[-40:]), info=f"{took:.1f} s")


# --- Stage 3: SAM -> CloudFormation ---------------------------------------------------------------


class OfflinePolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which would list IAM's managed policies.
    The translator only asks for them when a template names a managed policy by its bare name;
    deploy-check is offline, so such a template is reported instead of looked up."""

    def load(self) -> dict[str, str]:
        raise RuntimeError("the template names an AWS managed policy by name; use its full ARN")


def translate(report: Report, template: Path, out_dir: Path) -> dict | None:
    """Returns the translated CloudFormation template."""
    try:
        source = yaml_parse(template.read_text())
    except Exception as e:  # noqa: BLE001 - a YAML error is a failed check
        report.check(STATIC, "SAM translation", "the template parses as YAML", False, str(e))
        return None
    sam = json.loads(json.dumps(source))  # a copy for the translator, which edits in place
    bad = []
    for name, res in sam.get("Resources", {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            binary = (res.get("Metadata", {}).get("BuildProperties") or {}).get("Binary")
            if not binary:
                bad.append(name)
                continue
            res["Properties"]["CodeUri"] = f"s3://{ARTIFACT_BUCKET}/{binary}.zip"
    if not report.check(STATIC, "SAM translation", "every function names its binary (Metadata.BuildProperties.Binary)",
                        not bad, f"missing in {bad}"):
        return None
    try:
        translated = transform(sam, parameter_values(sam), OfflinePolicyLoader())
    except InvalidDocumentException as e:
        causes = "\n       ".join(c.message for c in e.causes)
        report.check(STATIC, "SAM translation", "aws-sam-translator transforms the template", False, causes)
        return None
    except Exception as e:  # noqa: BLE001
        report.check(STATIC, "SAM translation", "aws-sam-translator transforms the template", False,
                     f"{type(e).__name__}: {e}")
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "translated.json"
    out.write_text(json.dumps(translated, indent=2, sort_keys=True) + "\n")
    report.check(STATIC, "SAM translation", "aws-sam-translator transforms the template", True,
                 info=f"{len(translated['Resources'])} resources, written to {out}")
    return translated


# --- Stage 4: moto ----------------------------------------------------------------------------------


class MotoServer:
    """moto_server on a free 127.0.0.1 port, stopped on exit."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.endpoint = ""

    def __enter__(self) -> MotoServer:
        exe = tool("moto_server")
        if not exe:
            raise RuntimeError("no `moto_server` command (pip install 'moto[server]')")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{port}"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        try:  # until it answers; `with` calls __exit__ only once __enter__ has returned
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"moto_server exited with {self.proc.returncode}; see {self.log_path}")
                try:
                    urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1)
                    return self
                except OSError:
                    time.sleep(0.1)
            raise RuntimeError(f"moto_server did not answer within 30 s; see {self.log_path}")
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            config=BotoConfig(retries={"max_attempts": 2}))


def deploy(report: Report, moto: MotoServer, zips: dict[str, Path], translated: dict) -> dict | None:
    """Uploads the zips, creates the stack, waits for it. Returns the stack's resources by logical id
    (the ones moto created), or None."""
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    for binary, path in zips.items():
        s3.upload_file(str(path), ARTIFACT_BUCKET, f"{binary}.zip")
    report.check(EMULATOR, "deployment", f"{len(zips)} artifacts uploaded to s3://{ARTIFACT_BUCKET}",
                 len(zips) == len(BINARIES))

    cfn = moto.client("cloudformation")
    try:
        cfn.create_stack(
            StackName=STACK_NAME,
            TemplateBody=json.dumps(translated),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameter_values(translated).items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
    except (ClientError, BotoCoreError) as e:
        report.check(EMULATOR, "deployment", "create_stack accepts the translated template", False, str(e))
        print_events(cfn)
        return None
    deadline = time.monotonic() + 120
    status = "CREATE_IN_PROGRESS"
    while time.monotonic() < deadline:
        status = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        time.sleep(0.2)
    if not report.equal(EMULATOR, "deployment", "stack status", status, "CREATE_COMPLETE"):
        print_events(cfn)
        return None
    rows = cfn.describe_stack_resources(StackName=STACK_NAME)["StackResources"]
    return {r["LogicalResourceId"]: r for r in rows if "LogicalResourceId" in r}


def print_events(cfn) -> None:
    try:
        events = cfn.describe_stack_events(StackName=STACK_NAME)["StackEvents"]
    except (ClientError, BotoCoreError):
        print("       (no stack events: the stack was not created)")
        return
    print("       stack events, newest first:")
    for e in events:
        print(f"         {e['LogicalResourceId']} {e['ResourceType']} {e['ResourceStatus']} "
              f"{e.get('ResourceStatusReason', '')}")


# --- Stage 5a: checks on the translated template ----------------------------------------------------


def expected_routes() -> dict[str, str]:
    """Route key -> binary, from the `cargo lambda watch` router in Cargo.toml (the local twin of the
    API's routes; tests/tests/api/infra.rs keeps it equal to the routes in code)."""
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"]
    return {("$default" if path == CATCH_ALL_LOCAL_PATH else f"ANY {path}"): binary
            for path, binary in router.items()}


def function_ids(translated: dict) -> dict[str, str]:
    """binary -> logical id of its AWS::Lambda::Function."""
    return {res.get("Metadata", {}).get("BuildProperties", {}).get("Binary"): name
            for name, res in resources_of(translated, "AWS::Lambda::Function").items()}


def dispatch_queue(translated: dict, fids: dict[str, str]) -> str:
    """The dispatcher's dead-letter queue (its DeadLetterConfig)."""
    props = translated["Resources"][fids[SCHEDULED_BINARY]]["Properties"]
    return getatt_target(props.get("DeadLetterConfig", {}).get("TargetArn"))


def outbox_mapping(translated: dict) -> tuple[str, dict]:
    (mid, mapping), = resources_of(translated, "AWS::Lambda::EventSourceMapping").items()
    return mid, mapping["Properties"]


def deliver_queue(translated: dict) -> str:
    """The outbox stream's failure destination."""
    _, p = outbox_mapping(translated)
    return getatt_target(p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))


def rules_of(translated: dict, fid: str) -> list[str]:
    """The EventBridge rules whose one target is the function `fid`."""
    return sorted(rid for rid, r in resources_of(translated, "AWS::Events::Rule").items()
                  if [getatt_target(t.get("Arn")) for t in r["Properties"].get("Targets", [])] == [fid])


def rule_of(translated: dict, fid: str) -> str:
    """The EventBridge rule whose one target is the function `fid`."""
    (rid,) = rules_of(translated, fid)
    return rid


def template_checks(report: Report, translated: dict) -> None:
    T = TEMPLATE
    res = translated["Resources"]

    # Inventory: every resource type is one deploy-check knows how to check, in the expected number.
    counts: dict[str, int] = {}
    for r in res.values():
        counts[r["Type"]] = counts.get(r["Type"], 0) + 1
    for rtype, n in counts.items():
        if rtype not in EXPECTED_RESOURCE_COUNTS:
            report.check(T, "inventory", f"{rtype} is a resource type deploy-check checks", False,
                         f"{n} of them; teach scripts/deploy_check.py to check it")
    for rtype, n in EXPECTED_RESOURCE_COUNTS.items():
        if n is not None:
            report.equal(T, "inventory", f"number of {rtype}", counts.get(rtype, 0), n)
    fids = function_ids(translated)
    report.equal(T, "inventory", "function binaries", sorted(b for b in fids if b), sorted(BINARIES))

    # What the emulator skips or ignores: (area, check) in the order they print.
    groups = [
        ("Lambda (moto ignores Architectures)", check_architectures),
        ("Lambda DeadLetterConfig (moto ignores it)", check_function_dlq),
        ("IAM managed policies (moto ignores ManagedPolicyArns)", check_managed_policies),
        ("DynamoDB table (moto ignores TTL/PITR/SSE)", check_table_template),
        ("HTTP API routes (AWS::ApiGatewayV2::Api)", check_http_api),
        ("HTTP API stage (AWS::ApiGatewayV2::Stage)", check_stage),
        ("SQS queue policy (AWS::SQS::QueuePolicy)", check_queue_policy),
        ("CloudWatch alarms (AWS::CloudWatch::Alarm)", check_alarms),
        ("signing keys (AWS::SecretsManager::Secret)", check_signing_keys),
        ("dispatcher retries (AWS::Lambda::EventInvokeConfig)", check_event_invoke_config),
        ("outbox stream (AWS::Lambda::EventSourceMapping)", check_outbox_stream),
        ("deliveries given up (AWS::Logs::MetricFilter)", check_dead_deliveries_metric),
        ("e-mail (AWS::SES::ConfigurationSet)", check_mail),
    ]
    for area, check in groups:
        report.guarded(T, area, check, translated, fids)


def check_architectures(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    for binary, fid in sorted(fids.items()):
        props = translated["Resources"][fid]["Properties"]
        report.equal(TEMPLATE, area, f"{binary}: Architectures",
                     props.get("Architectures", ["x86_64"]), EXPECTED_ARCHITECTURES)


def check_function_dlq(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    queues = resources_of(translated, "AWS::SQS::Queue")
    props = translated["Resources"][fids[SCHEDULED_BINARY]]["Properties"]
    target = getatt_target(props.get("DeadLetterConfig", {}).get("TargetArn"))
    report.check(TEMPLATE, area,
                 f"{SCHEDULED_BINARY}: failed asynchronous invocations go to the SQS dead-letter queue",
                 target in queues, f"DeadLetterConfig.TargetArn points at {target!r}")


def check_managed_policies(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    # SAM adds this one for a DynamoDB stream event (the poller reads the stream with the role);
    # the template also grants the same four actions on the table's stream alone.
    streams = "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"
    for binary, fid in sorted(fids.items()):
        role = getatt_target(translated["Resources"][fid]["Properties"]["Role"])
        arns = translated["Resources"][role]["Properties"].get("ManagedPolicyArns", [])
        if binary == DELIVER_BINARY:
            report.equal(TEMPLATE, area, f"{binary}: role may write CloudWatch Logs and read streams, nothing more managed",
                         arns, [basic, streams])
            continue
        report.equal(TEMPLATE, area,
                     f"{binary}: role may write CloudWatch Logs and nothing more managed", arns, [basic])


def check_table_template(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    tables = resources_of(translated, "AWS::DynamoDB::Table")
    (tid, table), = tables.items()
    p = table["Properties"]
    report.equal(TEMPLATE, area, "TimeToLiveSpecification", p.get("TimeToLiveSpecification"),
                 {"AttributeName": EXPECTED_TTL_ATTRIBUTE, "Enabled": True})
    report.equal(TEMPLATE, area, "point-in-time recovery",
                 p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"), True)
    report.equal(TEMPLATE, area, "server-side encryption", p.get("SSESpecification", {}).get("SSEEnabled"), True)
    report.equal(TEMPLATE, area, "DeletionPolicy (deleting the stack keeps the data)", table.get("DeletionPolicy"),
                 "Retain")
    report.equal(TEMPLATE, area, "UpdateReplacePolicy", table.get("UpdateReplacePolicy"), "Retain")


def check_http_api(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    apis = resources_of(translated, "AWS::ApiGatewayV2::Api")
    (api_id, api), = apis.items()
    props = api["Properties"]
    report.equal(TEMPLATE, area, "FailOnWarnings", props.get("FailOnWarnings"), True)
    body = props.get("Body") or {}
    declared: dict[str, dict] = {}
    for path, methods in body.get("paths", {}).items():
        for method, op in methods.items():
            if method == "parameters":
                continue
            verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
            key = "$default" if op.get("isDefaultRoute") or path == "/$default" else f"{verb} {path}"
            declared[key] = op
    wanted = expected_routes()
    missing = sorted(set(wanted) - set(declared))
    extra = sorted(set(declared) - set(wanted))
    report.check(TEMPLATE, area, f"route keys equal the Cargo.toml router ({len(wanted)} routes)",
                 not missing and not extra, f"missing: {missing}; not in Cargo.toml: {extra}")
    for key, binary in sorted(wanted.items()):
        op = declared.get(key)
        if op is None:
            continue  # reported above
        integ = op.get("x-amazon-apigateway-integration", {})
        uri = sub_text(integ.get("uri")) or ""
        target = re.search(r"\$\{(\w+)\.Arn\}", uri)
        target_id = target.group(1) if target else None
        ok = (target_id == fids.get(binary) and integ.get("type") == "aws_proxy"
              and str(integ.get("payloadFormatVersion")) == "2.0")
        report.check(TEMPLATE, area, f"{key} -> {binary} (Lambda proxy, payload 2.0)", ok,
                     f"integration: function {target_id}, type {integ.get('type')}, "
                     f"payload {integ.get('payloadFormatVersion')}")
    # API Gateway may call each function: every permission for apigateway is scoped to this API.
    for name, perm in resources_of(translated, "AWS::Lambda::Permission").items():
        p = perm["Properties"]
        if p.get("Principal") != "apigateway.amazonaws.com":
            continue
        sub = p.get("SourceArn", {}).get("Fn::Sub")
        api_ref = sub[1].get("__ApiId__") if isinstance(sub, list) else None
        report.equal(TEMPLATE, area, f"{name} is scoped to this API", api_ref, {"Ref": api_id})


def check_stage(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    (sid, stage), = resources_of(translated, "AWS::ApiGatewayV2::Stage").items()
    p = stage["Properties"]
    (api_id, _), = resources_of(translated, "AWS::ApiGatewayV2::Api").items()
    report.equal(TEMPLATE, area, "stage of the HTTP API", p.get("ApiId"), {"Ref": api_id})
    report.equal(TEMPLATE, area, "StageName", p.get("StageName"), "$default")
    report.equal(TEMPLATE, area, "AutoDeploy", p.get("AutoDeploy"), True)
    # The throttling parameters resolve (default values here) to a usable limit: 0 would refuse
    # every request.
    resolve = Resolver(translated, parameter_values(translated))
    settings = p.get("DefaultRouteSettings", {})
    rate = float(resolve(settings.get("ThrottlingRateLimit", 0)))
    burst = float(resolve(settings.get("ThrottlingBurstLimit", 0)))
    report.check(TEMPLATE, area, "default route throttling is set and usable", rate > 0 and burst >= rate,
                 info=f"rate {rate:g}/s, burst {burst:g}")
    # Route-level settings: API Gateway refuses a stage whose RouteSettings name a route the API
    # does not have, so each key must be a declared route; its limits are tighter than the default.
    routes = expected_routes()
    for key, rs in sorted((p.get("RouteSettings") or {}).items()):
        report.check(TEMPLATE, area, f"route settings for {key} name a route of the API", key in routes)
        r_rate = float(resolve(rs.get("ThrottlingRateLimit", rate)))
        r_burst = float(resolve(rs.get("ThrottlingBurstLimit", burst)))
        report.check(TEMPLATE, area, f"{key} throttling is usable and within the default",
                     0 < r_rate <= rate and r_rate <= r_burst <= burst, info=f"rate {r_rate:g}/s, burst {r_burst:g}")


def check_outbox_stream(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    """The table's inserts of outbox items start the deliver function; a batch it fails on goes to
    its own queue. (moto may not create the mapping: checked here.)"""
    (tid, table), = resources_of(translated, "AWS::DynamoDB::Table").items()
    report.equal(TEMPLATE, area, "the table has a stream (keys only)",
                 table["Properties"].get("StreamSpecification"), {"StreamViewType": "KEYS_ONLY"})
    _, p = outbox_mapping(translated)
    report.equal(TEMPLATE, area, "reads the table's stream", p.get("EventSourceArn"), {"Fn::GetAtt": [tid, "StreamArn"]})
    report.equal(TEMPLATE, area, "into the deliver function", p.get("FunctionName"), {"Ref": fids[DELIVER_BINARY]})
    patterns = [json.loads(f["Pattern"]) for f in p.get("FilterCriteria", {}).get("Filters", [])]
    report.equal(TEMPLATE, area, "only inserts of outbox items pass its filter", patterns,
                 [{"eventName": ["INSERT"], "dynamodb": {"Keys": {"SK": {"S": [{"prefix": "OUTBOX#"}]}}}}])
    report.check(TEMPLATE, area, "a failing batch is retried a bounded number of times, halved",
                 0 <= int(p.get("MaximumRetryAttempts", -1)) <= 10 and p.get("BisectBatchOnFunctionError") is True)
    queue = deliver_queue(translated)
    report.check(TEMPLATE, area, "a batch that keeps failing goes to an SQS queue of the stack",
                 queue in resources_of(translated, "AWS::SQS::Queue") and queue != dispatch_queue(translated, fids),
                 f"OnFailure destination {queue!r}")


def check_dead_deliveries_metric(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    """The log line of a delivery given up (functions/deliver: `delivery dead-lettered`) is counted
    from the deliver function's log group, and an alarm watches the count."""
    (fid_, f), = resources_of(translated, "AWS::Logs::MetricFilter").items()
    p = f["Properties"]
    groups = {name: g for name, g in resources_of(translated, "AWS::Logs::LogGroup").items()}
    group = (p.get("LogGroupName") or {}).get("Ref")
    report.check(TEMPLATE, area, "reads the deliver function's log group",
                 group in groups and fids[DELIVER_BINARY] in json.dumps(groups[group]["Properties"].get("LogGroupName")))
    report.equal(TEMPLATE, area, "matches the log line of a delivery given up", p.get("FilterPattern"),
                 '{ $.fields.message = "delivery dead-lettered" }')
    (t,) = p.get("MetricTransformations", [])
    alarms = [a["Properties"] for a in resources_of(translated, "AWS::CloudWatch::Alarm").values()]
    watched = [a for a in alarms if a.get("Namespace") == t["MetricNamespace"] and a.get("MetricName") == t["MetricName"]]
    report.check(TEMPLATE, area, f"an alarm on {t['MetricNamespace']}/{t['MetricName']} fires at the first one",
                 len(watched) == 1 and float(watched[0].get("Threshold", -1)) == 0
                 and watched[0].get("ComparisonOperator") == "GreaterThanThreshold")


def check_mail(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    """The functions that send links name the sender, the configuration set and the app, and may
    send through SES with that set only (SendEmail, nothing more)."""
    (cid, _), = resources_of(translated, "AWS::SES::ConfigurationSet").items()
    res = translated["Resources"]
    for binary, fid in sorted(fids.items()):
        env = res[fid]["Properties"].get("Environment", {}).get("Variables", {})
        role = res[getatt_target(res[fid]["Properties"]["Role"])]["Properties"]
        statements = [st for pol in role.get("Policies", []) for st in as_list(pol["PolicyDocument"].get("Statement"))]
        on_ses = [st for st in statements if any(a.startswith("ses:") for a in as_list(st.get("Action")))]
        if binary not in MAIL_BINARIES:
            report.check(TEMPLATE, area, f"{binary}: sends no e-mail", not on_ses and "SES_FROM_ADDRESS" not in env)
            continue
        report.equal(TEMPLATE, area, f"{binary}: SES_CONFIGURATION_SET is the stack's set",
                     env.get("SES_CONFIGURATION_SET"), {"Ref": cid})
        report.check(TEMPLATE, area, f"{binary}: sender and app address are set",
                     bool(env.get("SES_FROM_ADDRESS")) and bool(env.get("APP_URL")))
        actions = sorted({a for st in on_ses for a in as_list(st.get("Action"))})
        resources = [json.dumps(r, sort_keys=True) for st in on_ses for r in as_list(st.get("Resource"))]
        report.equal(TEMPLATE, area, f"{binary}: may call ses:SendEmail and nothing else of SES", actions, ["ses:SendEmail"])
        report.check(TEMPLATE, area, f"{binary}: on the account's identities and the stack's configuration set only",
                     len(resources) == 2 and any(":identity/*" in r for r in resources)
                     and any(":configuration-set/${" + cid + "}" in r for r in resources), f"resources {resources}")


def check_queue_policy(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    qid = dispatch_queue(translated, fids)
    (pid, policy), = resources_of(translated, "AWS::SQS::QueuePolicy").items()
    p = policy["Properties"]
    report.equal(TEMPLATE, area, "applies to the dead-letter queue", p.get("Queues"), [{"Ref": qid}])
    statements = p.get("PolicyDocument", {}).get("Statement", [])
    allowing = [s for s in statements
                if s.get("Effect") == "Allow"
                and "events.amazonaws.com" in as_list(s.get("Principal", {}).get("Service"))
                and "sqs:SendMessage" in as_list(s.get("Action"))
                and getatt_target(s.get("Resource")) == qid]
    report.check(TEMPLATE, area, "EventBridge may send to the queue (sqs:SendMessage)", len(allowing) == 1)
    if allowing:
        cond = allowing[0].get("Condition", {})
        has_source = any("aws:SourceArn" in v for v in cond.values())
        report.check(TEMPLATE, area, "restricted by aws:SourceArn (confused deputy)", has_source)


# Lambda's own retries of a failed scheduled run: one, within two minutes (a later run supersedes it).
EXPECTED_EVENT_INVOKE_CONFIG = {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 120}


def check_event_invoke_config(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    (_, config), = resources_of(translated, "AWS::Lambda::EventInvokeConfig").items()
    p = config["Properties"]
    report.equal(TEMPLATE, area, "applies to the dispatcher", p.get("FunctionName"), {"Ref": fids[SCHEDULED_BINARY]})
    for name, want in EXPECTED_EVENT_INVOKE_CONFIG.items():
        report.equal(TEMPLATE, area, name, p.get(name), want)


def check_alarms(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    alarms = resources_of(translated, "AWS::CloudWatch::Alarm")

    def watching(namespace: str, metric: str, dim: str, target: dict) -> list[str]:
        found = []
        for name, a in alarms.items():
            p = a["Properties"]
            dims = {d["Name"]: d["Value"] for d in p.get("Dimensions", [])}
            if p.get("Namespace") == namespace and p.get("MetricName") == metric and dims.get(dim) == target:
                found.append(name)
        return found

    def fires_at_first(name: str) -> bool:
        p = alarms[name]["Properties"]
        return (p.get("ComparisonOperator") == "GreaterThanThreshold" and float(p.get("Threshold", -1)) == 0
                and int(p.get("EvaluationPeriods", 0)) == 1)

    first = []
    for binary, qid in [(SCHEDULED_BINARY, dispatch_queue(translated, fids)), (DELIVER_BINARY, deliver_queue(translated))]:
        dlq = watching("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName",
                       {"Fn::GetAtt": [qid, "QueueName"]})
        report.check(TEMPLATE, area, f"an alarm on messages in the {binary}'s dead-letter queue", len(dlq) == 1,
                     f"found {dlq}")
        errs = watching("AWS/Lambda", "Errors", "FunctionName", {"Ref": fids[binary]})
        report.check(TEMPLATE, area, f"an alarm on {binary} errors", len(errs) == 1, f"found {errs}")
        first += dlq + errs
    for name in first:
        report.check(TEMPLATE, area, f"{name} fires on the first occurrence (> 0, 1 period)", fires_at_first(name))
    silent = sorted(n for n, a in alarms.items() if not a["Properties"].get("AlarmActions"))
    if silent:
        report.note(f"alarms without AlarmActions (they change state but notify nobody): {', '.join(silent)}")


def check_signing_keys(report: Report, area: str, translated: dict, fids: dict[str, str]) -> None:
    """The key set that signs tokens and cursors: generated by the stack in the shape
    shared::signing::SigningKeys::parse accepts, and readable by the HTTP functions only."""
    secrets = resources_of(translated, "AWS::SecretsManager::Secret")
    report.equal(TEMPLATE, area, "the secrets are the signing keys and the VAPID key's", sorted(secrets),
                 ["SigningKeys", "VapidKey"])
    sid, secret = "SigningKeys", secrets["SigningKeys"]
    gen = secret["Properties"].get("GenerateSecretString") or {}
    try:
        shape = json.loads(gen.get("SecretStringTemplate", "{}"))
    except json.JSONDecodeError:
        shape = {}
    kid = gen.get("GenerateStringKey")
    report.check(TEMPLATE, area, "the generated secret is a key set whose active key is the generated one",
                 isinstance(shape, dict) and shape.get("active") == kid and bool(kid),
                 f"SecretStringTemplate {gen.get('SecretStringTemplate')!r}, GenerateStringKey {kid!r}")
    length = int(gen.get("PasswordLength", 32))  # Secrets Manager's default length is 32
    report.check(TEMPLATE, area, f"the generated key has at least {MIN_SECRET_LEN} bytes", length >= MIN_SECRET_LEN,
                 info=f"{length} characters")
    res = translated["Resources"]
    for binary, fid in sorted(fids.items()):
        env = res[fid]["Properties"].get("Environment", {}).get("Variables", {})
        role = res[getatt_target(res[fid]["Properties"]["Role"])]["Properties"]
        statements = [st for pol in role.get("Policies", []) for st in as_list(pol["PolicyDocument"].get("Statement"))]
        on_secrets = [st for st in statements
                      if any(a.startswith("secretsmanager:") for a in as_list(st.get("Action")))]
        vapid = [st for st in on_secrets if st.get("Resource") == {"Ref": "VapidKey"}]
        on_secrets = [st for st in on_secrets if st not in vapid]
        if binary in VAPID_READERS:
            report.equal(TEMPLATE, area, f"{binary}: VAPID_SECRET_ARN names the VAPID key's secret",
                         env.get("VAPID_SECRET_ARN"), {"Ref": "VapidKey"})
            report.equal(TEMPLATE, area, f"{binary}: may read the VAPID key's secret (GetSecretValue, nothing more)",
                         [statement_key(st) for st in vapid],
                         [statement_key({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                                         "Resource": {"Ref": "VapidKey"}})])
        else:
            report.check(TEMPLATE, area, f"{binary}: no access to the VAPID key's secret",
                         not vapid and "VAPID_SECRET_ARN" not in env)
        if binary in NON_HTTP:
            report.check(TEMPLATE, area, f"{binary}: no access to the signing keys",
                         not on_secrets and SIGNING_KEYS_ENV not in env)
            continue
        report.equal(TEMPLATE, area, f"{binary}: {SIGNING_KEYS_ENV} names the secret", env.get(SIGNING_KEYS_ENV),
                     {"Ref": sid})
        report.equal(TEMPLATE, area, f"{binary}: may read the secret (GetSecretValue on it, nothing more)",
                     [statement_key(st) for st in on_secrets],
                     [statement_key({"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                                     "Resource": {"Ref": sid}})])


# --- Stage 5b: checks against the emulator ---------------------------------------------------------


@dataclass
class Deployed:
    """What the emulator created, and what the emulator checks need to read it."""

    c: dict  # boto3 clients against moto, by service name
    translated: dict  # the translated template
    created: dict  # the stack's resources (describe_stack_resources rows) by logical id
    zips: dict[str, Path]  # binary -> artifact
    fids: dict[str, str]  # binary -> logical id of its function
    resolve: Resolver


def emulator_checks(report: Report, moto: MotoServer, translated: dict, created: dict,
                    zips: dict[str, Path]) -> set[str]:
    """Returns the resource types the emulator skipped."""
    E = EMULATOR
    res = translated["Resources"]
    skipped = {res[n]["Type"] for n in res if n not in created}
    report.check(E, "deployment", "every resource exists in the stack, but for types checked in the template",
                 skipped <= TEMPLATE_CHECKED_TYPES,
                 detail=f"skipped and not checked anywhere: {sorted(skipped - TEMPLATE_CHECKED_TYPES)}",
                 info=f"skipped: {', '.join(sorted(skipped)) or 'none'}")

    clients = {s: moto.client(s) for s in ("dynamodb", "lambda", "iam", "events", "sqs", "logs", "sts",
                                           "cloudformation")}
    d = Deployed(c=clients, translated=translated, created=created, zips=zips, fids=function_ids(translated),
                 resolve=build_resolver(clients, translated, created))
    groups = [
        (E, "DynamoDB table", check_table),
        (E, "Lambda functions", check_functions),
        (E, "Lambda environment", check_environment),
        (E, "IAM roles and inline policies", check_roles),
        (E, "Lambda invoke permissions", check_permissions),
        (E, "EventBridge schedule", check_schedule),
        (E, "SQS dead-letter queue", check_queue),
        (E, "CloudWatch log groups", check_log_groups),
        (E, "stack outputs", check_outputs),
        (TEMPLATE, "references resolved against the emulator", check_cross_references),
    ]
    for source, area, check in groups:
        report.guarded(source, area, check, d)
    return skipped


def build_resolver(c: dict, translated: dict, created: dict) -> Resolver:
    """A resolver that knows the physical ids, ARNs and names of what the emulator created, and
    refuses references to what it skipped."""
    r = Resolver(translated, parameter_values(translated))
    account = c["sts"].get_caller_identity()["Account"]
    r.refs.update({"AWS::Region": REGION, "AWS::AccountId": account, "AWS::Partition": "aws",
                   "AWS::StackName": STACK_NAME, "AWS::URLSuffix": "amazonaws.com"})
    r.skipped = set(translated["Resources"]) - set(created)
    for name, row in created.items():
        if "PhysicalResourceId" in row:
            r.refs[name] = row["PhysicalResourceId"]
        rtype = row["ResourceType"]
        phys = row.get("PhysicalResourceId")
        if rtype == "AWS::DynamoDB::Table":
            t = c["dynamodb"].describe_table(TableName=phys)["Table"]
            r.atts[(name, "Arn")] = t["TableArn"]
            if t.get("LatestStreamArn"):
                r.atts[(name, "StreamArn")] = t["LatestStreamArn"]
        elif rtype == "AWS::SQS::Queue":
            arn = c["sqs"].get_queue_attributes(QueueUrl=phys, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            r.atts[(name, "Arn")] = arn
            r.atts[(name, "QueueName")] = arn.rsplit(":", 1)[1]
        elif rtype == "AWS::Lambda::Function":
            r.atts[(name, "Arn")] = c["lambda"].get_function(FunctionName=phys)["Configuration"]["FunctionArn"]
        elif rtype == "AWS::IAM::Role":
            r.atts[(name, "Arn")] = c["iam"].get_role(RoleName=phys)["Role"]["Arn"]
        elif rtype == "AWS::Events::Rule":
            r.atts[(name, "Arn")] = c["events"].describe_rule(Name=phys)["Arn"]
    return r


def check_table(report: Report, area: str, d: Deployed) -> None:
    c, translated, created = d.c, d.translated, d.created
    (tid, table), = resources_of(translated, "AWS::DynamoDB::Table").items()
    name = created[tid]["PhysicalResourceId"]
    t = c["dynamodb"].describe_table(TableName=name)["Table"]
    report.equal(EMULATOR, area, "key schema", [(k["AttributeName"], k["KeyType"]) for k in t["KeySchema"]],
                 EXPECTED_TABLE_KEY)
    report.equal(EMULATOR, area, "attribute definitions",
                 {a["AttributeName"]: a["AttributeType"] for a in t["AttributeDefinitions"]}, EXPECTED_ATTRIBUTES)
    gsis = {g["IndexName"]: g for g in t.get("GlobalSecondaryIndexes", [])}
    report.equal(EMULATOR, area, "global secondary indexes", sorted(gsis), sorted(EXPECTED_GSIS))
    for ix, (hk, rk) in EXPECTED_GSIS.items():
        g = gsis.get(ix)
        if g is None:
            continue
        report.equal(EMULATOR, area, f"{ix} keys and projection",
                     ([(k["AttributeName"], k["KeyType"]) for k in g["KeySchema"]], g["Projection"]["ProjectionType"]),
                     ([(hk, "HASH"), (rk, "RANGE")], "ALL"))
    report.equal(EMULATOR, area, "no local secondary indexes", t.get("LocalSecondaryIndexes") or [], [])
    report.equal(EMULATOR, area, "billing mode", t.get("BillingModeSummary", {}).get("BillingMode"),
                 EXPECTED_BILLING_MODE)
    report.equal(EMULATOR, area, "deletion protection", t.get("DeletionProtectionEnabled"), True)
    # What moto says about the properties it ignores (checked in the template instead).
    ttl = c["dynamodb"].describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    pitr = c["dynamodb"].describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    pitr_status = pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    if ttl.get("TimeToLiveStatus") == "ENABLED" or pitr_status == "ENABLED":
        report.note("the emulator now applies TTL/PITR: these checks can move from the template to the emulator")
    print(f"     emulator reports TTL {ttl.get('TimeToLiveStatus')}, PITR {pitr_status}, "
          f"SSE {t.get('SSEDescription', {}).get('Status', 'not reported')} (not modelled; see template checks)")


def check_functions(report: Report, area: str, d: Deployed) -> None:
    c, translated, created, fids, resolve = d.c, d.translated, d.created, d.fids, d.resolve
    for binary in BINARIES:
        fid = fids.get(binary)
        if fid is None or fid not in created:
            report.check(EMULATOR, area, f"{binary}: function exists", False, "not in the stack")
            continue
        cfg = c["lambda"].get_function(FunctionName=created[fid]["PhysicalResourceId"])["Configuration"]
        props = translated["Resources"][fid]["Properties"]
        report.equal(EMULATOR, area, f"{binary}: runtime", cfg.get("Runtime"), EXPECTED_RUNTIME)
        report.equal(EMULATOR, area, f"{binary}: handler", cfg.get("Handler"), EXPECTED_HANDLER)
        report.equal(EMULATOR, area, f"{binary}: memory and timeout as the template says",
                     (cfg.get("MemorySize"), cfg.get("Timeout")), (props.get("MemorySize"), props.get("Timeout")))
        limit, why = {SCHEDULED_BINARY: (59, "under the 1-minute schedule"),
                      DELIVER_BINARY: (60, "within the lease of a claimed event (its attempt's timeout + 60 s)")}.get(
            binary, (HTTP_API_MAX_TIMEOUT, "within the HTTP API's 30 s"))
        report.check(EMULATOR, area, f"{binary}: timeout {cfg.get('Timeout')} s {why}",
                     1 <= cfg.get("Timeout", 0) <= limit)
        report.check(EMULATOR, area, f"{binary}: memory {cfg.get('MemorySize')} MB is valid",
                     128 <= cfg.get("MemorySize", 0) <= 10240)
        if binary in d.zips:
            data = d.zips[binary].read_bytes()
            digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
            report.equal(EMULATOR, area, f"{binary}: code is {binary}.zip (sha256)", cfg.get("CodeSha256"), digest)
        role_id = getatt_target(props.get("Role"))
        role_arn = c["iam"].get_role(RoleName=created[role_id]["PhysicalResourceId"])["Role"]["Arn"]
        report.equal(EMULATOR, area, f"{binary}: runs as its own role {role_id}", cfg.get("Role"), role_arn)
        reserved = resolve(props.get("ReservedConcurrentExecutions", NO_VALUE))
        concurrency = c["lambda"].get_function_concurrency(FunctionName=cfg["FunctionName"])
        actual = concurrency.get("ReservedConcurrentExecutions")
        expected = None if reserved is NO_VALUE else int(reserved)
        report.check(EMULATOR, area, f"{binary}: reserved concurrency as the template says", actual == expected,
                     f"expected {expected}, got {actual}", info=str(actual if actual is not None else "unreserved"))
        arch = cfg.get("Architectures")
        if arch == EXPECTED_ARCHITECTURES:
            report.note(f"{binary}: the emulator now reports Architectures; the check can move to the emulator")
    roles = [getatt_target(translated["Resources"][fids[b]]["Properties"]["Role"]) for b in BINARIES if b in fids]
    report.equal(EMULATOR, area, "no two functions share a role", len(set(roles)), len(roles))


def check_environment(report: Report, area: str, d: Deployed) -> None:
    c, translated, created, fids, resolve = d.c, d.translated, d.created, d.fids, d.resolve
    seen: dict[str, set[str]] = {k: set() for k in SAME_IN_EVERY_HTTP_FUNCTION}
    deferred_anywhere: set[str] = set()
    for binary in BINARIES:
        fid = fids.get(binary)
        if fid not in created:
            continue
        cfg = c["lambda"].get_function(FunctionName=created[fid]["PhysicalResourceId"])["Configuration"]
        env = {k: str(v) for k, v in cfg.get("Environment", {}).get("Variables", {}).items()}
        # A variable whose value refers to a resource the emulator skipped is dropped by moto; such
        # a variable is checked in the template (see "signing keys").
        declared = translated["Resources"][fid]["Properties"].get("Environment", {}).get("Variables", {})
        deferred = {k for k, v in declared.items() if references(v) & resolve.skipped}
        wanted = ENV_OF.get(binary, HTTP_ENV) - deferred
        report.equal(EMULATOR, area, f"{binary}: variable names", sorted(env), sorted(wanted))
        deferred_anywhere |= deferred
        report.check(EMULATOR, area, f"{binary}: no local-only or secret-bearing variables",
                     not (FORBIDDEN_ENV & set(env)), f"set: {sorted(FORBIDDEN_ENV & set(env))}")
        report.equal(EMULATOR, area, f"{binary}: TABLE_NAME is the stack's table", env.get("TABLE_NAME"),
                     resolve.ref("Table"))
        report.check(EMULATOR, area, f"{binary}: LOG_LEVEL is one the function accepts",
                     env.get("LOG_LEVEL") in LOG_LEVELS, f"LOG_LEVEL={env.get('LOG_LEVEL')!r}")
        for name, (lo, hi) in INT_RANGES.items():
            if name in env:
                v = env[name]
                report.check(EMULATOR, area, f"{binary}: {name}={v} is a whole number from {lo} to {hi}",
                             v.isdigit() and lo <= int(v) <= hi)
        if binary not in NON_HTTP:
            for k in seen:
                seen[k].add(env.get(k, "") if k not in deferred else json.dumps(declared.get(k)))
    if deferred_anywhere:
        print(f"     not in the emulator (their values refer to resources it skipped; checked in the template): "
              f"{', '.join(sorted(deferred_anywhere))}")
    for k, values in seen.items():
        report.check(EMULATOR, area, f"{k} is set, and the same in every HTTP function",
                     len(values) == 1 and "" not in values, f"values: {sorted(values)}")


def check_roles(report: Report, area: str, d: Deployed) -> None:
    c, translated, created, fids, resolve = d.c, d.translated, d.created, d.fids, d.resolve
    (tid, _), = resources_of(translated, "AWS::DynamoDB::Table").items()
    table_arn = resolve.att(tid, "Arn")
    index_arns = {f"{table_arn}/index/{ix}" for ix in EXPECTED_GSIS}
    stream_arn = resolve.atts.get((tid, "StreamArn"))
    stream_actions = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                      "dynamodb:ListStreams"}
    own_queue = {SCHEDULED_BINARY: dispatch_queue(translated, fids), DELIVER_BINARY: deliver_queue(translated)}
    for binary in BINARIES:
        fid = fids.get(binary)
        if fid not in created:
            continue
        role_id = getatt_target(translated["Resources"][fid]["Properties"]["Role"])
        role_name = created[role_id]["PhysicalResourceId"]
        role = c["iam"].get_role(RoleName=role_name)["Role"]
        trust = parse_policy(role["AssumeRolePolicyDocument"])
        principals = [p for s in trust.get("Statement", []) if s.get("Effect") == "Allow"
                      and "sts:AssumeRole" in as_list(s.get("Action"))
                      for p in as_list(s.get("Principal", {}).get("Service"))]
        report.equal(EMULATOR, area, f"{binary}: only Lambda may assume the role", principals, ["lambda.amazonaws.com"])

        # The inline policies the emulator holds are the template's, with every reference resolved
        # to a resource of this stack. A statement on a resource the emulator skipped (moto drops
        # its Resource) is left to the template checks.
        actual = []
        for n in c["iam"].list_role_policies(RoleName=role_name)["PolicyNames"]:
            doc = parse_policy(c["iam"].get_role_policy(RoleName=role_name, PolicyName=n)["PolicyDocument"])
            # (moto keeps a `${X}` of a skipped resource as it is: such a statement is the template's to check.)
            actual += [statement_key(s) for s in as_list(doc.get("Statement", []))
                       if s.get("Resource") is not None and "${" not in json.dumps(s.get("Resource"))]
        declared, unresolved = [], []
        for pol in translated["Resources"][role_id]["Properties"].get("Policies", []):
            for st in as_list(pol["PolicyDocument"].get("Statement", [])):
                try:
                    declared.append(statement_key(resolve(st)))
                except Skipped:
                    pass
                except Unresolved as e:
                    unresolved.append(str(e))
        report.check(EMULATOR, area, f"{binary}: every policy reference names a resource of the stack",
                     not unresolved, f"unresolved: {unresolved}")
        report.equal(EMULATOR, area, f"{binary}: inline policy statements as declared",
                     sorted(actual), sorted(declared))

        # Least privilege: explicit DynamoDB actions on this table or its existing indexes only.
        for effect, actions, resources, _ in actual:
            if not any(a.startswith("dynamodb:") for a in actions):
                continue
            wild = [a for a in actions if "*" in a]
            on_stream = set(actions) <= stream_actions and stream_arn is not None and list(resources) == [stream_arn]
            stray = [] if on_stream else [r for r in resources if r != table_arn and r not in index_arns]
            kind = ("indexes " + ",".join(sorted(r.rsplit("/", 1)[1] for r in resources))
                    if resources and all(r in index_arns for r in resources)
                    else "stream" if on_stream else "table")
            report.check(EMULATOR, area,
                         f"{binary}: {effect} {','.join(a.split(':', 1)[-1] for a in actions)} on the {kind}",
                         effect == "Allow" and not wild and not stray and bool(resources),
                         f"wildcard actions {wild}; resources outside the table and its indexes {stray}")
        services = sorted({a.split(":")[0] for _, actions, _, _ in actual for a in actions})
        allowed = ["dynamodb"] + (["sqs"] if binary in NON_HTTP else []) + (["ses"] if binary in MAIL_BINARIES else [])
        report.check(EMULATOR, area, f"{binary}: no other services than {'/'.join(allowed)} "
                     "(the signing keys' statement is checked in the template)",
                     set(services) <= set(allowed), f"services: {services}")
        if binary in NON_HTTP:
            dlq_arn = resolve.att(own_queue[binary], "Arn")
            ok = any("sqs:SendMessage" in a and r == (dlq_arn,) for _, a, r, _ in actual)
            report.check(EMULATOR, area, f"{binary}: may send to its dead-letter queue", ok)
        attached = c["iam"].list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        if attached:
            report.note(f"{binary}: the emulator now reports managed policies ({attached}); "
                        "the check can move to the emulator")


def check_permissions(report: Report, area: str, d: Deployed) -> None:
    """API Gateway may invoke each function for each of its routes (as the Lambda resource policy,
    which the emulator holds, says). The API id itself is not known to the emulator."""
    c, created, fids, resolve = d.c, d.created, d.fids, d.resolve
    account = resolve.ref("AWS::AccountId")
    prefix = f"arn:aws:execute-api:{REGION}:{account}:"
    routes_by_binary: dict[str, list[str]] = {}
    for key, binary in expected_routes().items():
        routes_by_binary.setdefault(binary, []).append(key)
    for binary, keys in sorted(routes_by_binary.items()):
        fid = fids.get(binary)
        if fid not in created:
            report.check(EMULATOR, area, f"{binary}: function exists", False)
            continue
        policy = json.loads(c["lambda"].get_policy(FunctionName=created[fid]["PhysicalResourceId"])["Policy"])
        patterns = []
        for s in policy.get("Statement", []):
            principal = s.get("Principal", {})
            principal = principal.get("Service") if isinstance(principal, dict) else principal
            if principal == "apigateway.amazonaws.com" and s.get("Action") == "lambda:InvokeFunction":
                arn = s.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn", "")
                if arn.startswith(prefix) and "/" in arn:
                    patterns.append(arn[len(prefix):].split("/", 1)[1])  # after "<api id>/"
        for key in sorted(keys):
            path = "/deploy-check/unrouted" if key == "$default" else key.split(" ", 1)[1]
            sample = "$default/GET" + re.sub(r"\{[^}]+\}", "x1", path)
            ok = any(fnmatch.fnmatchcase(sample, p) for p in patterns)
            report.check(EMULATOR, area, f"{binary}: API Gateway may invoke it for {key}", ok,
                         f"source ARN patterns: {patterns}")


def check_schedule(report: Report, area: str, d: Deployed) -> None:
    c, translated, created, fids, resolve = d.c, d.translated, d.created, d.fids, d.resolve
    fn_arn = resolve.att(fids[SCHEDULED_BINARY], "Arn")
    qid = dispatch_queue(translated, fids)
    rule_arns, groups = [], []
    for rid in rules_of(translated, fids[SCHEDULED_BINARY]):
        rule_name = created[rid]["PhysicalResourceId"]
        rule = c["events"].describe_rule(Name=rule_name)
        rule_arns.append(rule["Arn"])
        report.equal(EMULATOR, area, f"{rid}: schedule expression", rule.get("ScheduleExpression"), EXPECTED_SCHEDULE)
        report.equal(EMULATOR, area, f"{rid}: rule is enabled", rule.get("State"), "ENABLED")
        targets = c["events"].list_targets_by_rule(Rule=rule_name)["Targets"]
        report.equal(EMULATOR, area, f"{rid}: one target, the dispatcher", [t["Arn"] for t in targets], [fn_arn])
        if targets:
            report.equal(EMULATOR, area, f"{rid}: retry policy", targets[0].get("RetryPolicy"), EXPECTED_RETRY_POLICY)
            report.equal(EMULATOR, area, f"{rid}: undeliverable events go to the dead-letter queue",
                         targets[0].get("DeadLetterConfig", {}).get("Arn"), resolve.att(qid, "Arn"))
            group = json.loads(targets[0].get("Input") or "{}").get("dispatch_group")
            groups.append((group or {}).get("index"))
            report.equal(EMULATOR, area, f"{rid}: its event names a dispatch group of {DISPATCH_GROUPS}",
                         (group or {}).get("of"), DISPATCH_GROUPS)
    report.equal(EMULATOR, area, "one schedule per dispatch group, each group once", sorted(groups, key=str),
                 list(range(DISPATCH_GROUPS)))
    policy = json.loads(c["lambda"].get_policy(
        FunctionName=created[fids[SCHEDULED_BINARY]]["PhysicalResourceId"])["Policy"])
    invokers = [((s.get("Principal") or {}).get("Service"),
                 s.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")) for s in policy.get("Statement", [])]
    report.equal(EMULATOR, area, "the schedules, and nothing else, may invoke the dispatcher", sorted(invokers),
                 sorted(("events.amazonaws.com", arn) for arn in rule_arns))
    # The delivery's retries: every minute, an event not handed over is not kept (the next one
    # comes a minute later and finds the same due items).
    rid = rule_of(translated, fids[DELIVER_BINARY])
    rule = c["events"].describe_rule(Name=created[rid]["PhysicalResourceId"])
    report.equal(EMULATOR, area, "deliver: schedule expression", rule.get("ScheduleExpression"), EXPECTED_SCHEDULE)
    targets = c["events"].list_targets_by_rule(Rule=created[rid]["PhysicalResourceId"])["Targets"]
    report.equal(EMULATOR, area, "deliver: one target, the deliver function", [t["Arn"] for t in targets],
                 [resolve.att(fids[DELIVER_BINARY], "Arn")])


def check_queue(report: Report, area: str, d: Deployed) -> None:
    c, translated, created = d.c, d.translated, d.created
    for qid in sorted(resources_of(translated, "AWS::SQS::Queue")):
        attrs = c["sqs"].get_queue_attributes(QueueUrl=created[qid]["PhysicalResourceId"],
                                              AttributeNames=["All"])["Attributes"]
        report.equal(EMULATOR, area, f"{qid}: message retention (14 days)",
                     int(attrs.get("MessageRetentionPeriod", 0)), EXPECTED_DLQ_RETENTION_SECONDS)
        report.equal(EMULATOR, area, f"{qid}: SSE-SQS encryption", attrs.get("SqsManagedSseEnabled"), "true")
        report.check(EMULATOR, area, f"{qid}: a standard queue (dead-letter queues of these sources cannot be FIFO)",
                     attrs.get("FifoQueue", "false") == "false")


def check_log_groups(report: Report, area: str, d: Deployed) -> None:
    c, created, fids, resolve = d.c, d.created, d.fids, d.resolve
    retention = int(resolve.ref("LogRetentionDays"))
    groups = {}
    for page in c["logs"].get_paginator("describe_log_groups").paginate(logGroupNamePrefix="/aws/lambda/"):
        groups.update({g["logGroupName"]: g for g in page["logGroups"]})
    for binary in BINARIES:
        fid = fids.get(binary)
        if fid not in created:
            continue
        name = f"/aws/lambda/{created[fid]['PhysicalResourceId']}"
        g = groups.get(name)
        report.equal(EMULATOR, area, f"{binary}: its log group keeps logs {retention} days",
                     g and g.get("retentionInDays"), retention)


def check_outputs(report: Report, area: str, d: Deployed) -> None:
    c, translated, resolve = d.c, d.translated, d.resolve
    stack = c["cloudformation"].describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    report.equal(EMULATOR, area, "TableName is the table", outputs.get("TableName"), resolve.ref("Table"))
    api = translated["Outputs"].get("ApiUrl", {}).get("Value")
    (api_id, _), = resources_of(translated, "AWS::ApiGatewayV2::Api").items()
    report.check(TEMPLATE, area, "ApiUrl is built from the HTTP API's id",
                 f"${{{api_id}}}.execute-api." in (sub_text(api) or ""), f"ApiUrl = {api}")


def check_cross_references(report: Report, area: str, d: Deployed) -> None:
    """Template-only resources whose references must land on resources the emulator created."""
    translated, resolve = d.translated, d.resolve
    rule_arns = [resolve.att(rid, "Arn") for rid in rules_of(translated, d.fids[SCHEDULED_BINARY])]
    (pid, policy), = resources_of(translated, "AWS::SQS::QueuePolicy").items()
    for s in policy["Properties"]["PolicyDocument"].get("Statement", []):
        for op, cond in s.get("Condition", {}).items():
            for key, pattern in cond.items():
                if key.lower() == "aws:sourcearn":
                    resolved = resolve(pattern)
                    for rule_arn in rule_arns:
                        report.check(TEMPLATE, area, f"queue policy's {op} aws:SourceArn admits the deployed rule {rule_arn}",
                                     any(fnmatch.fnmatchcase(rule_arn, p) for p in as_list(resolved)),
                                     detail=f"{resolved} vs {rule_arn}", info=str(resolved))
    for name, alarm in sorted(resources_of(translated, "AWS::CloudWatch::Alarm").items()):
        for dim in alarm["Properties"].get("Dimensions", []):
            try:
                value = resolve(dim["Value"])
                report.check(TEMPLATE, area, f"{name}: dimension {dim['Name']} is a deployed resource", True,
                             info=str(value))
            except Unresolved as e:
                report.check(TEMPLATE, area, f"{name}: dimension {dim['Name']} is a deployed resource", False, str(e))


# --- Main ------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", type=Path, required=True, help="the SAM template (infra/template.yaml)")
    ap.add_argument("--artifacts", type=Path, required=True, help="directory with <binary>.zip per function")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "target" / "deploy-check",
                    help="where translated.json and moto.log go (default: target/deploy-check)")
    ap.add_argument("--skip-sam-validate", action="store_true",
                    help="skip `sam validate --lint` (quicker; for iterating on this script only)")
    args = ap.parse_args()

    # `make` stopped (SIGTERM): unwind, so that moto_server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    print(f"deploy-check: {args.template} with artifacts from {args.artifacts}")
    print(f"  aws-sam-cli {version('aws-sam-cli')}, aws-sam-translator {version('aws-sam-translator')}, "
          f"moto {version('moto')}, boto3 {version('boto3')}")
    report = Report()

    zips = check_artifacts(report, args.artifacts)
    if args.skip_sam_validate:
        report.note("sam validate --lint skipped (--skip-sam-validate)")
    else:
        sam_validate(report, args.template)
    translated = translate(report, args.template, args.out_dir)
    skipped: set[str] = set()
    if translated is not None:
        template_checks(report, translated)
        try:
            with MotoServer(args.out_dir / "moto.log") as moto:
                created = deploy(report, moto, zips, translated)
                if created is not None:
                    skipped = emulator_checks(report, moto, translated, created, zips)
        except RuntimeError as e:
            report.check(EMULATOR, "deployment", "moto_server runs", False, str(e))
        except (ClientError, BotoCoreError) as e:
            report.check(EMULATOR, "deployment", "the emulator answers", False, f"{type(e).__name__}: {e}")
    return report.summary(skipped, started)


if __name__ == "__main__":
    sys.exit(main())
