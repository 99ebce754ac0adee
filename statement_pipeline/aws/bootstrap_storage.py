"""Bootstrap of the bucket and the queues: created with safe settings, or checked for drift."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from statement_pipeline.aws.bootstrap_calls import (
    BootstrapAccessDenied,
    BootstrapError,
    BootstrapReport,
    code_of,
    codes_of,
    denies_plain_http,
    guarded_call,
    is_plain_http,
    record_drift,
    tls_only_bucket_policy,
)
from statement_pipeline.rules.iam_policy import partition_for_region
from statement_pipeline.rules.names import Names

# boto3 clients are generated at run time; without type stubs installed they are `Any`.
S3Client = Any
SQSClient = Any
DynamoDBClient = Any

DAY = 24 * 60 * 60
QUEUE_RETENTION_SECONDS = 4 * DAY
# 14 days, the SQS maximum. A standard queue keeps a message's original enqueue time when it
# is moved to the DLQ, so the DLQ must retain longer than the queue or poison messages could
# expire on arrival; the extra days leave operators time to inspect them.
DLQ_RETENTION_SECONDS = 14 * DAY
# Long polling (>= 1 s) makes ReceiveMessage ask every SQS server instead of a sample, so an
# empty answer really means "empty" (short polling can return nothing while messages wait,
# which would end a drain loop early). 1 s keeps the final "is it empty?" poll cheap for a
# batch run that stops when the queue is drained; consumers may still pass WaitTimeSeconds.
DEFAULT_RECEIVE_WAIT_SECONDS = 1
SSE_S3_ALGORITHM = "AES256"
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}

_NO_SUCH_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
_QUEUE_EXISTS_CODES = frozenset({"QueueAlreadyExists", "QueueNameExists"})


# --- bucket --------------------------------------------------------------------------------


def _bucket_region(s3: S3Client, bucket: str, arn: str) -> str | None:
    """Region of the bucket, or None when it does not exist."""
    try:
        response = guarded_call(s3, "get_bucket_location", arn, Bucket=bucket)
    except BootstrapAccessDenied as err:
        # Bucket names are global: a denial here often means someone else owns the name.
        raise BootstrapAccessDenied(
            err.action,
            err.operation,
            err.resource,
            f"{err.detail} If the caller has that permission, the bucket name belongs to "
            "another account: choose another STATEMENT_BUCKET.",
        ) from err
    except ClientError as err:
        if code_of(err) in ("NoSuchBucket", "404"):
            return None
        raise
    location = response.get("LocationConstraint")
    # S3 reports us-east-1 as no constraint and the oldest EU buckets as "EU".
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else str(location)


def ensure_bucket(
    names: Names, s3: S3Client, region: str, tls_only: bool, report: BootstrapReport
) -> None:
    bucket = names.bucket
    label = f"bucket {bucket}"
    partition = partition_for_region(region)
    arn = f"arn:{partition}:s3:::{bucket}"
    if not tls_only:
        reason = (
            "the S3 endpoint is plain HTTP, where it would deny every request"
            if is_plain_http(s3)
            else "tls_only_policy=False"
        )
        report.notes.append(f"{label}: no TLS-only bucket policy ({reason})")
    actual_region = _bucket_region(s3, bucket, arn)
    if actual_region is None:
        if _create_bucket(s3, bucket, region, arn):
            # Block public access first so the bucket is never public, not even briefly.
            guarded_call(
                s3,
                "put_public_access_block",
                arn,
                Bucket=bucket,
                PublicAccessBlockConfiguration=dict(PUBLIC_ACCESS_BLOCK),
            )
            guarded_call(
                s3,
                "put_bucket_encryption",
                arn,
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE_S3_ALGORITHM}}
                    ]
                },
            )
            if tls_only:
                guarded_call(
                    s3,
                    "put_bucket_policy",
                    arn,
                    Bucket=bucket,
                    Policy=json.dumps(tls_only_bucket_policy(bucket, partition)),
                )
            report.created.append(f"{label}: created")
            return
        actual_region = _bucket_region(s3, bucket, arn) or region
    differences = _bucket_drift(s3, bucket, arn, region, actual_region, tls_only)
    record_drift(report, label, differences)


def _create_bucket(s3: S3Client, bucket: str, region: str, arn: str) -> bool:
    """Create the bucket; False if it appeared meanwhile (a concurrent bootstrap)."""
    kwargs: dict[str, Any] = {"Bucket": bucket}
    # us-east-1 is the one region that rejects an explicit LocationConstraint.
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        guarded_call(s3, "create_bucket", arn, **kwargs)
    except ClientError as err:
        if code_of(err) == "BucketAlreadyOwnedByYou":
            return False
        if code_of(err) == "BucketAlreadyExists":
            raise BootstrapError(
                f"bucket {bucket} belongs to another AWS account (bucket names are global); "
                "choose another STATEMENT_BUCKET"
            ) from err
        raise
    return True


def _bucket_drift(
    s3: S3Client, bucket: str, arn: str, region: str, actual_region: str, tls_only: bool
) -> list[str]:
    differences: list[str] = []
    if actual_region != region:
        differences.append(f"is in region {actual_region}, expected {region}")

    try:
        rules = guarded_call(s3, "get_bucket_encryption", arn, Bucket=bucket)[
            "ServerSideEncryptionConfiguration"
        ].get("Rules", [])
    except ClientError as err:
        if code_of(err) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        rules = []
    algorithms = [
        rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for rule in rules
    ]
    if not algorithms:
        differences.append(f"no default encryption, expected {SSE_S3_ALGORITHM} (SSE-S3)")
    elif algorithms != [SSE_S3_ALGORITHM]:
        # SSE-KMS is not weaker, but a run would then need kms: permissions it lacks.
        found = ", ".join(str(a) for a in algorithms)
        differences.append(f"default encryption is {found}, expected {SSE_S3_ALGORITHM} (SSE-S3)")

    try:
        block = guarded_call(s3, "get_public_access_block", arn, Bucket=bucket)[
            "PublicAccessBlockConfiguration"
        ]
    except ClientError as err:
        if code_of(err) != "NoSuchPublicAccessBlockConfiguration":
            raise
        differences.append("no public access block, expected all four settings on")
    else:
        for setting in PUBLIC_ACCESS_BLOCK:
            if block.get(setting) is not True:
                differences.append(
                    f"public access block differs: {setting} is {block.get(setting)}"
                )

    if tls_only:
        try:
            policy_text = guarded_call(s3, "get_bucket_policy", arn, Bucket=bucket)["Policy"]
        except ClientError as err:
            if code_of(err) != "NoSuchBucketPolicy":
                raise
            differences.append("no bucket policy, expected one denying non-TLS requests")
        else:
            if not denies_plain_http(json.loads(policy_text), arn):
                differences.append("bucket policy does not deny non-TLS requests")
    return differences


# --- queues --------------------------------------------------------------------------------


def _queue_url(sqs: SQSClient, name: str, resource: str) -> str | None:
    try:
        return str(guarded_call(sqs, "get_queue_url", resource, QueueName=name)["QueueUrl"])
    except ClientError as err:
        if codes_of(err) & _NO_SUCH_QUEUE_CODES:
            return None
        raise


def _queue_attributes(sqs: SQSClient, url: str, resource: str) -> dict[str, str]:
    return dict(
        guarded_call(sqs, "get_queue_attributes", resource, QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
    )


def ensure_queue(
    sqs: SQSClient,
    name: str,
    label: str,
    attributes: dict[str, str],
    report: BootstrapReport,
) -> str:
    """Create the queue with `attributes` or check the existing one; return its ARN."""
    # Before the queue exists its ARN is unknown; error messages name it by queue name.
    where = f"queue {name}"
    url = _queue_url(sqs, name, where)
    if url is None:
        try:
            url = str(
                guarded_call(sqs, "create_queue", where, QueueName=name, Attributes=attributes)[
                    "QueueUrl"
                ]
            )
        except ClientError as err:
            # Created meanwhile with other attributes (a concurrent run): check it below.
            if not codes_of(err) & _QUEUE_EXISTS_CODES:
                raise
            url = _queue_url(sqs, name, where)
            if url is None:
                raise
        else:
            report.created.append(f"{label}: created")
            return _queue_attributes(sqs, url, where)["QueueArn"]
    actual = _queue_attributes(sqs, url, where)
    record_drift(report, label, _queue_drift(actual, attributes))
    return actual["QueueArn"]


def _queue_drift(actual: dict[str, str], expected: dict[str, str]) -> list[str]:
    differences: list[str] = []
    # Moto reports SqsManagedSseEnabled "true" next to a KMS key; real SQS reports "false".
    # A KMS key therefore decides, whatever the SSE-SQS flag says.
    if actual.get("KmsMasterKeyId"):
        differences.append(
            f"encrypted with KMS key {actual['KmsMasterKeyId']} (SSE-KMS), expected SSE-SQS "
            "(a run would need kms:GenerateDataKey/kms:Decrypt)"
        )
    elif actual.get("SqsManagedSseEnabled", "false").lower() != "true":
        differences.append("not encrypted (SqsManagedSseEnabled is false), expected SSE-SQS")
    for attribute in (
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
    ):
        if attribute in expected and actual.get(attribute) != expected[attribute]:
            differences.append(
                f"{attribute} is {actual.get(attribute, 'unset')}, expected {expected[attribute]}"
            )
    if "RedrivePolicy" in expected:
        differences.extend(_redrive_drift(actual.get("RedrivePolicy"), expected["RedrivePolicy"]))
    return differences


def _redrive_drift(actual_text: str | None, expected_text: str) -> list[str]:
    expected = json.loads(expected_text)
    target, count = expected["deadLetterTargetArn"], int(expected["maxReceiveCount"])
    if not actual_text:
        return [f"no redrive policy, expected dead-letter queue {target} after {count} receives"]
    actual = json.loads(actual_text)
    differences = []
    if actual.get("deadLetterTargetArn") != target:
        differences.append(
            f"redrive target is {actual.get('deadLetterTargetArn')}, expected {target}"
        )
    # SQS returns maxReceiveCount as a number, some emulators as a string.
    if str(actual.get("maxReceiveCount")) != str(count):
        differences.append(f"maxReceiveCount is {actual.get('maxReceiveCount')}, expected {count}")
    return differences
