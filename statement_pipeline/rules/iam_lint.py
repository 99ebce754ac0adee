"""Static checks of the IAM policies `iam_policy` writes: least privilege, no wildcards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from statement_pipeline.rules.iam_policy import POLICY_VERSION, UNSCOPED_ACTIONS
from statement_pipeline.rules.s3_layout import REJECTS_ROOT

# --- static checks -------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _as_list(policy.get("Statement")) if isinstance(s, dict)]


def _label(index: int, statement: dict[str, Any]) -> str:
    return f"statement {statement.get('Sid') or index}"


def _check_shape(policy: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if policy.get("Version") != POLICY_VERSION:
        problems.append(f"policy Version must be {POLICY_VERSION!r}")
    statements = _as_list(policy.get("Statement"))
    if not statements:
        problems.append("policy has no statements")
    seen: set[str] = set()
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            problems.append(f"statement {index} is not an object")
            continue
        sid = statement.get("Sid")
        if not sid:
            problems.append(f"statement {index} has no Sid")
        elif sid in seen:
            problems.append(f"Sid {sid!r} is used twice")
        else:
            seen.add(sid)
        if statement.get("Effect") not in ("Allow", "Deny"):
            problems.append(f"{_label(index, statement)}: Effect must be Allow or Deny")
    return problems


def _check_listed(
    policy: dict[str, Any],
    key: str,
    problem_of: Callable[[str], str | None],
    spell_out: str,
    exempt: Callable[[dict[str, Any]], bool] = lambda statement: False,
) -> list[str]:
    """Problems of every statement's `key` (Action or Resource) list, and of Not<key>."""
    problems: list[str] = []
    for index, statement in enumerate(_statements(policy)):
        if exempt(statement):
            continue
        label = _label(index, statement)
        if f"Not{key}" in statement:
            problems.append(f"{label}: Not{key} grants everything else; {spell_out}")
        values = _as_list(statement.get(key))
        if not values and f"Not{key}" not in statement:
            problems.append(f"{label}: no {key}")
        for value in values:
            problem = problem_of(str(value))
            if problem:
                problems.append(f"{label}: {problem}")
    return problems


def _action_problem(action: str) -> str | None:
    return f"wildcard action {action!r}" if "*" in action or "?" in action else None


def _check_actions(policy: dict[str, Any]) -> list[str]:
    return _check_listed(policy, "Action", _action_problem, "list actions instead")


def _unscoped(statement: dict[str, Any]) -> bool:
    actions = _as_list(statement.get("Action"))
    return bool(actions) and all(a in UNSCOPED_ACTIONS for a in actions)


def _check_resources(policy: dict[str, Any]) -> list[str]:
    return _check_listed(policy, "Resource", _resource_problem, "list resources", _unscoped)


def _resource_problem(resource: str) -> str | None:
    """Why a resource is too broad: `*` is allowed only in ARN region/account segments and
    at the end of an S3 object key prefix."""
    if resource == "*":
        return "resource '*'"
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return f"resource {resource!r} is not an ARN"
    _, partition, service, _region, _account, name = parts
    if "*" in partition or "*" in service:
        return f"resource {resource!r} has a wildcard partition or service"
    if service == "s3":
        bucket, _, key = name.partition("/")
        if not bucket or "*" in bucket or "?" in bucket:
            return f"resource {resource!r} does not name one bucket"
        if "*" in key.rstrip("*") or "?" in key:
            return f"resource {resource!r} has a wildcard inside the key"
        return None
    if "*" in name or "?" in name:
        return f"resource {resource!r} does not name one resource"
    return None


_OBJECT_WRITE_ACTIONS = ("s3:PutObject", "s3:DeleteObject")


def _check_object_writes(policy: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for index, statement in enumerate(_statements(policy)):
        if statement.get("Effect") != "Allow":
            continue
        writes = [a for a in _as_list(statement.get("Action")) if a in _OBJECT_WRITE_ACTIONS]
        if not writes:
            continue
        for resource in _as_list(statement.get("Resource")):
            parts = str(resource).split(":", 5)
            key = parts[5].partition("/")[2] if len(parts) == 6 else ""
            # Input files must stay read-only for a run: writes only below rejects/.
            if not key.startswith(REJECTS_ROOT):
                problems.append(
                    f"{_label(index, statement)}: {', '.join(writes)} on {resource!r} "
                    f"(allowed only under {REJECTS_ROOT})"
                )
    return problems


def _check_sns(policy: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for index, statement in enumerate(_statements(policy)):
        actions = [a for a in _as_list(statement.get("Action")) if str(a).startswith("sns:")]
        if not actions or statement.get("Effect") != "Allow":
            continue
        label = _label(index, statement)
        if actions != ["sns:Publish"] or len(_as_list(statement.get("Action"))) != 1:
            problems.append(f"{label}: SNS grants sns:Publish alone, in a statement of its own")
        for resource in _as_list(statement.get("Resource")):
            parts = str(resource).split(":")
            # The topic is configured as a whole ARN: nothing in it is left to a wildcard.
            if len(parts) != 6 or parts[2] != "sns" or "*" in resource or "?" in resource:
                problems.append(f"{label}: sns:Publish on {resource!r}, not one exact topic ARN")
    return problems


@dataclass(frozen=True)
class StaticRule:
    """One static check of a policy document."""

    name: str
    description: str
    check: Callable[[dict[str, Any]], list[str]]


STATIC_RULES: tuple[StaticRule, ...] = (
    StaticRule(
        "shape", "Version 2012-10-17, a unique Sid and an Effect per statement", _check_shape
    ),
    StaticRule("no-wildcard-actions", "exact actions only, no NotAction", _check_actions),
    StaticRule(
        "no-broad-resources",
        "no '*' resource and no NotResource; '*' only in ARN region/account segments "
        "or at the end of an S3 key prefix",
        _check_resources,
    ),
    StaticRule(
        "object-writes-only-to-rejects",
        f"s3:PutObject / s3:DeleteObject only under {REJECTS_ROOT}",
        _check_object_writes,
    ),
    StaticRule(
        "alerts-publish-to-one-topic",
        "SNS: sns:Publish alone, on one exact topic ARN (no wildcard in any segment)",
        _check_sns,
    ),
)


def lint_policy(policy: dict[str, Any]) -> list[str]:
    """Every violation of `STATIC_RULES` in `policy`, as `rule: problem` lines (empty: clean)."""
    return [f"{rule.name}: {problem}" for rule in STATIC_RULES for problem in rule.check(policy)]
