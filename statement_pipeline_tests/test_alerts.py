"""Alerts through the local AWS: a month fails for real, the sensor evaluates, the inbox tells.

Each test subscribes an SQS queue to an SNS topic on a moto server over HTTP, imports a month
with the real job (in process), evaluates the definitions' own alert sensor against the same
instance, and reads what the topic delivered. The real daemon's path is test_alerts_daemon.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import dagster_slack.sensors
import pytest

from statement_harness.scenarios import NAMES, put_files, setup_aws
from statement_pipeline.aws import clients
from statement_pipeline.aws.alerts import publish_alert
from statement_pipeline.cli.job_runner import import_job, run_import
from statement_pipeline.definitions import defs
from statement_pipeline.local_aws.alert_inbox import Inbox, fields_of, subscribed_inbox
from statement_pipeline.rules.alerts import Alert
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.items import key_of
from statement_samples import generate_rows, render_csv

MONTH = "2026-04"
UI = "https://dagster.example.com"
ROWS = list(generate_rows(MONTH, 30, seed=4))
GOOD = render_csv(COLUMNS, ROWS)
# Not UTF-8 in its first row: the contract's "file that cannot be read" fails the month.
NOT_UTF8 = GOOD.replace(b"ACC-", b"ACC\xff", 1)
BAD_OFFSET = NOT_UTF8.index(b"\xff")
BAD_LINE = NOT_UTF8[:BAD_OFFSET].count(b"\n") + 1
NOT_UTF8_FILE = f"{NAMES.prefix}{MONTH}/b-bad.csv"
RETRIES = {"run_retries": {"enabled": True, "max_retries": 1}}


class AlertSensor:
    """One of the definitions' alert sensors, evaluated tick by tick like the daemon does it."""

    def __init__(self, instance: dg.DagsterInstance, name: str = "statement_alert_sensor") -> None:
        definitions = defs()
        self.instance = instance
        self.sensor = definitions.resolve_sensor_def(name)
        self.resources = {"statement_alerts": definitions.resources["statement_alerts"]}
        self.cursor: str | None = None

    def tick(self) -> Any:
        with dg.build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=self.resources
        ) as context:
            data = self.sensor.evaluate_tick(context)
        self.cursor = data.cursor
        # A run status sensor reports its own failure on the reaction, not by raising.
        assert not [r.error for r in data.dagster_run_reactions if r.error]
        return data


@pytest.fixture
def inbox(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Inbox:
    setup_aws()
    box = subscribed_inbox()
    monkeypatch.setenv("STATEMENT_ALERT_TOPIC_ARN", box.topic_arn)
    monkeypatch.setenv("STATEMENT_UI_URL", UI)
    return box


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.local_temp(str(tmp_path)) as inst:
        yield inst


def failing_month() -> None:
    put_files(MONTH, [("a-good.csv", GOOD), ("b-bad.csv", NOT_UTF8)])


def test_a_failed_month_gives_one_alert_with_its_facts_and_link(
    inbox: Inbox, instance: dg.DagsterInstance
) -> None:
    sensor = AlertSensor(instance)
    # The first tick only sets the cursor: failures from before the sensor existed are old.
    assert "Initiating" in (sensor.tick().skip_message or "")
    failing_month()

    report = run_import(MONTH, instance)
    assert not report.success
    data = sensor.tick()

    (notification,) = inbox.messages()
    facts = fields_of(notification)
    assert facts["month"] == MONTH
    assert facts["run"] == report.run_id
    assert facts["job"] == "import_statements_job"
    assert facts["failing step"] == "scheduled_statements.validate_statement_files[files_0]"
    assert facts["error"] == (
        f"FileFormatError: {NOT_UTF8_FILE}: "
        f"not UTF-8 (invalid byte at offset {BAD_OFFSET}, line {BAD_LINE})"
    )
    assert facts["link"] == f"{UI}/runs/{report.run_id}"
    assert notification["Subject"].startswith(f"Statement import of {MONTH} failed (")
    attributes = {k: v["Value"] for k, v in notification["MessageAttributes"].items()}
    assert attributes["month"] == MONTH
    assert attributes["run_id"] == report.run_id
    # No row value: none of the file's account ids or statement ids is in the alert.
    assert not [v for row in ROWS for v in row[:2] if v in notification["Message"]]
    assert [r.dagster_run.run_id for r in data.dagster_run_reactions] == [report.run_id]

    # Told once: later ticks find nothing new.
    sensor.tick()
    assert inbox.messages() == []


def test_without_a_ui_url_the_alert_says_so_instead_of_a_broken_link(
    inbox: Inbox, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STATEMENT_UI_URL")
    sensor = AlertSensor(instance)
    sensor.tick()
    failing_month()
    report = run_import(MONTH, instance)
    sensor.tick()

    (notification,) = inbox.messages()
    assert fields_of(notification)["link"] == (
        f"none: STATEMENT_UI_URL is unset; open run {report.run_id} in the Dagster UI"
    )
    assert "http" not in notification["Message"]


def test_unset_topic_sends_nothing_and_says_so_without_an_error(
    inbox: Inbox, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STATEMENT_ALERT_TOPIC_ARN")
    sensor = AlertSensor(instance)
    assert "is off: STATEMENT_ALERT_TOPIC_ARN is unset" in (sensor.sensor.description or "")
    sensor.tick()
    failing_month()
    report = run_import(MONTH, instance)

    data = sensor.tick()

    assert data.skip_message == (
        f"run {report.run_id} ({MONTH}) failed; no alert sent: STATEMENT_ALERT_TOPIC_ARN is unset"
    )
    assert inbox.messages() == []


def test_a_run_dagster_will_retry_is_not_announced_its_last_failure_is(
    inbox: Inbox, tmp_path: Path
) -> None:
    with dg.DagsterInstance.local_temp(str(tmp_path), overrides=RETRIES) as instance:
        sensor = AlertSensor(instance)
        sensor.tick()
        failing_month()

        first = run_import(MONTH, instance)
        stored = instance.get_run_by_id(first.run_id)
        assert stored is not None
        assert stored.tags["dagster/will_retry"] == "true"
        data = sensor.tick()
        assert data.skip_message == (
            f"run {first.run_id} ({MONTH}) failed; Dagster will retry it, so it is not announced"
        )
        assert inbox.messages() == []

        # The retry the daemon would launch: from the failure, in the first run's group (the
        # tags Dagster counts retries by), tagged as its first retry.
        retry = dg.execute_job(
            dg.reconstructable(import_job),
            instance=instance,
            tags={
                "dagster/partition": MONTH,
                "dagster/retry_number": "1",
                "dagster/parent_run_id": first.run_id,
                "dagster/root_run_id": first.run_id,
            },
            reexecution_options=dg.ReexecutionOptions.from_failure(first.run_id, instance),
        )
        assert not retry.success
        assert retry.dagster_run.run_id != first.run_id
        sensor.tick()

    (notification,) = inbox.messages()
    facts = fields_of(notification)
    assert facts["run"] == retry.dagster_run.run_id
    assert facts["attempt"] == "2 (after 1 automatic retry)"
    assert "retry" not in facts


def test_a_failed_blocking_check_fails_its_run_and_gives_exactly_one_alert(
    inbox: Inbox, instance: dg.DagsterInstance
) -> None:
    put_files(MONTH, [("a-good.csv", GOOD)])
    imported = run_import(MONTH, instance)
    assert imported.success, imported.failure
    sensor = AlertSensor(instance)
    sensor.tick()
    # Someone deletes one statement of the month; the checks are run again on the import.
    clients.client("dynamodb").delete_item(TableName=NAMES.table, Key=key_of(MONTH, ROWS[0][0]))
    checks = dg.execute_job(
        dg.reconstructable(import_job),
        instance=instance,
        tags={"dagster/partition": MONTH},
        reexecution_options=dg.ReexecutionOptions(
            parent_run_id=imported.run_id, step_selection=["statement_checks"]
        ),
    )

    # Dagster 1.13: the blocking check's failure fails its step, and so the run.
    assert not checks.success
    assert checks.dagster_run.status == dg.DagsterRunStatus.FAILURE
    (evaluation,) = [
        e for e in checks.get_asset_check_evaluations() if e.check_name.startswith("table_count")
    ]
    assert not evaluation.passed
    sensor.tick()
    sensor.tick()

    (notification,) = inbox.messages()
    facts = fields_of(notification)
    assert facts["run"] == checks.dagster_run.run_id
    assert facts["failing step"] == "statement_checks"
    assert (
        facts["failed check"] == "table_count_matches_valid_rows (blocking): actual 29, expected 30"
    )
    assert (
        facts["error"]
        == "DagsterAssetCheckFailedError: 1 blocking asset check failed with ERROR severity:"
    )


class FakeSlack:
    """Stands in for slack_sdk's WebClient: records what would be posted, sends nothing."""

    posted: ClassVar[list[dict[str, Any]]] = []
    tokens: ClassVar[list[str]] = []

    def __init__(self, token: str) -> None:
        self.tokens.append(token)

    def chat_postMessage(self, **message: Any) -> None:
        self.posted.append(message)


def test_slack_gets_the_same_facts_through_dagster_slacks_sensor(
    inbox: Inbox, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dagster_slack.sensors, "WebClient", FakeSlack)
    monkeypatch.setattr(FakeSlack, "posted", [])
    monkeypatch.setattr(FakeSlack, "tokens", [])
    monkeypatch.setenv("STATEMENT_SLACK_CHANNEL", "#statement-imports")
    monkeypatch.setenv("STATEMENT_SLACK_TOKEN", "xoxb-from-the-environment")
    sensors = [AlertSensor(instance, "statement_slack_alert_sensor"), AlertSensor(instance)]
    for sensor in sensors:
        sensor.tick()
    failing_month()

    report = run_import(MONTH, instance)
    for sensor in sensors * 2:
        sensor.tick()

    # Every load of the definitions makes a client, always with the environment's token.
    assert set(FakeSlack.tokens) == {"xoxb-from-the-environment"}
    (message,) = FakeSlack.posted
    assert message["channel"] == "#statement-imports"
    text = message["text"]
    assert f"*month:* {MONTH}" in text.splitlines()
    assert f"*run:* {report.run_id}" in text.splitlines()
    assert "*failing step:* scheduled_statements.validate_statement_files[files_0]" in text
    assert f"*error:* FileFormatError: {NOT_UTF8_FILE}: not UTF-8" in text
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["url"] for b in buttons] == [f"{UI}/runs/{report.run_id}"]
    # The SNS sensor told the topic as well: each channel once.
    (notification,) = inbox.messages()
    assert fields_of(notification)["run"] == report.run_id


def test_slack_is_off_unless_configured_and_needs_its_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [s.name for s in defs().sensors]
    assert "statement_slack_alert_sensor" not in names
    assert "statement_alert_sensor" in names
    monkeypatch.setenv("STATEMENT_SLACK_CHANNEL", "#statement-imports")
    with pytest.raises(ValueError, match="STATEMENT_SLACK_TOKEN is not"):
        defs()


def test_a_publish_that_fails_shows_on_the_sensor_tick(
    inbox: Inbox, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = inbox.topic_arn.replace("statement-alerts", "deleted-topic")
    monkeypatch.setenv("STATEMENT_ALERT_TOPIC_ARN", gone)
    sensor = AlertSensor(instance)
    sensor.tick()
    failing_month()
    report = run_import(MONTH, instance)

    with dg.build_sensor_context(
        instance=instance, cursor=sensor.cursor, resources=sensor.resources
    ) as context:
        data = sensor.sensor.evaluate_tick(context)

    # The daemon marks such a tick failed, with this error, in the sensor's history.
    (reaction,) = data.dagster_run_reactions
    assert reaction.dagster_run.run_id == report.run_id
    assert reaction.error is not None
    assert "NotFound" in reaction.error.to_string()
    assert inbox.messages() == []


def test_the_local_inbox_can_be_set_up_again_without_a_second_subscription(
    inbox: Inbox,
) -> None:
    again = subscribed_inbox()
    assert again == inbox
    publish_alert(clients.client("sns"), inbox.topic_arn, Alert("s", "month: 2026-04", {}))
    assert [n["Message"] for n in inbox.messages()] == ["month: 2026-04"]
