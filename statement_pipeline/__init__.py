"""statement_pipeline: monthly customer statements from S3, through SQS, into DynamoDB."""

from statement_pipeline.definitions import defs

__all__ = ["defs"]
