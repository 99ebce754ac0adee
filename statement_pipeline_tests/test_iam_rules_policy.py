"""The policies iam_policy prints for a capacity-changing run and for another AWS partition:
pure units, every ARN and action written out by hand (CONTRACT.md section 4 names).
"""

from __future__ import annotations

from typing import Any

import pytest

from statement_pipeline.rules.iam_lint import lint_policy
from statement_pipeline.rules.iam_policy import (
    bootstrap_policy,
    partition_for_region,
    resource_arns,
    run_policy,
)
from statement_pipeline.rules.names import Names

ACCOUNT = "123456789012"
TABLE_ARN = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/statements"
RUN_SIDS = [
    "ListStatementAndRejectsKeys",
    "ReadStatementFiles",
    "WriteRejects",
    "UseRecordQueue",
    "UseDeadLetterQueue",
    "WriteStatementTable",
]
CHANGE_CAPACITY = {
    "Sid": "ChangeTableCapacity",
    "Effect": "Allow",
    "Action": [
        "dynamodb:ListTagsOfResource",
        "dynamodb:TagResource",
        "dynamodb:UntagResource",
        "dynamodb:UpdateTable",
    ],
    "Resource": TABLE_ARN,
}


def _capacity_policy(**options: Any) -> dict[str, Any]:
    return run_policy(Names(), account_id=ACCOUNT, region="eu-west-1", **options)


def test_keeping_the_capacity_needs_no_capacity_statement() -> None:
    for policy in (_capacity_policy(), _capacity_policy(capacity_policy="keep", autoscaling=True)):
        assert [s["Sid"] for s in policy["Statement"]] == RUN_SIDS


def test_a_capacity_policy_may_update_and_tag_the_table_alone() -> None:
    for capacity_policy in ("raise", "on_demand"):
        policy = _capacity_policy(capacity_policy=capacity_policy)

        assert [s["Sid"] for s in policy["Statement"]] == [*RUN_SIDS, "ChangeTableCapacity"]
        assert policy["Statement"][-1] == CHANGE_CAPACITY
        assert lint_policy(policy) == []


def test_a_table_under_autoscaling_may_also_move_its_scalable_target() -> None:
    policy = _capacity_policy(capacity_policy="raise", autoscaling=True)

    assert policy["Statement"][-2:] == [
        CHANGE_CAPACITY,
        {
            "Sid": "MoveScalableTargets",
            "Effect": "Allow",
            "Action": [
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:RegisterScalableTarget",
            ],
            # IAM scopes neither action: "*" is the only resource they can have.
            "Resource": "*",
        },
    ]
    assert lint_policy(policy) == []


def test_the_run_policy_names_the_partition_in_every_arn() -> None:
    policy = run_policy(Names(), account_id=ACCOUNT, region="cn-north-1", partition="aws-cn")

    assert {s["Sid"]: s["Resource"] for s in policy["Statement"]} == {
        "ListStatementAndRejectsKeys": "arn:aws-cn:s3:::statements",
        "ReadStatementFiles": "arn:aws-cn:s3:::statements/statements/*",
        "WriteRejects": "arn:aws-cn:s3:::statements/rejects/*",
        "UseRecordQueue": f"arn:aws-cn:sqs:cn-north-1:{ACCOUNT}:statement-records",
        "UseDeadLetterQueue": f"arn:aws-cn:sqs:cn-north-1:{ACCOUNT}:statement-records-dlq",
        "WriteStatementTable": f"arn:aws-cn:dynamodb:cn-north-1:{ACCOUNT}:table/statements",
    }


def test_the_bootstrap_policy_names_the_partition_in_every_arn() -> None:
    policy = bootstrap_policy(Names(), region="us-gov-west-1", partition="aws-us-gov")

    assert {s["Sid"]: s["Resource"] for s in policy["Statement"]} == {
        "CreateStatementBucket": "arn:aws-us-gov:s3:::statements",
        "CreateQueues": [
            "arn:aws-us-gov:sqs:us-gov-west-1:*:statement-records",
            "arn:aws-us-gov:sqs:us-gov-west-1:*:statement-records-dlq",
        ],
        "CreateStatementTable": "arn:aws-us-gov:dynamodb:us-gov-west-1:*:table/statements",
    }


def test_resource_arns_default_to_the_commercial_partition() -> None:
    arns = resource_arns(Names(bucket="acme", queue="q", table="t"))

    assert arns.bucket == "arn:aws:s3:::acme"
    assert arns.queue == "arn:aws:sqs:*:*:q"
    assert arns.table == "arn:aws:dynamodb:*:*:table/t"


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("eu-west-1", "aws"),
        ("us-east-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-west-2", "aws"),  # "us-" alone is the commercial partition
    ],
)
def test_a_region_belongs_to_its_arn_partition(region: str, partition: str) -> None:
    assert partition_for_region(region) == partition
