"""Create the pipeline's bucket, queue + DLQ and table, or check the ones that exist.

Plain Python + boto3, no Dagster. The caller builds the clients the standard boto3 way, so
the default credential chain, `AWS_REGION` and `AWS_ENDPOINT_URL(_S3/_SQS/_DYNAMODB)` apply;
nothing here names an endpoint, a credential or an account.

Safe to run again: a resource that exists is never changed. It is compared with the settings
this module would have created it with, and each difference is reported as drift for an
operator to decide on (changing encryption, redrive or a key schema under a running pipeline
is not something a bootstrap command should do on its own).

The actions this module needs are `statement_pipeline.rules.iam_policy.bootstrap_policy`; a denied
call raises `BootstrapAccessDenied` naming the missing IAM action.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from statement_pipeline.aws import clients
from statement_pipeline.aws.bootstrap_calls import (
    BootstrapAccessDenied,
    BootstrapError,
    BootstrapReport,
    code_of,
    guarded_call,
    is_plain_http,
    record_drift,
)
from statement_pipeline.aws.bootstrap_storage import (
    DEFAULT_RECEIVE_WAIT_SECONDS,
    DLQ_RETENTION_SECONDS,
    QUEUE_RETENTION_SECONDS,
    ensure_bucket,
    ensure_queue,
)
from statement_pipeline.rules.items import HASH_KEY, RANGE_KEY
from statement_pipeline.rules.names import Names

# What callers import from here: bootstrap is one entry point over three modules.
__all__ = [
    "DLQ_RETENTION_SECONDS",
    "QUEUE_RETENTION_SECONDS",
    "BootstrapAccessDenied",
    "BootstrapError",
    "BootstrapReport",
    "TableSettings",
    "bootstrap",
    "bootstrap_from_environment",
]

# boto3 clients are generated at run time; without type stubs installed they are `Any`.
S3Client = Any
SQSClient = Any
DynamoDBClient = Any

# The table's key schema is fixed: the loader, the checks and the statement API rely on it.
# A table with another schema (the earlier HASH `period`) is reported as drift, never changed:
# DynamoDB cannot change a key schema in place, and rebuilding a table is an operator's call.
TABLE_HASH_KEY = HASH_KEY  # "month_shard": "<YYYY-MM>#<00..31>"
TABLE_RANGE_KEY = RANGE_KEY  # "statement_id"
TABLE_KEY_SCHEMA = ((TABLE_HASH_KEY, "HASH", "S"), (TABLE_RANGE_KEY, "RANGE", "S"))

# Table creation takes seconds; poll every 2 s for up to 5 minutes.
_TABLE_POLL_SECONDS = 2.0
_TABLE_POLLS = 150
# Told what bootstrap waits for and for how long so far (a command's progress display).
Waiting = Callable[[str, float], None]
# Right after a table turns ACTIVE, UpdateContinuousBackups can still answer
# ContinuousBackupsUnavailableException for a short while; retry it.
_PITR_ATTEMPTS = 12
_PITR_RETRY_SECONDS = 5.0
_sleep = time.sleep  # indirection so tests can skip the real wait


@dataclass(frozen=True)
class TableSettings:
    """Capacity settings of the statement table (the key schema is fixed, see above)."""

    billing_mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] = "PAY_PER_REQUEST"
    # As many read units as write units: the count check reads the whole month back (one
    # unit per 4 KB, strongly consistent), and at 5 RCU it would outlast the load itself.
    # Read units cost a fifth of write units, so this adds about 20% to the table's price.
    read_capacity: int = 160
    write_capacity: int = 160

    def __post_init__(self) -> None:
        if self.billing_mode not in ("PAY_PER_REQUEST", "PROVISIONED"):
            raise ValueError(
                f"billing_mode must be PAY_PER_REQUEST or PROVISIONED, got {self.billing_mode!r}"
            )
        if self.billing_mode == "PROVISIONED" and min(self.read_capacity, self.write_capacity) < 1:
            raise ValueError("provisioned read and write capacity must be at least 1")


DEFAULT_TABLE_SETTINGS = TableSettings()


# --- table ---------------------------------------------------------------------------------


def _describe_table(dynamodb: DynamoDBClient, name: str, label: str) -> dict[str, Any] | None:
    try:
        return dict(guarded_call(dynamodb, "describe_table", label, TableName=name)["Table"])
    except ClientError as err:
        if code_of(err) == "ResourceNotFoundException":
            return None
        raise


def _wait_active(dynamodb: DynamoDBClient, name: str, waiting: Waiting | None = None) -> None:
    """Poll the table until it is ACTIVE, telling `waiting` its status meanwhile."""
    started = time.monotonic()
    for _ in range(_TABLE_POLLS):
        description = _describe_table(dynamodb, name, f"table {name}") or {}
        status = description.get("TableStatus", "not visible yet")
        if status == "ACTIVE":
            return
        if waiting is not None:
            waiting(f"table {name}: {status}", time.monotonic() - started)
        _sleep(_TABLE_POLL_SECONDS)
    raise BootstrapError(
        f"table {name} did not become ACTIVE within {_TABLE_POLLS * _TABLE_POLL_SECONDS:.0f}s"
    )


def _enable_pitr(dynamodb: DynamoDBClient, name: str, label: str) -> None:
    for attempt in range(1, _PITR_ATTEMPTS + 1):
        try:
            guarded_call(
                dynamodb,
                "update_continuous_backups",
                label,
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
            return
        except ClientError as err:
            if code_of(err) != "ContinuousBackupsUnavailableException" or attempt == _PITR_ATTEMPTS:
                raise
            _sleep(_PITR_RETRY_SECONDS)


def _ensure_table(
    dynamodb: DynamoDBClient,
    name: str,
    settings: TableSettings,
    report: BootstrapReport,
    waiting: Waiting | None = None,
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
            guarded_call(dynamodb, "create_table", label, **kwargs)
        except ClientError as err:
            if code_of(err) != "ResourceInUseException":
                raise
            # Created meanwhile (a concurrent run): check it like any existing table.
            description = _describe_table(dynamodb, name, label)
            if description is None:
                raise
        else:
            # Point-in-time recovery can only be switched on once the table is ACTIVE.
            _wait_active(dynamodb, name, waiting)
            _enable_pitr(dynamodb, name, label)
            report.created.append(f"{label}: created")
            return

    if description.get("TableStatus") == "DELETING":
        raise BootstrapError(f"{label} is being deleted; run bootstrap again once it is gone")
    if description.get("TableStatus") != "ACTIVE":
        _wait_active(dynamodb, name, waiting)
        description = _describe_table(dynamodb, name, label) or description
    differences = _table_drift(description, settings)
    backups = guarded_call(dynamodb, "describe_continuous_backups", label, TableName=name)
    pitr = (
        backups.get("ContinuousBackupsDescription", {})
        .get("PointInTimeRecoveryDescription", {})
        .get("PointInTimeRecoveryStatus", "DISABLED")
    )
    if pitr not in ("ENABLED", "ENABLING"):
        differences.append(f"point-in-time recovery is {pitr}, expected ENABLED")
    record_drift(report, label, differences)


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
    waiting: Waiting | None = None,
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
    - Table `names.table`: HASH `month_shard` (S) + RANGE `statement_id` (S), billing per `table`,
      SSE with the AWS managed key, point-in-time recovery.

    Resources are handled in that order and the first failure stops the run (a denied call
    raises BootstrapAccessDenied naming the IAM action). Existing resources are only read:
    every difference goes to `drift`, matching ones to `ok`. `waiting` hears what bootstrap
    waits for (a new table becoming ACTIVE) every poll.
    """
    if not 0 <= visibility_timeout <= 12 * 60 * 60:
        raise ValueError("visibility_timeout must be between 0 and 43200 seconds")
    if not 1 <= max_receive_count <= 1000:
        raise ValueError("max_receive_count must be between 1 and 1000")
    if not 0 <= receive_wait_seconds <= 20:
        raise ValueError("receive_wait_seconds must be between 0 and 20")
    tls_only = not is_plain_http(s3) if tls_only_policy is None else tls_only_policy

    report = BootstrapReport()
    ensure_bucket(names, s3, region, tls_only, report)
    dlq_arn = ensure_queue(
        sqs,
        names.dlq,
        f"queue {names.dlq}",
        {"SqsManagedSseEnabled": "true", "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
        report,
    )
    ensure_queue(
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
    _ensure_table(dynamodb, names.table, table, report, waiting)
    return report


def bootstrap_from_environment(
    names: Names, table: TableSettings | None = None, waiting: Waiting | None = None
) -> BootstrapReport:
    """Bootstrap the configured names in whatever AWS the environment points at."""
    return bootstrap(
        names,
        s3=clients.client("s3"),
        sqs=clients.client("sqs"),
        dynamodb=clients.client("dynamodb"),
        region=clients.region() or "us-east-1",
        table=table or TableSettings(),
        waiting=waiting,
    )
