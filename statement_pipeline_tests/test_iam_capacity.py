"""The run policy grants UpdateTable and the tag calls only when the capacity policy needs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from statement_pipeline.rules.iam_lint import lint_policy
from statement_pipeline.rules.iam_policy import run_policy
from statement_pipeline.rules.names import Names

CAPACITY = [
    "dynamodb:ListTagsOfResource",
    "dynamodb:TagResource",
    "dynamodb:UntagResource",
    "dynamodb:UpdateTable",
]


def _actions(policy: dict) -> set[str]:
    return {a for s in policy["Statement"] for a in s["Action"]}


def test_keep_grants_no_capacity_change() -> None:
    policy = run_policy(Names(), account_id="123456789012", region="eu-west-1")
    assert not _actions(policy) & set(CAPACITY)


@pytest.mark.parametrize("policy_name", ["raise", "on_demand"])
def test_raise_and_on_demand_may_change_the_table_and_its_tags_only(policy_name: str) -> None:
    policy = run_policy(
        Names(), account_id="123456789012", region="eu-west-1", capacity_policy=policy_name
    )
    (change,) = [s for s in policy["Statement"] if s["Sid"] == "ChangeTableCapacity"]
    assert change["Action"] == CAPACITY
    assert change["Resource"] == "arn:aws:dynamodb:eu-west-1:123456789012:table/statements"
    assert lint_policy(policy) == []


@pytest.mark.parametrize(("setting", "granted"), [(None, False), ("raise", True)])
def test_the_command_follows_statement_capacity_policy(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, granted: bool
) -> None:
    if setting:
        monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", setting)
    out = subprocess.run(
        [sys.executable, "-m", "statement_pipeline.cli", "iam-policy"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert ("dynamodb:UpdateTable" in _actions(json.loads(out))) is granted


SCALER = [
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:RegisterScalableTarget",
]


@pytest.mark.parametrize(
    ("policy_name", "autoscaling", "granted"),
    [("keep", True, False), ("raise", False, False), ("raise", True, True)],
)
def test_scalable_target_actions_only_when_not_keep_and_a_target_exists(
    policy_name: str, autoscaling: bool, granted: bool
) -> None:
    policy = run_policy(
        Names(),
        account_id="123456789012",
        region="eu-west-1",
        capacity_policy=policy_name,
        autoscaling=autoscaling,
    )
    assert (set(SCALER) <= _actions(policy)) is granted
    assert not (_actions(policy) & set(SCALER)) or granted
    assert lint_policy(policy) == []


def test_the_lint_allows_resource_star_for_the_scalable_target_actions_alone() -> None:
    policy = run_policy(Names(), capacity_policy="raise", autoscaling=True)
    for statement in policy["Statement"]:
        if statement["Sid"] == "MoveScalableTargets":
            statement["Action"].append("dynamodb:UpdateTable")
    assert any("resource '*'" in problem for problem in lint_policy(policy))


@pytest.mark.parametrize(("flag", "granted"), [([], False), (["--autoscaling"], True)])
def test_the_command_grants_scalable_targets_with_autoscaling(
    monkeypatch: pytest.MonkeyPatch, flag: list[str], granted: bool
) -> None:
    monkeypatch.setenv("STATEMENT_CAPACITY_POLICY", "raise")
    out = subprocess.run(
        [sys.executable, "-m", "statement_pipeline.cli", "iam-policy", *flag],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert (SCALER[1] in _actions(json.loads(out))) is granted
