"""Dagster resources: S3 (dagster-aws S3Resource), our SQS and DynamoDB, and the import's tuning.

Names are ordinary fields with the contract's defaults; `definitions.py` fills them from the
STATEMENT_* variables when the definitions load, so the UI's resource page shows the real
bucket, queue and table. Endpoints, regions and credentials resolve the standard boto3 way
(AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS, ... are honoured) unless set here.
"""

from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from dagster_aws.utils import ResourceWithBoto3Configuration
from pydantic import Field

from statement_pipeline.aws import clients
from statement_pipeline.rules.names import (
    DEFAULT_BUCKET,
    DEFAULT_PREFIX,
    DEFAULT_QUEUE,
    DEFAULT_TABLE,
    dlq_name,
    normalize_prefix,
)
from statement_pipeline.rules.read_budget import DEFAULT_READ_SHARE


def boto3_client(
    resource: ResourceWithBoto3Configuration | S3Resource,
    service: str,
    max_attempts: int | None = None,
) -> Any:
    """A client from the project's one factory, with the resource's fields where set."""
    return clients.client(
        service,
        max_attempts=max_attempts or resource.max_attempts,
        profile_name=resource.profile_name,
        region_name=resource.region_name,
        use_ssl=resource.use_ssl,
        verify=resource.verify,
        endpoint_url=resource.endpoint_url,
        aws_access_key_id=resource.aws_access_key_id,
        aws_secret_access_key=resource.aws_secret_access_key,
        aws_session_token=resource.aws_session_token,
    )


class StatementFilesResource(dg.ConfigurableResource):
    """The bucket and prefix holding the monthly statement files, read through S3Resource."""

    s3: dg.ResourceDependency[S3Resource]
    bucket: str = Field(default=DEFAULT_BUCKET, description="Bucket holding the statement files.")
    prefix: str = Field(
        default=DEFAULT_PREFIX,
        description="Key prefix of the month folders (a trailing slash is implied).",
    )

    @property
    def normalized_prefix(self) -> str:
        """The prefix with its implied trailing slash."""
        return normalize_prefix(self.prefix)

    def get_client(self) -> Any:
        """An S3 client from the project's one factory, with S3Resource's settings.

        (`use_unsigned_session` does not apply: statement files are never public.)
        """
        return boto3_client(self.s3, "s3")


class SQSResource(ResourceWithBoto3Configuration):
    """The statement queue and its dead-letter queue `<queue>-dlq`."""

    queue_name: str = Field(default=DEFAULT_QUEUE, description="SQS queue of record batches.")

    @property
    def dlq_name(self) -> str:
        return dlq_name(self.queue_name)

    def get_client(self) -> Any:
        return boto3_client(self, "sqs")

    def queue_urls(self, client: Any) -> tuple[str, str]:
        """URLs of the queue and its DLQ."""
        return (
            client.get_queue_url(QueueName=self.queue_name)["QueueUrl"],
            client.get_queue_url(QueueName=self.dlq_name)["QueueUrl"],
        )


class DynamoDBResource(ResourceWithBoto3Configuration):
    """The DynamoDB table the statement API reads."""

    table_name: str = Field(default=DEFAULT_TABLE, description="DynamoDB table of statements.")

    def get_client(self) -> Any:
        return boto3_client(self, "dynamodb")

    def get_batch_write_client(self) -> Any:
        """The loaders' client: one attempt per BatchWriteItem, the write budget retries."""
        return boto3_client(self, "dynamodb", max_attempts=clients.BATCH_WRITE_ATTEMPTS)

    def get_read_client(self) -> Any:
        """The month reader's client: one attempt per Query page, the read budget retries."""
        return boto3_client(self, "dynamodb", max_attempts=clients.READ_ATTEMPTS)


class ImportTuning(dg.ConfigurableResource):
    """Every tuning knob of the import in one place: concurrency, message size, pacing.

    Set it in run config under `resources: {import_tuning: {config: {...}}}`.
    """

    files_in_parallel: int = Field(
        default=4, ge=1, le=64, description="Files validated and enqueued at once (threads)."
    )
    file_ops: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Ops the files are spread over (separate processes with `multiprocess`).",
    )
    records_per_message: int = Field(
        default=250,
        ge=1,
        le=5000,
        description="Statements per SQS message (more: fewer calls and a shallower queue).",
    )
    loaders: int = Field(default=4, ge=1, le=64, description="Loader workers draining the queue.")
    loader_ops: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Ops the loaders are spread over (threads within each). With the multiprocess "
            "executor, set it to `loaders` to run every loader in its own process."
        ),
    )
    target_utilisation: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description=(
            "Optional cap: the share of the table's sustained write rate this import may use "
            "(for a table shared with other writers; then no burst is spent). Empty: use what "
            "the table grants, burst credits included."
        ),
    )
    read_share: float = Field(
        default=DEFAULT_READ_SHARE,
        gt=0,
        le=1,
        description=(
            "Share of the table's sustained read rate the import's reads of the month settle "
            "at once the read burst is spent; the rest is left to the statement API."
        ),
    )
    messages_per_receive: int = Field(default=10, ge=1, le=10, description="ReceiveMessage batch.")
    visibility_timeout_seconds: int = Field(
        default=300, ge=10, le=43200, description="How long a received message stays hidden."
    )
    deadline_seconds: float = Field(
        default=3600.0, gt=0, description="Longest a loader works before the run fails."
    )
    full_reimport: bool = Field(
        default=False,
        description=(
            "Write every row of the month again, even files the table already holds as "
            "current (by default only new, changed or incomplete files are written)."
        ),
    )
