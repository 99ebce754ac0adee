"""An SQS queue subscribed to an SNS alert topic in the local AWS: where the tests read alerts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from statement_pipeline.aws import clients
from statement_pipeline_tests.scenarios import drain_messages

TOPIC = "statement-alerts"
INBOX = "statement-alerts-inbox"


@dataclass(frozen=True)
class Inbox:
    topic_arn: str
    queue_url: str

    def messages(self) -> list[dict[str, Any]]:
        """Every SNS notification delivered so far (and removes them from the queue)."""
        return [json.loads(m["Body"]) for m in drain_messages(self.queue_url)]


def subscribed_inbox() -> Inbox:
    """Create the topic and a queue subscribed to it, as a team's subscription would be."""
    sns = clients.client("sns")
    sqs = clients.client("sqs")
    topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=INBOX)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Inbox(topic_arn=topic_arn, queue_url=queue_url)


def fields_of(notification: dict[str, Any]) -> dict[str, str]:
    """The `label: value` lines of an alert's text."""
    lines = notification["Message"].splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)
