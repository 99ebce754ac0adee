"""Dagster resources: S3 (dagster-aws S3Resource), our SQS, DynamoDB and SNS, the import's tuning.

Names are ordinary fields with the contract's defaults, and the region and endpoint are
dagster-aws's `region_name` and `endpoint_url`: `definitions.py` fills them all when the
definitions load (the names from the STATEMENT_* variables, each service's region and endpoint
from the standard AWS variables, `aws_location`), so the UI's resource page shows what each
resource points at, never an empty value: "AWS default" where boto3's own chain decides, which
the project's one client factory reads as unset. The first lines of each run's log name them
again. Credential fields stay unset: the default credential chain supplies the keys.
"""

from typing import Any

import dagster as dg
from botocore.handlers import disable_signing
from dagster_aws.s3 import S3Resource
from dagster_aws.utils import ResourceWithBoto3Configuration
from pydantic import Field

from statement_pipeline.aws import clients
from statement_pipeline.aws.s3_files import object_links
from statement_pipeline.rules.capacity_window import (
    DEFAULT_MAX_WCU,
    DEFAULT_POLICY,
    DEFAULT_TARGET_SECONDS,
    parse_policy,
)
from statement_pipeline.rules.names import (
    DEFAULT_BUCKET,
    DEFAULT_PREFIX,
    DEFAULT_QUEUE,
    DEFAULT_TABLE,
    MAX_LEAD_MINUTES,
    CapacitySettings,
    dlq_name,
    normalize_prefix,
)
from statement_pipeline.rules.progress import PROGRESS_SECONDS
from statement_pipeline.rules.read_budget import DEFAULT_READ_SHARE
from statement_pipeline.rules.s3_links import AWS_DEFAULT, s3_url


def boto3_client(
    resource: ResourceWithBoto3Configuration | S3Resource,
    service: str,
    max_attempts: int | None = None,
    validate: bool = True,
) -> Any:
    """A client from the project's one factory, with the resource's fields where set."""
    return clients.client(
        service,
        max_attempts=max_attempts or resource.max_attempts,
        validate=validate,
        profile_name=resource.profile_name,
        region_name=resource.region_name,
        use_ssl=resource.use_ssl,
        verify=resource.verify,
        endpoint_url=resource.endpoint_url,
        aws_access_key_id=resource.aws_access_key_id,
        aws_secret_access_key=resource.aws_secret_access_key,
        aws_session_token=resource.aws_session_token,
    )


def aws_location(service: str) -> dict[str, str]:
    """`region_name` and `endpoint_url` of `service` as the environment gives them now.

    For the definitions, when they load: "AWS default" where none is set (boto3's chain then
    decides when a client is made).
    """
    return {
        "region_name": clients.region() or AWS_DEFAULT,
        "endpoint_url": clients.configured_endpoint(service) or AWS_DEFAULT,
    }


def _location(resource: ResourceWithBoto3Configuration | S3Resource, service: str) -> str:
    """Region and endpoint as a client made now would use them."""
    region = clients.setting(resource.region_name) or clients.region() or AWS_DEFAULT
    endpoint = clients.setting(resource.endpoint_url) or clients.configured_endpoint(service)
    return f"region {region}, endpoint {endpoint or AWS_DEFAULT}"


def _log_target(context: dg.InitResourceContext, target: str) -> None:
    # Each run (each step process, with multiprocess or Celery) names what it works on; a
    # sensor's tick, which has no run, would only repeat it every 30 s.
    if context.log is not None and context.run is not None:
        context.log.info(target)


class StatementS3Resource(S3Resource):
    """dagster-aws's S3Resource, its clients made by the project's one factory.

    The factory reads "AWS default" as unset; S3Resource's own client would take it for an
    endpoint (and the IO manager makes its client through this resource).
    """

    def get_client(self) -> Any:
        client = boto3_client(self, "s3")
        if self.use_unsigned_session:
            client.meta.events.register("choose-signer.s3.*", disable_signing)
        return client


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

    def points_at(self) -> str:
        """What the resource points at, for the first lines of a run's log."""
        return (
            f"statement files: {s3_url(self.bucket, self.normalized_prefix)}<YYYY-MM>/*.csv "
            f"(S3, {_location(self.s3, 's3')})"
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        _log_target(context, self.points_at())

    def browser_urls(self, s3_urls: dict[str, str]) -> dict[str, str]:
        """name -> a link a browser opens, for name -> `s3://` URL of this bucket's objects.

        On AWS the object's page in the S3 console; on an emulator a presigned GET of it,
        signed with placeholder keys (never the environment's credentials).
        """
        return object_links(self.get_client(), s3_urls)


class SQSResource(ResourceWithBoto3Configuration):
    """The statement queue and its dead-letter queue `<queue>-dlq`."""

    queue_name: str = Field(default=DEFAULT_QUEUE, description="SQS queue of record batches.")

    @property
    def dlq_name(self) -> str:
        return dlq_name(self.queue_name)

    def get_client(self) -> Any:
        return boto3_client(self, "sqs")

    def points_at(self) -> str:
        """What the resource points at, for the first lines of a run's log."""
        return f"queue: {self.queue_name}, DLQ {self.dlq_name} (SQS, {_location(self, 'sqs')})"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        _log_target(context, self.points_at())

    def queue_urls(self, client: Any) -> tuple[str, str]:
        """URLs of the queue and its DLQ."""
        return (
            client.get_queue_url(QueueName=self.queue_name)["QueueUrl"],
            client.get_queue_url(QueueName=self.dlq_name)["QueueUrl"],
        )


class DynamoDBResource(ResourceWithBoto3Configuration):
    """The DynamoDB table the statement API reads."""

    table_name: str = Field(default=DEFAULT_TABLE, description="DynamoDB table of statements.")
    capacity_policy: str = Field(
        default=DEFAULT_POLICY,
        description=(
            "STATEMENT_CAPACITY_POLICY: keep (never change the table's capacity), raise (raise "
            "provisioned capacity for the import window, then restore it) or on_demand (switch "
            "to on-demand for the window, then back)."
        ),
    )
    capacity_target_seconds: int = Field(
        default=DEFAULT_TARGET_SECONDS,
        ge=1,
        description="STATEMENT_CAPACITY_TARGET_SECONDS: the month's write time a raise aims for.",
    )
    capacity_max_wcu: int = Field(
        default=DEFAULT_MAX_WCU,
        ge=1,
        description="STATEMENT_CAPACITY_MAX_WCU: a raise never provisions more write units.",
    )
    capacity_lead_minutes: int = Field(
        default=0,
        ge=0,
        le=MAX_LEAD_MINUTES,
        description=(
            "STATEMENT_CAPACITY_LEAD_MINUTES: minutes before the monthly import that "
            "capacity_lead_schedule starts the raise (0: no lead)."
        ),
    )

    @property
    def capacity(self) -> CapacitySettings:
        """The capacity settings, checked (an unknown policy fails here, by name)."""
        return CapacitySettings(
            parse_policy(self.capacity_policy),
            self.capacity_target_seconds,
            self.capacity_max_wcu,
            self.capacity_lead_minutes,
        )

    def get_client(self) -> Any:
        return boto3_client(self, "dynamodb")

    def get_autoscaling_client(self) -> Any:
        """Application Auto Scaling, for a table whose capacity is a scalable target."""
        return boto3_client(self, "application-autoscaling")

    def get_batch_write_client(self) -> Any:
        """The loaders' client: one attempt per BatchWriteItem, the write budget retries.

        Like `clients.batch_write_client`, it does not check requests before sending them.
        """
        return boto3_client(
            self,
            "dynamodb",
            max_attempts=clients.BATCH_WRITE_ATTEMPTS,
            validate=clients.BATCH_WRITE_VALIDATION,
        )

    def get_read_client(self) -> Any:
        """The month reader's client: one attempt per Query page, the read budget retries."""
        return boto3_client(self, "dynamodb", max_attempts=clients.READ_ATTEMPTS)

    def points_at(self) -> str:
        """What the resource points at, for the first lines of a run's log."""
        return f"table: {self.table_name} (DynamoDB, {_location(self, 'dynamodb')})"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        _log_target(context, self.points_at())


class SNSResource(ResourceWithBoto3Configuration):
    """The SNS topic that hears about failed import runs (none: alerts are off)."""

    topic_arn: str | None = Field(
        default=None,
        description=(
            "ARN of the SNS topic alerts are published to (STATEMENT_ALERT_TOPIC_ARN); "
            "empty: no alert is sent."
        ),
    )

    def get_client(self) -> Any:
        return boto3_client(self, "sns")


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
    progress_seconds: float = Field(
        default=PROGRESS_SECONDS,
        ge=0.1,
        le=3600,
        description="How often validating, enqueuing and loading log a progress line.",
    )
    full_reimport: bool = Field(
        default=False,
        description=(
            "Write every row of the month again, even files the table already holds as "
            "current (by default only new, changed or incomplete files are written)."
        ),
    )
