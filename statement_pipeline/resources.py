"""Dagster resources: S3 (dagster-aws S3Resource), and our own SQS and DynamoDB resources.

Names left empty resolve at run time from the contract's variables (STATEMENT_BUCKET,
STATEMENT_PREFIX, STATEMENT_QUEUE, STATEMENT_TABLE) or their defaults: Dagster's EnvVar has
no default, and the contract gives every name one. Endpoints, regions and credentials resolve
the standard boto3 way (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS, ... are honoured) unless set.
"""

from typing import Any

import boto3
import dagster as dg
from dagster_aws.s3 import S3Resource
from dagster_aws.utils import ResourceWithBoto3Configuration, construct_boto_client_retry_config
from pydantic import Field

from statement_pipeline import aws
from statement_pipeline.core.retry import Backoff, call_with_retry
from statement_pipeline.core.settings import Names, normalize_prefix


def boto3_client(resource: ResourceWithBoto3Configuration, service: str) -> Any:
    """A client built from the resource's fields; unset fields fall back to boto3's chain."""
    session = boto3.session.Session(profile_name=resource.profile_name)
    return session.client(
        service,
        region_name=resource.region_name or aws.region(),
        use_ssl=resource.use_ssl,
        verify=resource.verify,
        endpoint_url=resource.endpoint_url,
        aws_access_key_id=resource.aws_access_key_id,
        aws_secret_access_key=resource.aws_secret_access_key,
        aws_session_token=resource.aws_session_token,
        config=construct_boto_client_retry_config(resource.max_attempts),
    )


class StatementFilesResource(dg.ConfigurableResource):
    """The bucket and prefix holding the monthly statement files, read through S3Resource."""

    s3: dg.ResourceDependency[S3Resource]
    bucket: str | None = Field(
        default=None,
        description="Bucket holding the statement files; empty: $STATEMENT_BUCKET or 'statements'.",
    )
    prefix: str | None = Field(
        default=None,
        description="Key prefix of the month folders; empty: $STATEMENT_PREFIX or 'statements/'.",
    )

    def resolved_bucket(self) -> str:
        return self.bucket or Names.from_env().bucket

    def resolved_prefix(self) -> str:
        return normalize_prefix(self.prefix) if self.prefix is not None else Names.from_env().prefix

    def get_client(self) -> Any:
        return self.s3.get_client()


class SQSResource(ResourceWithBoto3Configuration):
    """The statement queue and its dead-letter queue `<queue>-dlq`."""

    queue_name: str | None = Field(
        default=None,
        description="SQS queue of record batches; empty: $STATEMENT_QUEUE or 'statement-records'.",
    )

    def resolved_queue_name(self) -> str:
        return self.queue_name or Names.from_env().queue

    def resolved_dlq_name(self) -> str:
        return f"{self.resolved_queue_name()}-dlq"

    def get_client(self) -> Any:
        return boto3_client(self, "sqs")

    def queue_urls(self, client: Any) -> tuple[str, str]:
        """URLs of the queue and its DLQ (retried: a 5xx here would otherwise fail the op)."""
        backoff = Backoff()

        def url(name: str) -> str:
            return call_with_retry(lambda: client.get_queue_url(QueueName=name), backoff)[
                "QueueUrl"
            ]

        return url(self.resolved_queue_name()), url(self.resolved_dlq_name())


class DynamoDBResource(ResourceWithBoto3Configuration):
    """The DynamoDB table the statement API reads."""

    table_name: str | None = Field(
        default=None,
        description="DynamoDB table of statements; empty: $STATEMENT_TABLE or 'statements'.",
    )

    def resolved_table_name(self) -> str:
        return self.table_name or Names.from_env().table

    def get_client(self) -> Any:
        return boto3_client(self, "dynamodb")
