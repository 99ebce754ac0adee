"""Create the pipeline's bucket, queue + DLQ and table, or check the ones that exist.

Plain Python + boto3, no Dagster. The caller builds the clients the standard boto3 way, so
the default credential chain, `AWS_REGION` and `AWS_ENDPOINT_URL(_S3/_SQS/_DYNAMODB)` apply;
nothing here names an endpoint, a credential or an account.

Safe to run again: a resource that exists is never changed. It is compared with the settings
this module would have created it with, and each difference is reported as drift for an
operator to decide on (changing encryption, redrive or a key schema under a running pipeline
is not something a bootstrap command should do on its own).

The actions this module needs are `statement_pipeline.infra.iam.bootstrap_policy`; a denied
call raises `BootstrapAccessDenied` naming the missing IAM action.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError, WaiterError

from statement_pipeline.core.items import HASH_KEY, RANGE_KEY
from statement_pipeline.core.settings import Names
from statement_pipeline.infra.iam import iam_action, partition_for_region

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
TLS_POLICY_SID = "DenyInsecureTransport"

# The table's key schema is fixed: the loader, the checks and the statement API rely on it.
TABLE_HASH_KEY = HASH_KEY  # "period"
TABLE_RANGE_KEY = RANGE_KEY  # "statement_id"
TABLE_KEY_SCHEMA = ((TABLE_HASH_KEY, "HASH", "S"), (TABLE_RANGE_KEY, "RANGE", "S"))

ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_NO_SUCH_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
_QUEUE_EXISTS_CODES = frozenset({"QueueAlreadyExists", "QueueNameExists"})

# Table creation takes seconds; poll every 2 s for up to 5 minutes.
_TABLE_WAITER_CONFIG = {"Delay": 2, "MaxAttempts": 150}
# Right after a table turns ACTIVE, UpdateContinuousBackups can still answer
# ContinuousBackupsUnavailableException for a short while; retry it.
_PITR_ATTEMPTS = 12
_PITR_RETRY_SECONDS = 5.0
_sleep = time.sleep  # indirection so tests can skip the real wait


class BootstrapError(RuntimeError):
    """Bootstrap could not create or check a resource."""


class BootstrapAccessDenied(BootstrapError):
    """A call was denied: names the IAM action the caller lacks."""

    def __init__(self, action: str, operation: str, resource: str, detail: str) -> None:
        self.action = action
        self.operation = operation
        self.resource = resource
        # The service's own message (it may name the principal); one line, bounded.
        self.detail = " ".join(detail.split())[:300]
        super().__init__(
            f"AccessDenied: {operation} on {resource} was refused; the caller needs "
            f"IAM action {action} (see the bootstrap IAM policy). {self.detail}".strip()
        )


@dataclass(frozen=True)
class TableSettings:
    """Capacity settings of the statement table (the key schema is fixed, see above)."""

    billing_mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] = "PAY_PER_REQUEST"
    read_capacity: int = 5
    write_capacity: int = 160

    def __post_init__(self) -> None:
        if self.billing_mode not in ("PAY_PER_REQUEST", "PROVISIONED"):
            raise ValueError(
                f"billing_mode must be PAY_PER_REQUEST or PROVISIONED, got {self.billing_mode!r}"
            )
        if self.billing_mode == "PROVISIONED" and min(self.read_capacity, self.write_capacity) < 1:
            raise ValueError("provisioned read and write capacity must be at least 1")


DEFAULT_TABLE_SETTINGS = TableSettings()


@dataclass
class BootstrapReport:
    """What bootstrap did, one human-readable line per resource or difference."""

    created: list[str] = field(default_factory=list)
    ok: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    # Things an operator should know that are neither drift nor a creation.
    notes: list[str] = field(default_factory=list)

    @property
    def has_drift(self) -> bool:
        """True when an existing resource differs from what bootstrap would create."""
        return bool(self.drift)

    def lines(self) -> list[str]:
        """Every line, prefixed with its kind, for printing."""
        return [
            *(f"created  {line}" for line in self.created),
            *(f"ok       {line}" for line in self.ok),
            *(f"DRIFT    {line}" for line in self.drift),
            *(f"note     {line}" for line in self.notes),
        ]


# --- helpers -------------------------------------------------------------------------------


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _codes(err: ClientError) -> set[str]:
    """The error code, plus the query-protocol code SQS adds to its JSON errors."""
    error = err.response.get("Error", {})
    return {str(error.get("Code", "")), str(error.get("QueryErrorCode", ""))} - {""}


def _is_access_denied(err: ClientError) -> bool:
    if _code(err) in ACCESS_DENIED_CODES:
        return True
    # A bare 403 comes from S3 requests without a body (HEAD, a bucket-policy denial) and
    # from emulators whose error body botocore cannot parse (moto's XML errors on the JSON
    # SQS/DynamoDB APIs): a denial unless the text says the credentials themselves are bad.
    if _code(err) != "403":
        return False
    message = str(err.response.get("Error", {}).get("Message") or "")
    return not any(
        bad in message for bad in ("InvalidClientTokenId", "SignatureDoesNotMatch", "Expired")
    )


def _call(client: Any, method: str, resource: str, **kwargs: Any) -> dict[str, Any]:
    """Call `client.<method>(**kwargs)`; turn a denial into BootstrapAccessDenied."""
    try:
        return getattr(client, method)(**kwargs)
    except ClientError as err:
        if _is_access_denied(err):
            operation = client.meta.method_to_api_mapping[method]
            service = client.meta.service_model.service_name
            raise BootstrapAccessDenied(
                action=iam_action(service, operation),
                operation=operation,
                resource=resource,
                detail=str(err.response.get("Error", {}).get("Message") or ""),
            ) from err
        raise


def _is_plain_http(client: Any) -> bool:
    return str(client.meta.endpoint_url).lower().startswith("http://")


def tls_only_bucket_policy(bucket: str, partition: str = "aws") -> dict[str, Any]:
    """Bucket policy that denies every request not made over TLS."""
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": TLS_POLICY_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def _denies_plain_http(policy: dict[str, Any], bucket_arn: str) -> bool:
    """True if some statement denies all S3 actions on bucket and objects without TLS."""

    def as_list(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    for statement in as_list(policy.get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        if principal not in ("*", {"AWS": "*"}):
            continue
        if not {"s3:*", "*"} & set(as_list(statement.get("Action", []))):
            continue
        resources = set(as_list(statement.get("Resource", [])))
        if not ({bucket_arn, "*"} & resources and {f"{bucket_arn}/*", "*"} & resources):
            continue
        condition = statement.get("Condition", {})
        secure = condition.get("Bool", {}).get("aws:SecureTransport")
        if [str(v).lower() for v in as_list(secure)] == ["false"]:
            return True
    return False


# --- bucket --------------------------------------------------------------------------------


def _bucket_region(s3: S3Client, bucket: str, arn: str) -> str | None:
    """Region of the bucket, or None when it does not exist."""
    try:
        response = _call(s3, "get_bucket_location", arn, Bucket=bucket)
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
        if _code(err) in ("NoSuchBucket", "404"):
            return None
        raise
    location = response.get("LocationConstraint")
    # S3 reports us-east-1 as no constraint and the oldest EU buckets as "EU".
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else str(location)


def _ensure_bucket(
    names: Names, s3: S3Client, region: str, tls_only: bool, report: BootstrapReport
) -> None:
    bucket = names.bucket
    label = f"bucket {bucket}"
    partition = partition_for_region(region)
    arn = f"arn:{partition}:s3:::{bucket}"
    if not tls_only:
        reason = (
            "the S3 endpoint is plain HTTP, where it would deny every request"
            if _is_plain_http(s3)
            else "tls_only_policy=False"
        )
        report.notes.append(f"{label}: no TLS-only bucket policy ({reason})")
    actual_region = _bucket_region(s3, bucket, arn)
    if actual_region is None:
        if _create_bucket(s3, bucket, region, arn):
            # Block public access first so the bucket is never public, not even briefly.
            _call(
                s3,
                "put_public_access_block",
                arn,
                Bucket=bucket,
                PublicAccessBlockConfiguration=dict(PUBLIC_ACCESS_BLOCK),
            )
            _call(
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
                _call(
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
    _record(report, label, differences)


def _create_bucket(s3: S3Client, bucket: str, region: str, arn: str) -> bool:
    """Create the bucket; False if it appeared meanwhile (a concurrent bootstrap)."""
    kwargs: dict[str, Any] = {"Bucket": bucket}
    # us-east-1 is the one region that rejects an explicit LocationConstraint.
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        _call(s3, "create_bucket", arn, **kwargs)
    except ClientError as err:
        if _code(err) == "BucketAlreadyOwnedByYou":
            return False
        if _code(err) == "BucketAlreadyExists":
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
        rules = _call(s3, "get_bucket_encryption", arn, Bucket=bucket)[
            "ServerSideEncryptionConfiguration"
        ].get("Rules", [])
    except ClientError as err:
        if _code(err) != "ServerSideEncryptionConfigurationNotFoundError":
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
        block = _call(s3, "get_public_access_block", arn, Bucket=bucket)[
            "PublicAccessBlockConfiguration"
        ]
    except ClientError as err:
        if _code(err) != "NoSuchPublicAccessBlockConfiguration":
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
            policy_text = _call(s3, "get_bucket_policy", arn, Bucket=bucket)["Policy"]
        except ClientError as err:
            if _code(err) != "NoSuchBucketPolicy":
                raise
            differences.append("no bucket policy, expected one denying non-TLS requests")
        else:
            if not _denies_plain_http(json.loads(policy_text), arn):
                differences.append("bucket policy does not deny non-TLS requests")
    return differences


# --- queues --------------------------------------------------------------------------------


def _queue_url(sqs: SQSClient, name: str, resource: str) -> str | None:
    try:
        return str(_call(sqs, "get_queue_url", resource, QueueName=name)["QueueUrl"])
    except ClientError as err:
        if _codes(err) & _NO_SUCH_QUEUE_CODES:
            return None
        raise


def _queue_attributes(sqs: SQSClient, url: str, resource: str) -> dict[str, str]:
    return dict(
        _call(sqs, "get_queue_attributes", resource, QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
    )


def _ensure_queue(
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
                _call(sqs, "create_queue", where, QueueName=name, Attributes=attributes)["QueueUrl"]
            )
        except ClientError as err:
            # Created meanwhile with other attributes (a concurrent run): check it below.
            if not _codes(err) & _QUEUE_EXISTS_CODES:
                raise
            url = _queue_url(sqs, name, where)
            if url is None:
                raise
        else:
            report.created.append(f"{label}: created")
            return _queue_attributes(sqs, url, where)["QueueArn"]
    actual = _queue_attributes(sqs, url, where)
    _record(report, label, _queue_drift(actual, attributes))
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


# --- table ---------------------------------------------------------------------------------


def _describe_table(dynamodb: DynamoDBClient, name: str, label: str) -> dict[str, Any] | None:
    try:
        return dict(_call(dynamodb, "describe_table", label, TableName=name)["Table"])
    except ClientError as err:
        if _code(err) == "ResourceNotFoundException":
            return None
        raise


def _wait_active(dynamodb: DynamoDBClient, name: str) -> None:
    try:
        dynamodb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig=dict(_TABLE_WAITER_CONFIG)
        )
    except WaiterError as err:
        raise BootstrapError(f"table {name} did not become ACTIVE: {err}") from err


def _enable_pitr(dynamodb: DynamoDBClient, name: str, label: str) -> None:
    for attempt in range(1, _PITR_ATTEMPTS + 1):
        try:
            _call(
                dynamodb,
                "update_continuous_backups",
                label,
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
            return
        except ClientError as err:
            if _code(err) != "ContinuousBackupsUnavailableException" or attempt == _PITR_ATTEMPTS:
                raise
            _sleep(_PITR_RETRY_SECONDS)


def _ensure_table(
    dynamodb: DynamoDBClient, name: str, settings: TableSettings, report: BootstrapReport
) -> None:
    label = f"table {name}"
    description = _describe_table(dynamodb, name, label)
    if description is None:
        kwargs: dict[str, Any] = {
            "TableName": name,
            "KeySchema": [{"AttributeName": a, "KeyType": k} for a, k, _ in TABLE_KEY_SCHEMA],
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": t} for a, _, t in TABLE_KEY_SCHEMA
            ],
            "BillingMode": settings.billing_mode,
            # Enabled=True: encrypted with the AWS managed KMS key aws/dynamodb.
            "SSESpecification": {"Enabled": True},
        }
        if settings.billing_mode == "PROVISIONED":
            kwargs["ProvisionedThroughput"] = {
                "ReadCapacityUnits": settings.read_capacity,
                "WriteCapacityUnits": settings.write_capacity,
            }
        try:
            _call(dynamodb, "create_table", label, **kwargs)
        except ClientError as err:
            if _code(err) != "ResourceInUseException":
                raise
            # Created meanwhile (a concurrent run): check it like any existing table.
            description = _describe_table(dynamodb, name, label)
            if description is None:
                raise
        else:
            # Point-in-time recovery can only be switched on once the table is ACTIVE.
            _wait_active(dynamodb, name)
            _enable_pitr(dynamodb, name, label)
            report.created.append(f"{label}: created")
            return

    if description.get("TableStatus") == "DELETING":
        raise BootstrapError(f"{label} is being deleted; run bootstrap again once it is gone")
    if description.get("TableStatus") != "ACTIVE":
        _wait_active(dynamodb, name)
        description = _describe_table(dynamodb, name, label) or description
    differences = _table_drift(description, settings)
    backups = _call(dynamodb, "describe_continuous_backups", label, TableName=name)
    pitr = (
        backups.get("ContinuousBackupsDescription", {})
        .get("PointInTimeRecoveryDescription", {})
        .get("PointInTimeRecoveryStatus", "DISABLED")
    )
    if pitr not in ("ENABLED", "ENABLING"):
        differences.append(f"point-in-time recovery is {pitr}, expected ENABLED")
    _record(report, label, differences)


def _key_schema_text(schema: list[tuple[str, str, str]]) -> str:
    return ", ".join(f"{kind} {name} ({kind_type})" for name, kind, kind_type in schema) or "none"


def _table_drift(description: dict[str, Any], settings: TableSettings) -> list[str]:
    differences: list[str] = []
    types = {
        d["AttributeName"]: d["AttributeType"] for d in description.get("AttributeDefinitions", [])
    }
    actual_schema = [
        (k["AttributeName"], k["KeyType"], types.get(k["AttributeName"], "?"))
        for k in description.get("KeySchema", [])
    ]
    if actual_schema != list(TABLE_KEY_SCHEMA):
        differences.append(
            f"key schema is {_key_schema_text(actual_schema)}, "
            f"expected {_key_schema_text(list(TABLE_KEY_SCHEMA))}"
        )

    # Tables created before on-demand existed report no BillingModeSummary: provisioned.
    billing = description.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if billing != settings.billing_mode:
        differences.append(f"billing mode is {billing}, expected {settings.billing_mode}")
    elif billing == "PROVISIONED":
        throughput = description.get("ProvisionedThroughput", {})
        for key, wanted in (
            ("ReadCapacityUnits", settings.read_capacity),
            ("WriteCapacityUnits", settings.write_capacity),
        ):
            if throughput.get(key) != wanted:
                differences.append(f"{key} is {throughput.get(key)}, expected {wanted}")

    # A table without SSEDescription is encrypted with an AWS owned key that the account
    # cannot audit; bootstrap creates tables with the AWS managed KMS key instead.
    sse = description.get("SSEDescription", {}).get("Status")
    if sse not in ("ENABLED", "ENABLING", "UPDATING"):
        found = sse or "not enabled (AWS owned key only)"
        differences.append(f"server-side encryption is {found}, expected ENABLED (KMS)")
    return differences


def _record(report: BootstrapReport, label: str, differences: list[str]) -> None:
    if differences:
        report.drift.extend(f"{label}: {d} (left unchanged)" for d in differences)
    else:
        report.ok.append(f"{label}: ok")


# --- entry point ---------------------------------------------------------------------------


def bootstrap(
    names: Names,
    *,
    s3: S3Client,
    sqs: SQSClient,
    dynamodb: DynamoDBClient,
    region: str,
    table: TableSettings = DEFAULT_TABLE_SETTINGS,
    visibility_timeout: int = 300,
    max_receive_count: int = 5,
    receive_wait_seconds: int = DEFAULT_RECEIVE_WAIT_SECONDS,
    tls_only_policy: bool | None = None,
) -> BootstrapReport:
    """Create the bucket, the DLQ, the queue and the table, or check the existing ones.

    - Bucket `names.bucket` in `region`: SSE-S3 default encryption, all four public access
      block settings, and a bucket policy denying requests without TLS. `tls_only_policy`
      None (the default) writes that policy unless the S3 client talks plain HTTP (a local
      emulator), where the policy would deny every request; True/False force it.
      Note: moto ignores the policy's `aws:SecureTransport` condition and denies every object
      request once it is set, so in-process moto tests that use objects pass False.
    - DLQ `names.dlq`: SSE-SQS, 14 days retention.
    - Queue `names.queue`: SSE-SQS, `visibility_timeout`, 4 days retention,
      `receive_wait_seconds` long polling, redrive to the DLQ after `max_receive_count`.
    - Table `names.table`: HASH `period` (S) + RANGE `statement_id` (S), billing per `table`,
      SSE with the AWS managed key, point-in-time recovery.

    Resources are handled in that order and the first failure stops the run (a denied call
    raises BootstrapAccessDenied naming the IAM action). Existing resources are only read:
    every difference goes to `drift`, matching ones to `ok`.
    """
    if not 0 <= visibility_timeout <= 12 * 60 * 60:
        raise ValueError("visibility_timeout must be between 0 and 43200 seconds")
    if not 1 <= max_receive_count <= 1000:
        raise ValueError("max_receive_count must be between 1 and 1000")
    if not 0 <= receive_wait_seconds <= 20:
        raise ValueError("receive_wait_seconds must be between 0 and 20")
    tls_only = not _is_plain_http(s3) if tls_only_policy is None else tls_only_policy

    report = BootstrapReport()
    _ensure_bucket(names, s3, region, tls_only, report)
    dlq_arn = _ensure_queue(
        sqs,
        names.dlq,
        f"queue {names.dlq}",
        {"SqsManagedSseEnabled": "true", "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
        report,
    )
    _ensure_queue(
        sqs,
        names.queue,
        f"queue {names.queue}",
        {
            "SqsManagedSseEnabled": "true",
            "VisibilityTimeout": str(visibility_timeout),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
            "ReceiveMessageWaitTimeSeconds": str(receive_wait_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
            ),
        },
        report,
    )
    _ensure_table(dynamodb, names.table, table, report)
    return report
