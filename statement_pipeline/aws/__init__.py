"""The calls to S3, SQS and DynamoDB (boto3), with no Dagster: what the assets call."""
