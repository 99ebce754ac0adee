"""Dagster resources: the bucket, the queue and the table, and the import's tuning.

Names are ordinary fields with the contract's defaults. `definitions.py` fills them from the
STATEMENT_* variables, and the region and endpoint from the standard AWS variables, when the
definitions load: the UI's resource page shows what each resource points at, never an empty
value ("AWS default" where boto3's own chain decides), and the first lines of each run's log
name them again. Credentials are never fields: the default credential chain supplies them.
"""

from typing import Any, ClassVar

import dagster as dg
from pydantic import Field

from statement_pipeline.aws import clients
from statement_pipeline.aws.s3_files import object_links
from statement_pipeline.rules.names import (
    DEFAULT_BUCKET,
    DEFAULT_PREFIX,
    DEFAULT_QUEUE,
    DEFAULT_TABLE,
    dlq_name,
    normalize_prefix,
)
from statement_pipeline.rules.progress import PROGRESS_SECONDS
from statement_pipeline.rules.s3_links import AWS_DEFAULT, s3_url


def _set(value: str) -> str | None:
    return None if value == AWS_DEFAULT else value


class AwsServiceResource(dg.ConfigurableResource):
    """Where one AWS service's clients connect (base of the statement resources)."""

    SERVICE: ClassVar[str] = ""

    region_name: str = Field(
        default=AWS_DEFAULT,
        description=(
            "AWS region of the clients: AWS_REGION, else AWS_DEFAULT_REGION or the profile's, "
            'read when the definitions load ("AWS default": none was found then).'
        ),
    )
    endpoint_url: str = Field(
        default=AWS_DEFAULT,
        description=(
            "The service's endpoint: AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, read "
            'when the definitions load (a local emulator); "AWS default": AWS\'s own endpoint.'
        ),
    )
    max_attempts: int = Field(
        default=clients.DEFAULT_MAX_ATTEMPTS,
        ge=1,
        le=20,
        description="Attempts per call, first included (botocore's standard retry mode).",
    )
    use_ssl: bool = Field(default=True, description="Use TLS to the endpoint.")
    verify: bool = Field(
        default=True, description="Verify TLS certificates (AWS_CA_BUNDLE names another bundle)."
    )

    @classmethod
    def location_from_env(cls) -> dict[str, str]:
        """The region and endpoint the environment gives this service now (for definitions)."""
        return {
            "region_name": clients.region() or AWS_DEFAULT,
            "endpoint_url": clients.configured_endpoint(cls.SERVICE) or AWS_DEFAULT,
        }

    def get_client(self, max_attempts: int | None = None) -> Any:
        """A client from the project's one factory; unset fields follow boto3's chain."""
        return clients.client(
            self.SERVICE,
            max_attempts=max_attempts or self.max_attempts,
            region_name=_set(self.region_name),
            endpoint_url=_set(self.endpoint_url),
            use_ssl=self.use_ssl,
            verify=self.verify,
        )

    def location(self) -> str:
        """Region and endpoint as a client made now would use them."""
        region = _set(self.region_name) or clients.region() or AWS_DEFAULT
        endpoint = _set(self.endpoint_url) or clients.configured_endpoint(self.SERVICE)
        return f"region {region}, endpoint {endpoint or AWS_DEFAULT}"

    def points_at(self) -> str:
        """What the resource points at, for the first lines of a run's log."""
        raise NotImplementedError

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Each run (each step process, with multiprocess or Celery) names what it works on;
        # a sensor's tick, which has no run, would only repeat it every 30 s.
        if context.log is not None and context.run_id is not None:
            context.log.info(self.points_at())


class StatementFilesResource(AwsServiceResource):
    """The bucket and prefix holding the monthly statement files (S3)."""

    SERVICE: ClassVar[str] = "s3"

    bucket: str = Field(default=DEFAULT_BUCKET, description="Bucket holding the statement files.")
    prefix: str = Field(
        default=DEFAULT_PREFIX,
        description="Key prefix of the month folders (a trailing slash is implied).",
    )

    @property
    def normalized_prefix(self) -> str:
        """The prefix with its implied trailing slash."""
        return normalize_prefix(self.prefix)

    def points_at(self) -> str:
        return (
            f"statement files: {s3_url(self.bucket, self.normalized_prefix)}<YYYY-MM>/*.csv "
            f"(S3, {self.location()})"
        )

    def browser_urls(self, s3_urls: dict[str, str]) -> dict[str, str]:
        """name -> a link a browser opens, for name -> `s3://` URL of this bucket's objects.

        On AWS the object's page in the S3 console; on an emulator a presigned GET of it,
        signed with placeholder keys (never the environment's credentials).
        """
        return object_links(self.get_client(), s3_urls)


class SQSResource(AwsServiceResource):
    """The statement queue and its dead-letter queue `<queue>-dlq`."""

    SERVICE: ClassVar[str] = "sqs"

    queue_name: str = Field(default=DEFAULT_QUEUE, description="SQS queue of record batches.")

    @property
    def dlq_name(self) -> str:
        return dlq_name(self.queue_name)

    def points_at(self) -> str:
        return f"queue: {self.queue_name}, DLQ {self.dlq_name} (SQS, {self.location()})"

    def queue_urls(self, client: Any) -> tuple[str, str]:
        """URLs of the queue and its DLQ."""
        return (
            client.get_queue_url(QueueName=self.queue_name)["QueueUrl"],
            client.get_queue_url(QueueName=self.dlq_name)["QueueUrl"],
        )


class DynamoDBResource(AwsServiceResource):
    """The DynamoDB table the statement API reads."""

    SERVICE: ClassVar[str] = "dynamodb"

    table_name: str = Field(default=DEFAULT_TABLE, description="DynamoDB table of statements.")

    def points_at(self) -> str:
        return f"table: {self.table_name} (DynamoDB, {self.location()})"

    def get_batch_write_client(self) -> Any:
        """The loaders' client: one attempt per BatchWriteItem, the write budget retries."""
        return self.get_client(max_attempts=clients.BATCH_WRITE_ATTEMPTS)


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
