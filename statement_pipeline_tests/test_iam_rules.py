"""The static IAM rules (rules/iam_lint.py): each one met by a policy that breaks exactly it
and by one that keeps to it. Pure units; every problem line a reviewer reads is written out.
"""

from __future__ import annotations

from typing import Any

from statement_pipeline.rules.iam_lint import lint_policy

BUCKET = "arn:aws:s3:::b"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:statement-alerts"
DESCRIBE_TARGETS = "application-autoscaling:DescribeScalableTargets"
REGISTER_TARGET = "application-autoscaling:RegisterScalableTarget"


def policy(*statements: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def grant(sid: str, actions: Any, resource: Any, effect: str = "Allow") -> dict[str, Any]:
    return {"Sid": sid, "Effect": effect, "Action": actions, "Resource": resource}


def problems_of(rule: str, document: dict[str, Any]) -> list[str]:
    return [problem for problem in lint_policy(document) if problem.startswith(f"{rule}: ")]


def test_a_policy_at_the_edge_of_every_rule_is_clean() -> None:
    document = policy(
        # An action given as a bare string, not a list.
        grant("ListBucket", "s3:ListBucket", "arn:aws:s3:::statements"),
        # '*' in the region/account segments and at the end of a key prefix (twice) is fine,
        # and a ':' inside the key is part of the key.
        grant("Read", ["s3:GetObject"], ["arn:aws:s3:*:*:statements/in:put/**"]),
        grant(
            "WriteRejects",
            ["s3:PutObject", "s3:DeleteObject"],
            "arn:aws:s3:::statements/rejects/2026-10/a:b.csv",
        ),
        grant("Queue", ["sqs:SendMessage"], "arn:aws:sqs:*:*:statement-records"),
        grant("Table", ["dynamodb:Query"], "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t"),
        grant("Publish", ["sns:Publish"], TOPIC),
        # Only these two actions may have Resource "*" (IAM cannot scope them).
        grant("Scale", [DESCRIBE_TARGETS, REGISTER_TARGET], "*"),
        grant("Describe", DESCRIBE_TARGETS, "*"),
        # A Deny may name anything: it takes rights away.
        grant("KeepInputs", ["s3:PutObject"], "arn:aws:s3:::statements/statements/*", "Deny"),
        grant("NoSubscribe", ["sns:Subscribe"], "arn:aws:sns:*:*:statement-alerts", "Deny"),
    )

    assert lint_policy(document) == []


def test_a_single_statement_object_is_read_as_a_list_of_one() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": grant("Read", "s3:GetObject", "arn:aws:s3:::statements/statements/*"),
    }

    assert lint_policy(document) == []


def test_a_policy_without_version_or_statements_is_refused() -> None:
    assert lint_policy({"Statement": []}) == [
        "shape: policy Version must be '2012-10-17'",
        "shape: policy has no statements",
    ]
    assert lint_policy({"Version": "2012-10-17"}) == ["shape: policy has no statements"]


def test_each_statement_needs_an_object_a_unique_sid_and_an_effect() -> None:
    read = ["s3:GetObject"]
    document = policy(
        "Allow everything",
        {"Effect": "Allow", "Action": read, "Resource": "arn:aws:s3:::b/x"},
        grant("Read", read, "arn:aws:s3:::b/x"),
        grant("Read", read, "arn:aws:s3:::b/y", "allow"),
        grant("", read, "arn:aws:s3:::b/z", "Permit"),
        grant("Other", read, "arn:aws:s3:::b/z", "Deny"),
    )

    assert lint_policy(document) == [
        "shape: statement 0 is not an object",
        "shape: statement 1 has no Sid",
        "shape: Sid 'Read' is used twice",
        # Labelled by its Sid when it has one, else by its position.
        "shape: statement Read: Effect must be Allow or Deny",
        "shape: statement 4 has no Sid",
        "shape: statement 4: Effect must be Allow or Deny",
    ]


def test_actions_are_exact_and_present() -> None:
    document = policy(
        grant("Star", ["s3:Get*"], "arn:aws:s3:::b/x"),
        grant("Question", "sqs:Get?ueueUrl", "arn:aws:sqs:*:*:q"),
        {"Sid": "Not", "Effect": "Allow", "NotAction": "s3:GetObject", "Resource": BUCKET},
        {"Sid": "Missing", "Effect": "Allow", "Resource": "arn:aws:s3:::b/x"},
        grant("Exact", ["s3:GetObject"], "arn:aws:s3:::b/x"),
        {"Effect": "Allow", "Action": "s3:*", "Resource": BUCKET},
    )

    assert lint_policy(document) == [
        "shape: statement 5 has no Sid",
        "no-wildcard-actions: statement Star: wildcard action 's3:Get*'",
        "no-wildcard-actions: statement Question: wildcard action 'sqs:Get?ueueUrl'",
        "no-wildcard-actions: statement Not: NotAction grants everything else; "
        "list actions instead",
        "no-wildcard-actions: statement Missing: no Action",
        # Without a Sid, a statement is named by its position.
        "no-wildcard-actions: statement 5: wildcard action 's3:*'",
    ]


def test_resources_name_one_bucket_key_prefix_or_resource() -> None:
    resources = [
        "*",
        "s3:::b/x",
        "arm:aws:s3:::b/x",
        "arn:*:s3:::b/x",
        "arn:aws:s*:::b/x",
        "arn:aws:s3:::/x",
        "arn:aws:s3:::b*/x",
        "arn:aws:s3:::b?/x",
        "arn:aws:s3:::b/a*/x",
        "arn:aws:s3:::b/a?",
        "arn:aws:s3:::b/a*X*",
        "arn:aws:sqs:*:*:q*",
        "arn:aws:dynamodb:*:*:table/t?",
        "arn:aws:s3:::b/x",
    ]
    document = policy(grant("R", ["s3:GetObject"], resources))

    assert lint_policy(document) == [
        f"no-broad-resources: statement R: {problem}"
        for problem in [
            "resource '*'",
            "resource 's3:::b/x' is not an ARN",
            "resource 'arm:aws:s3:::b/x' is not an ARN",
            "resource 'arn:*:s3:::b/x' has a wildcard partition or service",
            "resource 'arn:aws:s*:::b/x' has a wildcard partition or service",
            "resource 'arn:aws:s3:::/x' does not name one bucket",
            "resource 'arn:aws:s3:::b*/x' does not name one bucket",
            "resource 'arn:aws:s3:::b?/x' does not name one bucket",
            "resource 'arn:aws:s3:::b/a*/x' has a wildcard inside the key",
            "resource 'arn:aws:s3:::b/a?' has a wildcard inside the key",
            "resource 'arn:aws:s3:::b/a*X*' has a wildcard inside the key",
            "resource 'arn:aws:sqs:*:*:q*' does not name one resource",
            "resource 'arn:aws:dynamodb:*:*:table/t?' does not name one resource",
        ]
    ]


def test_resources_are_present_and_never_negated() -> None:
    document = policy(
        grant("Exact", ["dynamodb:Query"], "arn:aws:dynamodb:*:*:table/t"),
        {"Sid": "Missing", "Effect": "Allow", "Action": ["dynamodb:Query"]},
        {"Sid": "Not", "Effect": "Allow", "Action": "dynamodb:Query", "NotResource": BUCKET},
        {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "*"},
    )

    assert lint_policy(document) == [
        "shape: statement 3 has no Sid",
        "no-broad-resources: statement Missing: no Resource",
        "no-broad-resources: statement Not: NotResource grants everything else; list resources",
        "no-broad-resources: statement 3: resource '*'",
    ]


def test_only_the_unscoped_autoscaling_actions_may_have_every_resource() -> None:
    document = policy(
        grant("Scale", [DESCRIBE_TARGETS, REGISTER_TARGET], "*"),
        grant("ScaleAndRead", [DESCRIBE_TARGETS, "s3:GetObject"], "*"),
        {"Sid": "Nothing", "Effect": "Allow", "Resource": "*"},
    )

    assert lint_policy(document) == [
        "no-wildcard-actions: statement Nothing: no Action",
        "no-broad-resources: statement ScaleAndRead: resource '*'",
        "no-broad-resources: statement Nothing: resource '*'",
    ]


def test_objects_are_written_and_deleted_only_under_rejects() -> None:
    document = policy(
        grant("ReadOnly", ["s3:GetObject"], "arn:aws:s3:::b/statements/*"),
        grant("KeepInputs", ["s3:PutObject"], "arn:aws:s3:::b/statements/*", "Deny"),
        grant(
            "Keys",
            ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
            ["arn:aws:s3:::b/statements/*", "arn:aws:s3:::b/rejects/*"],
        ),
        grant("Bucket", "s3:DeleteObject", "arn:aws:s3:::b"),
        grant("Nested", ["s3:PutObject"], "arn:aws:s3:::b/x/rejects/*"),
        grant("Everywhere", ["s3:PutObject"], "*"),
        grant("ColonInKey", ["s3:PutObject"], "arn:aws:s3:::b/rejects/2026-10/a:b.csv"),
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::b/in/x.csv"},
    )

    assert problems_of("object-writes-only-to-rejects", document) == [
        f"object-writes-only-to-rejects: statement {problem} (allowed only under rejects/)"
        for problem in [
            "Keys: s3:PutObject, s3:DeleteObject on 'arn:aws:s3:::b/statements/*'",
            "Bucket: s3:DeleteObject on 'arn:aws:s3:::b'",
            "Nested: s3:PutObject on 'arn:aws:s3:::b/x/rejects/*'",
            "Everywhere: s3:PutObject on '*'",
            "7: s3:PutObject on 'arn:aws:s3:::b/in/x.csv'",
        ]
    ]


def test_alerts_publish_alone_to_one_exact_topic() -> None:
    document = policy(
        grant("Read", ["s3:GetObject"], "arn:aws:s3:::b/x"),
        grant("NoSubscribe", ["sns:Subscribe"], "arn:aws:sns:*:*:statement-alerts", "Deny"),
        grant("WithOthers", ["sns:Publish", "sqs:SendMessage"], TOPIC),
        grant("Subscribe", ["sns:Subscribe"], TOPIC),
        grant("Twice", ["sns:Publish", "sns:Publish"], TOPIC),
        grant(
            "Topics",
            "sns:Publish",
            [
                "arn:aws:sns:*:123456789012:statement-alerts",
                "arn:aws:sns:eu-west-1:123456789012:alerts?",
                "arn:aws:sqs:eu-west-1:123456789012:alerts",
                "arn:aws:sns:eu-west-1:123456789012:alerts:extra",
                "*",
                TOPIC,
            ],
        ),
        {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": "arn:aws:sns:*:*:alerts"},
    )

    alone = "SNS grants sns:Publish alone, in a statement of its own"
    assert problems_of("alerts-publish-to-one-topic", document) == [
        f"alerts-publish-to-one-topic: statement {problem}"
        for problem in [
            f"WithOthers: {alone}",
            f"Subscribe: {alone}",
            f"Twice: {alone}",
            "Topics: sns:Publish on 'arn:aws:sns:*:123456789012:statement-alerts', "
            "not one exact topic ARN",
            "Topics: sns:Publish on 'arn:aws:sns:eu-west-1:123456789012:alerts?', "
            "not one exact topic ARN",
            "Topics: sns:Publish on 'arn:aws:sqs:eu-west-1:123456789012:alerts', "
            "not one exact topic ARN",
            "Topics: sns:Publish on 'arn:aws:sns:eu-west-1:123456789012:alerts:extra', "
            "not one exact topic ARN",
            "Topics: sns:Publish on '*', not one exact topic ARN",
            "6: sns:Publish on 'arn:aws:sns:*:*:alerts', not one exact topic ARN",
        ]
    ]
