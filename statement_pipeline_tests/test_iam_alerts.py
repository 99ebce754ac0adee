"""sns:Publish in the run policy exactly when STATEMENT_ALERT_TOPIC_ARN is set, and it works."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from statement_pipeline import cli
from statement_pipeline.aws.alerts import publish_alert
from statement_pipeline.local_aws.alert_inbox import subscribed_inbox
from statement_pipeline.rules.alerts import Alert
from statement_pipeline.rules.iam_lint import lint_policy
from statement_pipeline.rules.iam_policy import run_policy
from statement_pipeline.rules.names import Names
from statement_pipeline_tests.conftest import REGION
from statement_pipeline_tests.test_iam import ACCOUNT, _denied, create_policy_user, iam_enforced

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:statement-alerts"
ALERT = Alert(subject="Statement import of 2026-10 failed", text="month: 2026-10", attributes={})


def sns_statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if any(a.startswith("sns:") for a in s["Action"])]


def test_the_run_policy_publishes_to_the_topic_only_when_one_is_set() -> None:
    with_topic = run_policy(Names(), account_id=ACCOUNT, region=REGION, alert_topic_arn=TOPIC)
    without = run_policy(Names(), account_id=ACCOUNT, region=REGION)

    assert sns_statements(with_topic) == [
        {"Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": TOPIC}
    ]
    assert sns_statements(without) == []
    # Everything else is the same policy.
    assert [s for s in with_topic["Statement"] if s["Sid"] != "PublishAlerts"] == without[
        "Statement"
    ]
    assert lint_policy(with_topic) == []


def _iam_policy(capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = cli.main(["iam-policy", "--account-id", ACCOUNT, "--region", REGION])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else None, err


def test_the_iam_policy_command_follows_the_topic_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, policy, _ = _iam_policy(capsys)
    assert code == 0
    assert sns_statements(policy) == []
    assert not [a for s in policy["Statement"] for a in s["Action"] if a.startswith("sns:")]

    monkeypatch.setenv("STATEMENT_ALERT_TOPIC_ARN", TOPIC)
    code, policy, _ = _iam_policy(capsys)
    assert code == 0
    assert [(s["Action"], s["Resource"]) for s in sns_statements(policy)] == [
        (["sns:Publish"], TOPIC)
    ]

    monkeypatch.setenv("STATEMENT_ALERT_TOPIC_ARN", "statement-alerts")
    code, _, err = _iam_policy(capsys)
    assert code == 2
    assert "STATEMENT_ALERT_TOPIC_ARN must be the ARN of a standard SNS topic" in err


@pytest.mark.parametrize(
    "statement",
    [
        {"Action": ["sns:*"], "Resource": TOPIC},
        {"Action": ["sns:Publish"], "Resource": "arn:aws:sns:*:*:statement-alerts"},
        {"Action": ["sns:Publish"], "Resource": f"arn:aws:sns:{REGION}:{ACCOUNT}:*"},
        {"Action": ["sns:Publish", "sns:Subscribe"], "Resource": TOPIC},
        {"Action": ["sns:Publish", "sqs:SendMessage"], "Resource": TOPIC},
    ],
)
def test_lint_allows_publishing_to_one_exact_topic_only(statement: dict[str, Any]) -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", **statement}]}

    problems = lint_policy(policy)

    assert any(p.startswith("alerts-publish-to-one-topic") for p in problems), problems


def _user_sns(policy: dict[str, Any], user: str) -> Any:
    key_id, secret = create_policy_user(policy, user)
    return boto3.client(
        "sns", aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=None
    )


def test_only_a_policy_with_the_topic_lets_the_sensor_publish(moto_endpoint: str) -> None:
    inbox = subscribed_inbox()
    assert inbox.topic_arn == TOPIC
    allowed = _user_sns(run_policy(Names(), alert_topic_arn=TOPIC), "alerting")
    refused = _user_sns(run_policy(Names()), "quiet")

    with iam_enforced(moto_endpoint):
        publish_alert(allowed, TOPIC, ALERT)
        text = _denied(lambda: publish_alert(refused, TOPIC, ALERT))

    assert "sns:Publish" in text
    (notification,) = inbox.messages()
    assert notification["Message"] == "month: 2026-10"
