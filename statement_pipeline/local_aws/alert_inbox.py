"""An alert topic in the local AWS with a queue subscribed to it: where `prod-local` and the
tests read what the alert sensor published (STATEMENT_ALERT_TOPIC_ARN = `Inbox.topic_arn`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from statement_pipeline.aws import clients

TOPIC = "statement-alerts"
INBOX = "statement-alerts-inbox"


@dataclass(frozen=True)
class Inbox:
    topic_arn: str
    queue_url: str

    def messages(self) -> list[dict[str, Any]]:
        """Every SNS notification delivered so far, removed from the queue as it is read."""
        sqs = clients.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                return found
            for message in got:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def subscribed_inbox(topic: str = TOPIC, queue: str = INBOX) -> Inbox:
    """Create (or find) the topic and a queue subscribed to it; safe to call again."""
    sns = clients.client("sns")
    sqs = clients.client("sqs")
    topic_arn = sns.create_topic(Name=topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    # What real SQS needs before SNS may deliver; the local AWS does not check it.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AlertTopicDelivers",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    subscribed = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    if not any(s["Endpoint"] == queue_arn for s in subscribed):
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Inbox(topic_arn=topic_arn, queue_url=queue_url)


def fields_of(notification: dict[str, Any]) -> dict[str, str]:
    """The `label: value` lines of an alert's text."""
    lines = notification["Message"].splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)
