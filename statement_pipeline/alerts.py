"""Alerts: a failed month's import run told to the team's SNS topic, and to Slack optionally.

A failed blocking asset check fails its step and so its run (Dagster 1.13 raises
`DagsterAssetCheckFailedError` after the check's step has yielded its results), so one
run-failure sensor hears about both, and a failed month gives exactly one alert: the check's
name with its actual and expected values ride in the run's alert. A run that Dagster will
retry (`dagster/will_retry`) is not announced; the failure of its last retry is.
"""

from __future__ import annotations

import time

import dagster as dg

from statement_pipeline.aws.alerts import publish_alert
from statement_pipeline.jobs import import_statements_job
from statement_pipeline.resources import SNSResource
from statement_pipeline.rules.alerts import (
    ENV_ALERT_TOPIC,
    AlertSettings,
    FailedCheck,
    RunFailure,
    StepError,
    alert_lines,
    describe,
    headline,
)

ALERT_SENSOR_NAME = "statement_alert_sensor"
SLACK_SENSOR_NAME = "statement_slack_alert_sensor"
# Dagster's run tags (dagster._core.storage.tags, not a public module): literals here.
WILL_RETRY_TAG = "dagster/will_retry"
RETRY_NUMBER_TAG = "dagster/retry_number"
PARTITION_TAG = "dagster/partition"
# The instance tags a failed run `dagster/will_retry` just after it stores the failure event,
# so a sensor tick can fall between the two; it waits this long for the tag.
WILL_RETRY_WAIT_SECONDS = 10.0
WILL_RETRY_POLL_SECONDS = 0.5


def _settled_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.DagsterRun:
    """The run as stored, once its `dagster/will_retry` tag is set where retries are on."""
    if not instance.run_retries_enabled:
        return run
    deadline = time.monotonic() + WILL_RETRY_WAIT_SECONDS
    while True:
        stored = instance.get_run_by_id(run.run_id) or run
        if WILL_RETRY_TAG in stored.tags or time.monotonic() > deadline:
            return stored
        time.sleep(WILL_RETRY_POLL_SECONDS)


def _step_error(event: dg.DagsterEvent) -> StepError:
    """The step's own exception, not the wrapper Dagster puts around user code."""
    error = event.step_failure_data.error if event.step_failure_data else None
    if error is None:
        return StepError(step=event.step_key or "unknown", message=event.message or "")
    if error.cls_name == "DagsterExecutionStepExecutionError" and error.cause is not None:
        error = error.cause
    return StepError(
        step=event.step_key or "unknown", message=error.message, cls_name=error.cls_name
    )


def _metadata_value(metadata: dict[str, object], *keys: str) -> object:
    for key in keys:
        if key in metadata:
            return getattr(metadata[key], "value", metadata[key])
    return None


def _failed_blocking_checks(instance: dg.DagsterInstance, run_id: str) -> tuple[FailedCheck, ...]:
    """The blocking checks that failed in the run: what made it fail if no step raised."""
    records = instance.get_records_for_run(
        run_id=run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    failed = []
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event else None
        if (
            isinstance(evaluation, dg.AssetCheckEvaluation)
            and not evaluation.passed
            and evaluation.blocking
            and evaluation.severity == dg.AssetCheckSeverity.ERROR
        ):
            metadata = dict(evaluation.metadata)
            failed.append(
                FailedCheck(
                    name=evaluation.check_name,
                    actual=_metadata_value(metadata, "actual"),
                    expected=_metadata_value(metadata, "expected", "expected_at_most"),
                )
            )
    return tuple(failed)


def run_failure(context: dg.RunFailureSensorContext) -> RunFailure:
    """The facts of the failed run the sensor was called for."""
    run = _settled_run(context.instance, context.dagster_run)
    failure = context.failure_event
    run_error = getattr(failure.event_specific_data, "error", None)
    retry_number = run.tags.get(RETRY_NUMBER_TAG, "0")
    return RunFailure(
        job=run.job_name,
        run_id=run.run_id,
        month=run.tags.get(PARTITION_TAG),
        step_errors=tuple(_step_error(e) for e in context.get_step_failure_events()),
        run_error=run_error.message if run_error is not None else (failure.message or ""),
        failed_checks=_failed_blocking_checks(context.instance, run.run_id),
        retry_number=int(retry_number) if retry_number.isdigit() else 0,
        will_retry=run.tags.get(WILL_RETRY_TAG) == "true",
    )


def build_alert_sensor(settings: AlertSettings, interval_seconds: int) -> dg.SensorDefinition:
    """The SNS alert sensor; without a topic it still runs and shows each failure skipped."""
    where = (
        f"publishes to {settings.topic_arn}"
        if settings.topic_arn
        else f"is off: {ENV_ALERT_TOPIC} is unset, so each failed run shows here as skipped"
    )

    @dg.run_failure_sensor(
        name=ALERT_SENSOR_NAME,
        monitored_jobs=[import_statements_job],
        minimum_interval_seconds=interval_seconds,
        # A failed month nobody hears about is the failure this sensor exists for.
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "One SNS alert per failed import run (a failed blocking check fails its run too): "
            "month, run, failing step, first line of the error, link. Runs Dagster will retry "
            f"are not announced, the last failure is. Alerting {where}."
        ),
    )
    def statement_alert_sensor(
        context: dg.RunFailureSensorContext, statement_alerts: SNSResource
    ) -> dg.SkipReason | None:
        """Publish the failed run's alert to the SNS topic, unless Dagster will retry it."""
        failure = run_failure(context)
        about = f"run {failure.run_id} ({failure.month or 'no month'})"
        if failure.will_retry:
            return dg.SkipReason(f"{about} failed; Dagster will retry it, so it is not announced")
        if not statement_alerts.topic_arn:
            return dg.SkipReason(f"{about} failed; no alert sent: {ENV_ALERT_TOPIC} is unset")
        message_id = publish_alert(
            statement_alerts.get_client(),
            statement_alerts.topic_arn,
            describe(failure, settings.ui_url),
        )
        context.log.info(f"{about}: alert {message_id} published to {statement_alerts.topic_arn}")
        return None

    return statement_alert_sensor


def slack_text(failure: RunFailure, ui_url: str | None) -> str:
    """The Slack message: the same facts as the SNS alert, in Slack's markdown."""
    lines = [f"*{headline(failure)}*"]
    lines.extend(f"*{label}:* {value}" for label, value in alert_lines(failure, ui_url))
    return "\n".join(lines)


def build_slack_sensor(settings: AlertSettings, interval_seconds: int) -> dg.SensorDefinition:
    """dagster-slack's run-failure sensor posting `slack_text` (the optional `slack` extra)."""
    try:
        from dagster_slack import make_slack_on_run_failure_sensor
    except ImportError as exc:
        raise ImportError(
            "STATEMENT_SLACK_CHANNEL is set but dagster-slack is not installed: "
            "pip install -e '.[slack]'"
        ) from exc
    if not settings.slack_channel or not settings.slack_token:
        raise ValueError("a Slack sensor needs STATEMENT_SLACK_CHANNEL and STATEMENT_SLACK_TOKEN")

    def text_fn(context: dg.RunFailureSensorContext) -> str:
        return slack_text(run_failure(context), settings.ui_url)

    return make_slack_on_run_failure_sensor(
        channel=settings.slack_channel,
        slack_token=settings.slack_token,
        text_fn=text_fn,
        name=SLACK_SENSOR_NAME,
        monitored_jobs=[import_statements_job],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        webserver_base_url=settings.ui_url,
    )


def alert_sensors(settings: AlertSettings, interval_seconds: int) -> list[dg.SensorDefinition]:
    """The SNS sensor always (so the UI says whether alerts are on), Slack's when configured."""
    sensors = [build_alert_sensor(settings, interval_seconds)]
    if settings.slack_channel:
        sensors.append(build_slack_sensor(settings, interval_seconds))
    return sensors
