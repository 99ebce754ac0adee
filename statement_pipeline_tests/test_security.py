# Over 350 lines: one module per concern; the repository scan, key safety and credential
# checks share their fixtures and corpus of secret-looking literals here.
"""Security: no secrets or machine paths in the repository, safe S3 keys, credentials only
from the standard AWS chain and never in a run's logs, and the `iam-policy` command."""

from __future__ import annotations

import ast
import json
import logging
import os
import random
import re
import secrets
import shutil
import string
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from statement_harness.scenarios import put_files, run_in_process, setup_aws
from statement_pipeline import cli
from statement_pipeline.aws.s3_files import list_month_files
from statement_pipeline.definitions import defs
from statement_pipeline.resources import DynamoDBResource, ImportTuning, SQSResource
from statement_pipeline.rules import s3_layout as layout
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.iam_lint import lint_policy
from statement_pipeline.rules.iam_policy import bootstrap_policy, run_policy
from statement_pipeline.rules.names import Names
from statement_pipeline_tests.conftest import REGION
from statement_samples import generate_rows, render_csv

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "statement_pipeline"
MONTH = "2026-10"

# --- scanning the repository ----------------------------------------------------------------

# Build output, caches and local state that .gitignore keeps out of the repository; used only
# when git cannot list the files (a source archive instead of a clone).
_SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".dagster_home",
    ".local-aws",
    "build",
    "dist",
    "node_modules",
}
_MAX_SCANNED_BYTES = 5 * 1024 * 1024

ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
# A long base64-looking value assigned (=, :, =>) to a secret-ish name, quoted or not.
SECRET_ASSIGNMENT = re.compile(
    r"(?i)(?:secret|passw(?:or)?d|token|credential|private[_-]?key|api[_-]?key)"
    r"[A-Za-z0-9_.-]*[\"']?\s*(?:=>|:|=)\s*[bru]{0,2}[\"']?([A-Za-z0-9/+=]{40,})"
)
PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
HOME_PATH = re.compile(
    r"(?<![\w.:/-])/(?:home|Users|root)/[A-Za-z0-9_.-]+|\b[A-Za-z]:\\{1,2}Users\\{1,2}"
)


def _looks_random(value: str) -> bool:
    """A generated secret mixes cases and digits; names and placeholders rarely do."""
    return all(re.search(pattern, value) for pattern in ("[a-z]", "[A-Z]", "[0-9]"))


def _machine_paths(extra: tuple[Path, ...] = ()) -> list[re.Pattern[str]]:
    """This checkout's own location and its parent, the home directory, pytest's temp root."""
    candidates = {ROOT, ROOT.parent, Path.home(), *extra}
    return [
        re.compile(rf"(?<![\w.-]){re.escape(str(path))}(?![\w.-])")
        for path in sorted(candidates)
        if path.is_absolute() and len(path.parts) > 1
    ]


def find_problems(text: str, machine_paths: list[re.Pattern[str]]) -> list[str]:
    """Every credential-looking literal and machine path in `text`, as `rule: match` lines."""
    problems = [f"aws-access-key-id: {m.group(0)}" for m in ACCESS_KEY_ID.finditer(text)]
    problems += [
        f"secret-assignment: {m.group(0)[:60]}"
        for m in SECRET_ASSIGNMENT.finditer(text)
        if _looks_random(m.group(1))
    ]
    problems += [f"private-key: {m.group(0)}" for m in PRIVATE_KEY.finditer(text)]
    problems += [f"home-path: {m.group(0)}" for m in HOME_PATH.finditer(text)]
    for pattern in machine_paths:
        problems += [f"machine-path: {m.group(0)}" for m in pattern.finditer(text)]
    return problems


def repository_files() -> list[Path]:
    """The files that are, or would be, committed: git's list, or a walk without git."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        if listed.returncode == 0:
            names = listed.stdout.decode("utf-8", "surrogateescape").split("\0")
            # A tracked file deleted in the working tree is not there to scan.
            return [ROOT / name for name in names if name and (ROOT / name).is_file()]
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        found += [Path(folder) / name for name in files]
    return found


def _text_of(path: Path) -> str | None:
    """The file as text, or None for binary and oversized files."""
    if path.stat().st_size > _MAX_SCANNED_BYTES:
        return None
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", "replace")


def test_repository_holds_no_credentials_or_machine_paths(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    files = repository_files()
    # The scan really covers the project: its package, its tests and this file.
    relative = {path.relative_to(ROOT).as_posix() for path in files}
    assert {"pyproject.toml", "statement_pipeline/cli/__init__.py"} <= relative
    assert "statement_pipeline_tests/test_security.py" in relative
    machine_paths = _machine_paths((tmp_path_factory.getbasetemp().parent,))

    problems = {}
    for path in files:
        text = _text_of(path)
        found = find_problems(text, machine_paths) if text is not None else []
        if found:
            problems[path.relative_to(ROOT).as_posix()] = found

    assert problems == {}


def test_the_scan_finds_each_kind_of_problem() -> None:
    # Built at run time so that this file itself never holds a matching literal.
    key_id = "AKIA" + "Q7" * 8
    alphabet = string.ascii_letters + string.digits + "/+"
    secret = "".join(random.Random(7).choices(alphabet, k=37)) + "Aa1"
    text = "\n".join(
        [
            f"aws_access_key_id = {key_id}",
            f'AWS_SECRET_ACCESS_KEY: "{secret}"',
            f"db_password => '{secret}'",
            "-----BEGIN " + "RSA PRIVATE KEY-----",
            "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
            "cd /home" + "/alice/project",
            "C:" + "\\\\Users\\\\bob",
            f"python {ROOT}/statement_pipeline/cli.py",
        ]
    )

    rules = [problem.split(":")[0] for problem in find_problems(text, _machine_paths())]

    assert rules.count("aws-access-key-id") == 1
    assert rules.count("secret-assignment") == 2
    assert rules.count("private-key") == 2
    assert rules.count("home-path") >= 2
    assert "machine-path" in rules


def test_the_scan_leaves_placeholders_and_look_alikes_alone() -> None:
    text = "\n".join(
        [
            'AWS_SECRET_ACCESS_KEY = "testing"',
            '"aws_secret_access_key": None',
            "AKIA" + "SHORT",
            # A long value under a harmless name, and a hex digest under a secret-ish one.
            'COLUMN_ORDER = "statementidaccountidperiodissuedoncurrency"',
            "etag_token = " + "0123456789abcdef" * 3,
            "see https://example.com/home/docs and s3://bucket/Users/x",
        ]
    )

    assert find_problems(text, []) == []


# --- S3 keys come from validated month folders only ----------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "statements/2026-10/../2026-11/a.csv",
        "statements/2026-10/sub/../../../a.csv",
        "statements/2026-10/./a.csv",
        "statements/2026-10//a.csv",
        "statements/2026-10/sub/..",
        "/statements/2026-10/a.csv",
        "/etc/2026-10/a.csv",
        "rejects/2026-10/a.rejects.csv",
        "statements/2026-11/a.csv",
        "statements/2026-10/a.txt",
        "statements/2026-10",
    ],
)
def test_rejects_key_refuses_path_tricks(key: str) -> None:
    with pytest.raises(ValueError, match="rejects are only written"):
        layout.rejects_key("statements/", MONTH, key)


@pytest.mark.parametrize("month", ["../2026-10", "2026-10/../2026-11", "2026-10/", "", "2026-1"])
def test_rejects_key_refuses_a_month_that_is_not_a_month(month: str) -> None:
    with pytest.raises(ValueError, match="month"):
        layout.rejects_key("statements/", month, f"statements/{month}/a.csv")


@pytest.mark.parametrize(
    ("prefix", "key"),
    [
        ("statements/", "statements/2026-10/a.csv"),
        ("statements/", "statements/2026-10/deep/er/a.CSV"),
        ("statements/", "statements/2026-10/..\\..\\a.csv"),
        ("statements/", "statements/2026-10/%2e%2e/a.csv"),
        ("statements/", "statements/2026-10/...csv"),
        ("statements/", "statements/2026-10/ spaced name .csv"),
        ("", "2026-10/a.csv"),
        ("in/coming/", "in/coming/2026-10/x/y.csv"),
    ],
)
def test_rejects_keys_stay_in_the_months_rejects_folder(prefix: str, key: str) -> None:
    target = layout.rejects_key(prefix, MONTH, key)

    assert target.startswith(f"rejects/{MONTH}/")
    assert target.endswith(layout.REJECTS_SUFFIX)
    # S3 keys are literal strings; these segments are what a path-joining reader would follow.
    assert not {"", ".", ".."} & set(target.split("/"))


def test_rejects_objects_are_never_read_as_input() -> None:
    # With the months at the bucket root, rejects/ is not a month folder.
    verdict = layout.classify_key("", f"rejects/{MONTH}/a.rejects.csv")
    assert verdict.month is None
    with pytest.raises(ValueError, match="rejects are only written"):
        layout.rejects_key("", MONTH, f"rejects/{MONTH}/a.rejects.csv")


def test_only_clean_keys_of_the_month_folder_become_files(aws: None) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="statements", CreateBucketConfiguration={"LocationConstraint": REGION})
    clean = ["statements/2026-10/a.csv", "statements/2026-10/sub/b.csv"]
    tricky = [
        "statements/2026-10/../2026-11/c.csv",
        "statements/2026-10/./d.csv",
        "statements/2026-10//e.csv",
        "statements/2026-10/sub/../f.csv",
    ]
    for key in clean + tricky:
        s3.put_object(Bucket="statements", Key=key, Body=b"statement_id\n")

    listing = list_month_files(s3, "statements", "statements/", MONTH)

    assert [ref.key for ref in listing.files] == clean
    assert sorted(key for key, _ in listing.ignored) == sorted(tricky)
    assert [layout.rejects_key("statements/", MONTH, ref.key) for ref in listing.files] == [
        f"rejects/{MONTH}/a.rejects.csv",
        f"rejects/{MONTH}/sub/b.rejects.csv",
    ]


# --- credentials: only the standard chain, never in a run's output --------------------------

_CREDENTIAL_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


class _RecordingEnviron(Mapping[str, str]):
    """An environment that remembers which variables were looked up."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return self._values.get(name, default)

    def __contains__(self, name: object) -> bool:
        self.read.add(str(name))
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("Names.from_env must look up its variables, not list them all")

    def __len__(self) -> int:
        return len(self._values)


def test_names_read_only_the_statement_variables() -> None:
    environ = _RecordingEnviron(
        {
            "STATEMENT_BUCKET": "b",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "y",
            "AWS_SESSION_TOKEN": "z",
        }
    )

    assert Names.from_env(environ).bucket == "b"
    assert environ.read
    assert {name for name in environ.read if not name.startswith("STATEMENT_")} == set()


def _credential_reads(tree: ast.AST) -> list[int]:
    """Lines that look up a credential variable: environ[...], environ.get(...), getenv(...)."""
    lines = []
    for node in ast.walk(tree):
        looked_up: ast.expr | None = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            looked_up = node.slice
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("get", "getenv", "pop"):
                looked_up = node.args[0]
        if isinstance(looked_up, ast.Constant) and looked_up.value in _CREDENTIAL_VARIABLES:
            lines.append(node.lineno)
    return lines


def test_the_package_never_reads_credential_variables_itself() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 10

    reads = {
        path.relative_to(ROOT).as_posix(): lines
        for path in sources
        if (lines := _credential_reads(ast.parse(path.read_text(encoding="utf-8"))))
    }

    assert reads == {}
    # The check itself sees such a read.
    assert _credential_reads(ast.parse('os.environ.get("AWS_SECRET_ACCESS_KEY")')) == [1]
    assert _credential_reads(ast.parse('os.environ["AWS_ACCESS_KEY_ID"]')) == [1]


def _credential_fields(config: Mapping[str, Any]) -> dict[str, Any]:
    """Credential fields of a resource's config, nested resources included."""
    found = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            found.update({f"{key}.{k}": v for k, v in _credential_fields(value).items()})
        elif key in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"):
            found[key] = value
    return found


def test_resources_hold_no_credentials() -> None:
    # Left empty, boto3's default chain supplies them at run time: nothing for Dagster to
    # store in run config or show in the UI.
    for name, resource in defs().resources.items():
        if isinstance(resource, ImportTuning):
            continue
        fields = _credential_fields(resource.model_dump())
        assert len(fields) >= 3, name
        assert set(fields.values()) == {None}, name


def _signing_key(client: Any, service: str, operation: str) -> str:
    """The access key id `client` signs `operation` with (from its Authorization header)."""
    seen: list[str] = []

    def record(request: Any, **_: Any) -> None:
        header = request.headers["Authorization"]
        header = header.decode() if isinstance(header, bytes) else str(header)
        match = re.search(r"Credential=([^/]+)/", header)
        seen.append(match.group(1) if match else "")

    # More specific than moto's own before-send handler, so it runs first.
    client.meta.events.register(f"before-send.{service}.{operation}", record)
    getattr(client, _method(client, operation))()
    return seen[-1]


def _method(client: Any, operation: str) -> str:
    return next(m for m, op in client.meta.method_to_api_mapping.items() if op == operation)


@pytest.mark.parametrize(
    ("make", "service", "operation"),
    [(SQSResource, "sqs", "ListQueues"), (DynamoDBResource, "dynamodb", "ListTables")],
    ids=["sqs", "dynamodb"],
)
def test_clients_take_credentials_from_the_environment_when_they_are_made(
    aws: None, monkeypatch: pytest.MonkeyPatch, make: Any, service: str, operation: str
) -> None:
    resource = make()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "FIRSTFAKEKEYID")
    first = _signing_key(resource.get_client(), service, operation)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "SECONDFAKEKEYID")
    second = _signing_key(resource.get_client(), service, operation)

    assert (first, second) == ("FIRSTFAKEKEYID", "SECONDFAKEKEYID")


def test_an_import_prints_and_records_no_credential(
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Fake credentials distinctive enough to search for ("testing" is an ordinary word).
    credentials = {
        "AWS_ACCESS_KEY_ID": "FAKEKEYID" + secrets.token_hex(6).upper(),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
        "AWS_SESSION_TOKEN": secrets.token_urlsafe(60),
    }
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG, logger="statement_pipeline")
    setup_aws()
    rows = list(generate_rows(MONTH, 120))
    bad = (*rows[0][:4], "eur", *rows[0][5:])
    put_files(MONTH, [("a.csv", render_csv(COLUMNS, [*rows[1:], bad]))])
    home = tmp_path / "dagster"

    report = run_in_process(MONTH, home)

    assert report.success, report.failure
    assert {check.name: check.passed for check in report.checks} == {
        "table_count_matches_valid_rows": True,
        "queue_drained": True,
        "no_rejected_rows": False,
        "reject_rate_below_limit": True,
    }
    outputs = {
        "stdout/stderr": "".join(capfd.readouterr()),
        "log records": caplog.text,
        "run report": repr(report),
    }
    stored = [path for path in home.rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in stored)
    for path in stored:
        outputs[path.name] = path.read_bytes().decode("utf-8", "replace")
    assert "2026-10" in outputs["stdout/stderr"] + outputs["log records"]
    for where, text in outputs.items():
        for name, value in credentials.items():
            assert value not in text, f"{name} in {where}"


# --- statement-pipeline iam-policy ----------------------------------------------------------


def _iam_policy(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["iam-policy", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_iam_policy_prints_the_exact_run_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _iam_policy(capsys, "--account-id", "123456789012", "--region", REGION)

    assert code == 0, err
    policy = json.loads(out)
    assert policy == run_policy(Names(), account_id="123456789012", region=REGION)
    assert lint_policy(policy) == []
    resources = {r for s in policy["Statement"] for r in _as_list(s["Resource"])}
    assert resources == {
        "arn:aws:s3:::statements",
        "arn:aws:s3:::statements/statements/*",
        "arn:aws:s3:::statements/rejects/*",
        f"arn:aws:sqs:{REGION}:123456789012:statement-records",
        f"arn:aws:sqs:{REGION}:123456789012:statement-records-dlq",
        f"arn:aws:dynamodb:{REGION}:123456789012:table/statements",
    }
    for statement in policy["Statement"]:
        assert all("*" not in action for action in statement["Action"])
        if {"s3:PutObject", "s3:DeleteObject"} & set(statement["Action"]):
            assert _as_list(statement["Resource"]) == ["arn:aws:s3:::statements/rejects/*"]
    assert err == ""


def test_iam_policy_uses_the_configured_names(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "STATEMENT_BUCKET": "acme-in",
        "STATEMENT_PREFIX": "monthly",
        "STATEMENT_QUEUE": "acme-q",
        "STATEMENT_TABLE": "acme-t",
    }.items():
        monkeypatch.setenv(name, value)

    code, out, err = _iam_policy(capsys)

    assert code == 0
    text = json.dumps(json.loads(out))
    for arn in (
        "arn:aws:s3:::acme-in/monthly/*",
        "arn:aws:sqs:*:*:acme-q-dlq",
        "arn:aws:dynamodb:*:*:table/acme-t",
    ):
        assert arn in text
    assert "statements" not in text
    # Without account and region the operator is told what the '*' segments mean.
    assert "--account-id" in err


def test_iam_policy_bootstrap_prints_the_bootstrap_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _iam_policy(capsys, "--bootstrap", "--region", "cn-north-1")

    assert code == 0
    assert json.loads(out) == bootstrap_policy(Names(), region="cn-north-1", partition="aws-cn")
    assert '"s3:CreateBucket"' in out
    assert '"dynamodb:BatchWriteItem"' not in out


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("STATEMENT_BUCKET", "*", "no-broad-resources"),
        ("STATEMENT_QUEUE", "statement-*", "no-broad-resources"),
        ("STATEMENT_PREFIX", "in*coming/", "no-broad-resources"),
    ],
)
def test_iam_policy_refuses_to_print_a_policy_that_breaks_the_rules(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    rule: str,
) -> None:
    monkeypatch.setenv(variable, value)

    code, out, err = _iam_policy(capsys)

    assert code == 1
    assert out == ""
    assert f"violates {rule}" in err


@pytest.mark.parametrize(
    "args", [("--account-id", "12345"), ("--region", "*"), ("--account-id", "1234567890123")]
)
def test_iam_policy_rejects_a_bad_account_or_region(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    code, out, err = _iam_policy(capsys, *args)

    assert code == 2
    assert out == ""
    assert "iam-policy:" in err
