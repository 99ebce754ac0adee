"""Publishing an alert to the team's SNS topic (boto3, no Dagster)."""

from __future__ import annotations

from typing import Any

from statement_pipeline.rules.alerts import Alert


def publish_alert(sns: Any, topic_arn: str, alert: Alert) -> str:
    """Publish one alert; its SNS message id.

    The attributes (month, run_id, job, step) let a subscription filter what it receives
    (an SNS filter policy) without parsing the text.
    """
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=alert.subject,
        Message=alert.text,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in alert.attributes.items()
        },
    )
    return str(response["MessageId"])
