"""The real `dagster-daemon`: a month that fails, and fails again when Dagster retries it, is
announced once, for its last failure, on an SNS topic of a moto server over HTTP.

Nobody starts anything: the file sensor requests the month, the run fails on an unreadable
file, the daemon's run retries launch it again (run_retries on, one retry), the retry fails
too, and the alert sensor, on by default, publishes. A queue subscribed to the topic is the
team's inbox.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from statement_harness.scenarios import put_files
from statement_pipeline.aws.bootstrap import bootstrap_from_environment
from statement_pipeline.local_aws.alert_inbox import fields_of, subscribed_inbox
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.names import Names
from statement_pipeline_tests.processes import (
    BIN,
    background,
    dagster_home,
    describe_runs,
    month_runs,
    wait_for,
)
from statement_samples import generate_rows, render_csv

MONTH = "2026-03"
UI = "http://127.0.0.1:3000"
GOOD = render_csv(COLUMNS, list(generate_rows(MONTH, 20, seed=8)))
NOT_UTF8 = GOOD.replace(b"ACC-", b"ACC\xff", 1)
# What `run_retries` in a deployment's dagster.yaml says; one retry keeps the test short.
RUN_RETRIES = "\nrun_retries:\n  enabled: true\n  max_retries: 1\n"


def sensor_cursor(instance: dg.DagsterInstance, name: str) -> str | None:
    """The cursor the daemon stored for a sensor (None before its first tick)."""
    for state in instance.all_instigator_state():
        if state.name == name:
            return getattr(state.instigator_data, "cursor", None)
    return None


def alert_sensor_saw_every_failure(instance: dg.DagsterInstance) -> bool:
    """True once the alert sensor's cursor has passed every stored run failure."""
    cursor = sensor_cursor(instance, "statement_alert_sensor")
    failures = instance.fetch_run_status_changes(dg.DagsterEventType.RUN_FAILURE, limit=100).records
    if cursor is None or not failures:
        return False
    return json.loads(cursor)["record_id"] >= max(r.storage_id for r in failures)


def both_attempts_failed(instance: dg.DagsterInstance) -> list[dg.DagsterRun] | None:
    """Both runs, once each is stored as failed and tagged whether it will be retried.

    The instance stores a run's failure first and adds `dagster/will_retry` just after, so a
    run read between the two is failed but not yet tagged.
    """
    runs = month_runs(instance, MONTH)
    done = len(runs) == 2 and all(
        r.status == dg.DagsterRunStatus.FAILURE and "dagster/will_retry" in r.tags for r in runs
    )
    return runs if done else None


def test_the_daemon_announces_a_retried_month_once_for_its_last_failure(
    moto_endpoint: str, tmp_path: Path
) -> None:
    bootstrap_from_environment(Names())
    inbox = subscribed_inbox()
    home = dagster_home(tmp_path)
    with (home / "dagster.yaml").open("a") as config:
        config.write(RUN_RETRIES)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "STATEMENT_ALERT_TOPIC_ARN": inbox.topic_arn,
        "STATEMENT_UI_URL": UI,
    }
    daemon = background(
        [str(BIN / "dagster-daemon"), "run", "-m", "statement_pipeline"],
        env,
        tmp_path / "daemon.log",
    )
    with daemon, dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.run_retries_enabled
        # Failures before the alert sensor's first tick are history to it: wait for it.
        wait_for(
            lambda: (
                sensor_cursor(instance, "statement_alert_sensor")
                and sensor_cursor(instance, "statement_file_sensor")
            ),
            90,
            "the first ticks of both sensors",
            daemon.output,
        )
        put_files(MONTH, [("a-good.csv", GOOD), ("b-bad.csv", NOT_UTF8)])

        retry, first = wait_for(
            lambda: both_attempts_failed(instance),
            180,
            f"{MONTH} to fail, be retried by the daemon and fail again",
            lambda: describe_runs(instance) + "\n" + daemon.output(),
        )
        wait_for(
            lambda: alert_sensor_saw_every_failure(instance),
            90,
            "the alert sensor to read both failures",
            daemon.output,
        )

        assert first.tags["dagster/will_retry"] == "true"
        assert retry.tags["dagster/retry_number"] == "1"
        assert retry.tags["dagster/will_retry"] == "false"
        assert retry.parent_run_id == first.run_id
        (notification,) = inbox.messages()

    facts = fields_of(notification)
    assert facts["month"] == MONTH
    assert facts["run"] == retry.run_id
    assert facts["failing step"] == "scheduled_statements.validate_statement_files[files_0]"
    assert facts["error"].startswith(f"FileFormatError: statements/{MONTH}/b-bad.csv: not UTF-8")
    assert facts["attempt"] == "2 (after 1 automatic retry)"
    assert facts["link"] == f"{UI}/runs/{retry.run_id}"
