"""IAM policies for the pipeline: least privilege for a run, and what `bootstrap` needs.

Plain Python, no Dagster and no AWS call: the policies are built from the resource names
(CONTRACT.md section 4) and printed by the CLI for an operator to attach to a role. The alert
topic is configured as a whole ARN, so its statement is always exact.

ARNs: S3 ARNs carry neither region nor account, so they are always exact. SQS and DynamoDB
ARNs need both; when `account_id` / `region` are not given, the policy uses `*` in those
two ARN segments *only* (e.g. `arn:aws:sqs:*:*:statement-records`): the resource name stays
exact, but a queue or table of the same name in another account or region of the
organisation would match too. Pass the account and region (the CLI's `--account-id` /
`--region`) to print exact ARNs; that is what a production role should use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from statement_pipeline.rules.names import Names
from statement_pipeline.rules.s3_layout import REJECTS_ROOT

POLICY_VERSION = "2012-10-17"

# The S3 API operation names differ from the IAM actions that authorise them; these are the
# ones the pipeline and `bootstrap` use (AWS Service Authorization Reference, Amazon S3).
_S3_OPERATION_ACTIONS: dict[str, str] = {
    "CreateBucket": "s3:CreateBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjects": "s3:DeleteObject",
}

# SQS authorises the batch operations with the action of the single-message operation.
_SQS_OPERATION_ACTIONS: dict[str, str] = {
    "SendMessageBatch": "sqs:SendMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}

_ACCOUNT_ID = re.compile(r"\d{12}")
_PARTITIONS_BY_REGION_PREFIX = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"))


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorises one API operation (`service` as botocore names it).

    Used to name the missing permission when a call is denied, and by the tests that check
    every operation `bootstrap` performs is covered by `bootstrap_policy`.
    """
    if service == "s3":
        try:
            return _S3_OPERATION_ACTIONS[operation]
        except KeyError:
            # Guessing would print a wrong action name in an error message; fail loudly.
            raise ValueError(f"no known IAM action for s3 operation {operation!r}") from None
    if service == "sqs":
        return _SQS_OPERATION_ACTIONS.get(operation, f"sqs:{operation}")
    # DynamoDB (and most JSON services) name the action after the operation.
    return f"{service}:{operation}"


def partition_for_region(region: str) -> str:
    """The ARN partition a region belongs to (`aws` for the commercial regions)."""
    for prefix, partition in _PARTITIONS_BY_REGION_PREFIX:
        if region.startswith(prefix):
            return partition
    return "aws"


@dataclass(frozen=True)
class ResourceArns:
    """ARNs of one deployment's resources, `*` in the region/account segments when unknown."""

    partition: str
    bucket_name: str
    prefix: str
    queue: str
    dlq: str
    table: str

    @property
    def bucket(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket_name}"

    def objects(self, key_prefix: str) -> str:
        """ARN of every object whose key starts with `key_prefix`."""
        return f"{self.bucket}/{key_prefix}*"

    @property
    def statement_objects(self) -> str:
        # With prefix "" the month folders sit at the bucket root: every object.
        return self.objects(self.prefix)

    @property
    def rejects_objects(self) -> str:
        return self.objects(REJECTS_ROOT)


def resource_arns(
    names: Names,
    *,
    account_id: str | None = None,
    region: str | None = None,
    partition: str = "aws",
) -> ResourceArns:
    """ARNs of the bucket, queues and table; `*` stands in for an unknown account or region."""
    if account_id is not None and not _ACCOUNT_ID.fullmatch(account_id):
        raise ValueError(f"account id must be 12 digits, got {account_id!r}")
    if region is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", region):
        raise ValueError(f"not an AWS region name: {region!r}")
    where = f"{region or '*'}:{account_id or '*'}"
    return ResourceArns(
        partition=partition,
        bucket_name=names.bucket,
        prefix=names.prefix,
        queue=f"arn:{partition}:sqs:{where}:{names.queue}",
        dlq=f"arn:{partition}:sqs:{where}:{names.dlq}",
        table=f"arn:{partition}:dynamodb:{where}:table/{names.table}",
    )


def _statement(
    sid: str,
    actions: Iterable[str],
    resources: str | list[str],
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        # Sorted so the printed policy is stable and diffs well in review.
        "Action": sorted(set(actions)),
        "Resource": resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def run_policy(
    names: Names,
    *,
    account_id: str | None = None,
    region: str | None = None,
    partition: str = "aws",
    alert_topic_arn: str | None = None,
    capacity_policy: str = "keep",
    autoscaling: bool = False,
) -> dict[str, Any]:
    """Least-privilege identity policy for one pipeline run (sensor, import job, checks).

    One statement per concern, exact actions, resources limited to this deployment:

    - `ListStatementAndRejectsKeys`: `s3:ListBucket` on the bucket, limited by `s3:prefix`
      to the statement prefix and `rejects/` (the sensor lists month folders, the run lists
      a month's rejects to remove stale ones). With prefix `""` the months sit at the bucket
      root, so listing is not limited (a `*` condition would only break prefix-less lists).
    - `ReadStatementFiles`: `s3:GetObject` on `<prefix>*` (GetObject also authorises the
      loader's HeadObject). Because ListBucket is limited by prefix, S3 answers a HEAD/GET of
      a *missing* key with 403 AccessDenied rather than 404.
    - `WriteRejects`: `s3:PutObject` and `s3:DeleteObject` on `rejects/*` only; a run can
      never modify or delete an input file.
    - `UseRecordQueue`: get URL/attributes, send (also SendMessageBatch), receive, delete
      (also DeleteMessageBatch) and change visibility on the queue.
    - `UseDeadLetterQueue`: get URL/attributes, send (poison messages are moved there),
      receive and change visibility (the check peeks: it hides each message while it reads
      the DLQ, then makes them visible again) on the DLQ; nothing can delete from it.
    - `WriteStatementTable`: DescribeTable, BatchWriteItem and Query on the table.
    - `PublishAlerts`, only with `alert_topic_arn` (STATEMENT_ALERT_TOPIC_ARN): `sns:Publish`
      on that topic alone, its ARN exactly as configured (the alert sensor runs in the
      daemon; without a topic it publishes nothing and needs nothing).
    - `ChangeTableCapacity`, only when STATEMENT_CAPACITY_POLICY is not `keep`: UpdateTable
      (the raise, the on-demand switch, the restore) and the tag calls that record a raise on
      the table (TagResource, UntagResource, ListTagsOfResource), on the table alone.
    - `MoveScalableTargets`, only when the policy is not `keep` and `autoscaling` (the table's
      capacity is a scalable target of Application Auto Scaling: `iam-policy --autoscaling`):
      DescribeScalableTargets and RegisterScalableTarget, on "*" (IAM scopes neither).

    Encryption: the bootstrap defaults (SSE-S3 bucket, SSE-SQS queues, DynamoDB with the AWS
    managed key `aws/dynamodb`) need no KMS permission. If the queues or bucket are switched
    to a customer managed KMS key, add `kms:GenerateDataKey` and `kms:Decrypt` on that key
    (SQS producers need both, consumers `kms:Decrypt`; S3 likewise).
    """
    arns = resource_arns(names, account_id=account_id, region=region, partition=partition)
    list_condition = (
        {"StringLike": {"s3:prefix": sorted({f"{names.prefix}*", f"{REJECTS_ROOT}*"})}}
        if names.prefix
        else None
    )
    statements = [
        _statement("ListStatementAndRejectsKeys", ["s3:ListBucket"], arns.bucket, list_condition),
        _statement("ReadStatementFiles", ["s3:GetObject"], arns.statement_objects),
        _statement("WriteRejects", ["s3:PutObject", "s3:DeleteObject"], arns.rejects_objects),
        _statement(
            "UseRecordQueue",
            [
                "sqs:GetQueueUrl",
                "sqs:GetQueueAttributes",
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
            ],
            arns.queue,
        ),
        _statement(
            "UseDeadLetterQueue",
            [
                "sqs:GetQueueUrl",
                "sqs:GetQueueAttributes",
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:ChangeMessageVisibility",
            ],
            arns.dlq,
        ),
        _statement(
            "WriteStatementTable",
            ["dynamodb:DescribeTable", "dynamodb:BatchWriteItem", "dynamodb:Query"],
            arns.table,
        ),
    ]
    if alert_topic_arn:
        statements.append(_statement("PublishAlerts", ["sns:Publish"], alert_topic_arn))
    if capacity_policy != "keep":
        statements.append(_statement("ChangeTableCapacity", CAPACITY_ACTIONS, arns.table))
        if autoscaling:
            statements.append(_statement("MoveScalableTargets", UNSCOPED_ACTIONS, "*"))
    return {"Version": POLICY_VERSION, "Statement": statements}


# What aws/capacity.py calls on the table under `raise` or `on_demand`.
CAPACITY_ACTIONS = [
    "dynamodb:ListTagsOfResource",
    "dynamodb:TagResource",
    "dynamodb:UntagResource",
    "dynamodb:UpdateTable",
]


# What aws/scaler.py calls under a raise of a table under Application Auto Scaling.
# DescribeScalableTargets takes no resource, and a scalable target's ARN ends in an id AWS
# makes up (Service Authorization Reference, Application Auto Scaling): IAM can grant these on
# "*" only. iam_lint lets these, and nothing else, have the resource "*".
UNSCOPED_ACTIONS = (
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:RegisterScalableTarget",
)


# Exactly the operations `statement_pipeline.aws.bootstrap` performs, as IAM actions.
# test_iam records every call bootstrap makes and checks this list against it both ways.
BOOTSTRAP_BUCKET_ACTIONS = (
    "s3:CreateBucket",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetEncryptionConfiguration",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutEncryptionConfiguration",
)
BOOTSTRAP_QUEUE_ACTIONS = ("sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
BOOTSTRAP_TABLE_ACTIONS = (
    "dynamodb:CreateTable",
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:DescribeTable",
    "dynamodb:UpdateContinuousBackups",
)


def bootstrap_policy(
    names: Names,
    *,
    account_id: str | None = None,
    region: str | None = None,
    partition: str = "aws",
) -> dict[str, Any]:
    """Identity policy for `statement-pipeline bootstrap`: create and check the resources.

    Bootstrap never changes an existing resource, so there is no `sqs:SetQueueAttributes`
    and no `dynamodb:UpdateTable`; settings are given at creation (CreateQueue attributes,
    CreateTable SSE) except point-in-time recovery, which DynamoDB only accepts through
    UpdateContinuousBackups once the table is ACTIVE. It checks a bucket exists with
    GetBucketLocation (which also reports the region), so it needs no `s3:ListBucket`.
    The table's SSE uses the AWS managed key `aws/dynamodb`, whose key policy already lets
    DynamoDB use it for the account: no KMS permission is needed.
    """
    arns = resource_arns(names, account_id=account_id, region=region, partition=partition)
    statements = [
        _statement("CreateStatementBucket", BOOTSTRAP_BUCKET_ACTIONS, arns.bucket),
        _statement("CreateQueues", BOOTSTRAP_QUEUE_ACTIONS, [arns.queue, arns.dlq]),
        _statement("CreateStatementTable", BOOTSTRAP_TABLE_ACTIONS, arns.table),
    ]
    return {"Version": POLICY_VERSION, "Statement": statements}


def policy_json(policy: dict[str, Any]) -> str:
    """The policy as indented JSON, ready to paste into IAM."""
    return json.dumps(policy, indent=2)
