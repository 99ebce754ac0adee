"""What an alert says (rules/alerts.py), and which settings it accepts: pure units."""

from __future__ import annotations

import pytest

from statement_pipeline.rules.alerts import (
    MAX_ERROR_CHARS,
    AlertSettings,
    FailedCheck,
    RunFailure,
    StepError,
    describe,
    first_line,
    run_link,
    topic_arn_setting,
    ui_url_setting,
)

RUN = "6a1f0c2e-0b7d-4c55-9d8e-3f2a1b0c9d8e"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:statement-alerts"
BAD_FILE = StepError(
    step="scheduled_statements.validate_statement_files[files_1]",
    message=(
        "statement_pipeline.rules.csv_records.FileFormatError: statements/2026-10/part-2.csv: "
        "not UTF-8 (invalid byte at offset 97, line 3)\n"
    ),
    cls_name="FileFormatError",
)


def failure(**changes: object) -> RunFailure:
    facts: dict[str, object] = {
        "job": "import_statements_job",
        "run_id": RUN,
        "month": "2026-10",
        "step_errors": (BAD_FILE,),
        "run_error": 'Execution of run for "import_statements_job" failed.',
    }
    facts.update(changes)
    return RunFailure(**facts)  # type: ignore[arg-type]


def test_the_alert_gives_month_run_step_error_and_link() -> None:
    alert = describe(failure(), "https://dagster.example.com")

    assert alert.text == (
        "Statement import of 2026-10 failed.\n"
        "\n"
        "month: 2026-10\n"
        f"run: {RUN}\n"
        "job: import_statements_job\n"
        "failing step: scheduled_statements.validate_statement_files[files_1]\n"
        "error: FileFormatError: statements/2026-10/part-2.csv: not UTF-8 (invalid byte at "
        "offset 97, line 3)\n"
        f"link: https://dagster.example.com/runs/{RUN}"
    )
    assert alert.subject == (
        "Statement import of 2026-10 failed "
        "(scheduled_statements.validate_statement_files[files_1])"
    )
    assert alert.attributes == {
        "run_id": RUN,
        "job": "import_statements_job",
        "month": "2026-10",
        "step": "scheduled_statements.validate_statement_files[files_1]",
    }


def test_without_a_ui_address_the_alert_says_where_to_look() -> None:
    text = describe(failure(), None).text

    assert text.splitlines()[-1] == (
        f"link: none: STATEMENT_UI_URL is unset; open run {RUN} in the Dagster UI"
    )
    assert "http" not in text


def test_a_failed_blocking_check_is_named_with_actual_and_expected() -> None:
    check_error = StepError(
        step="statement_checks",
        message=(
            "dagster._core.errors.DagsterAssetCheckFailedError: 1 blocking asset check failed "
            "with ERROR severity:\nloaded_statements: table_count_matches_valid_rows\n"
        ),
        cls_name="DagsterAssetCheckFailedError",
    )
    alert = describe(
        failure(
            step_errors=(check_error,),
            failed_checks=(FailedCheck("table_count_matches_valid_rows", 23299, 23300),),
        ),
        "http://127.0.0.1:3000/",
    )

    lines = alert.text.splitlines()
    assert "failing step: statement_checks" in lines
    assert (
        "error: DagsterAssetCheckFailedError: 1 blocking asset check failed with ERROR severity:"
        in lines
    )
    assert (
        "failed check: table_count_matches_valid_rows (blocking): actual 23299, expected 23300"
        in lines
    )


def test_retries_and_several_failed_steps_are_told() -> None:
    other = StepError(step="loaded_statements.load_statements[loader_1]", message="x")
    last = describe(failure(step_errors=(BAD_FILE, other, BAD_FILE), retry_number=2), None)
    assert "attempt: 3 (after 2 automatic retries)" in last.text.splitlines()
    assert (
        "failing step: scheduled_statements.validate_statement_files[files_1] (and 1 more)"
        in last.text.splitlines()
    )

    pending = describe(failure(will_retry=True, retry_number=1), None).text.splitlines()
    assert "attempt: 2 (after 1 automatic retry)" in pending
    assert "retry: Dagster will retry this run: no action needed yet" in pending


def test_a_run_that_failed_outside_its_steps_gives_the_run_error() -> None:
    alert = describe(
        failure(step_errors=(), month=None, run_error="Run timed out after 7200 seconds.\nmore"),
        None,
    )

    lines = alert.text.splitlines()
    assert lines[0] == "Statement import of a run without a month failed."
    assert "month: none (not a partitioned run)" in lines
    assert "failing step: none (the run failed outside its steps)" in lines
    assert "error: Run timed out after 7200 seconds." in lines
    assert alert.subject == "Statement import of a run without a month failed (run)"
    assert set(alert.attributes) == {"run_id", "job"}


@pytest.mark.parametrize(
    ("message", "cls_name", "expected"),
    [
        ("a.b.FileFormatError: x.csv: empty\n", "FileFormatError", "FileFormatError: x.csv: empty"),
        ("ValueError: bad\nTraceback", "ValueError", "ValueError: bad"),
        ("\n\n  botocore.exceptions.ClientError: denied  \n", None, "ClientError: denied"),
        ("no prefix at all", "WorkerLostError", "WorkerLostError: no prefix at all"),
        ("", "KeyError", "KeyError"),
        ("", None, "no error message"),
    ],
)
def test_first_line_of_an_error(message: str, cls_name: str | None, expected: str) -> None:
    assert first_line(message, cls_name) == expected


def test_a_long_first_line_is_cut() -> None:
    line = first_line("E: " + "x" * 1000)
    assert len(line) == MAX_ERROR_CHARS
    assert line.endswith("…")


def test_the_subject_fits_sns() -> None:
    subject = describe(failure(step_errors=(StepError("s" * 200 + "é", "m"),)), None).subject
    assert len(subject) < 100
    assert subject.isascii()
    assert "\n" not in subject


def test_run_link() -> None:
    assert (
        run_link("https://d.example.com/dagster", "r1") == "https://d.example.com/dagster/runs/r1"
    )
    assert run_link(None, "r1") is None


@pytest.mark.parametrize(
    "raw",
    [
        "statement-alerts",
        "arn:aws:sns:eu-west-1:123456789012:alerts.fifo",
        "arn:aws:sns:*:123456789012:alerts",
        "arn:aws:sqs:eu-west-1:123456789012:alerts",
        "arn:aws:sns:eu-west-1:1234:alerts",
    ],
)
def test_only_a_standard_topic_arn_is_accepted(raw: str) -> None:
    with pytest.raises(ValueError, match="STATEMENT_ALERT_TOPIC_ARN"):
        topic_arn_setting(raw)


def test_topic_and_ui_settings() -> None:
    assert topic_arn_setting(f"  {TOPIC} ") == TOPIC
    assert topic_arn_setting("arn:aws-cn:sns:cn-north-1:123456789012:a_b") is not None
    assert topic_arn_setting("") is None
    assert topic_arn_setting(None) is None
    assert ui_url_setting("http://127.0.0.1:3000/") == "http://127.0.0.1:3000"
    assert ui_url_setting(" ") is None
    with pytest.raises(ValueError, match="STATEMENT_UI_URL"):
        ui_url_setting("127.0.0.1:3000")


def test_settings_from_the_environment() -> None:
    settings = AlertSettings.from_env(
        {
            "STATEMENT_ALERT_TOPIC_ARN": TOPIC,
            "STATEMENT_UI_URL": "https://dagster.example.com/",
            "STATEMENT_SLACK_CHANNEL": "#imports",
            "STATEMENT_SLACK_TOKEN": "xoxb-secret",
        }
    )
    assert (settings.topic_arn, settings.ui_url, settings.slack_channel) == (
        TOPIC,
        "https://dagster.example.com",
        "#imports",
    )
    assert settings.slack_token == "xoxb-secret"
    assert "xoxb-secret" not in repr(settings)
    assert AlertSettings.from_env({}) == AlertSettings()
    # A token alone turns nothing on; a channel alone is a mistake worth stopping for.
    assert AlertSettings.from_env({"STATEMENT_SLACK_TOKEN": "t"}).slack_token is None
    with pytest.raises(ValueError, match="STATEMENT_SLACK_TOKEN is not"):
        AlertSettings.from_env({"STATEMENT_SLACK_CHANNEL": "#imports"})


def test_a_check_value_that_was_not_recorded_reads_unknown() -> None:
    alert = describe(failure(failed_checks=(FailedCheck("rows_match", None, 5),)), None)

    assert "failed check: rows_match (blocking): actual unknown, expected 5" in (
        alert.text.splitlines()
    )


def test_the_error_line_names_the_exception_class_of_the_failed_step() -> None:
    lost = StepError(step="loaded_statements", message="worker died\nmore", cls_name="WorkerLost")

    lines = describe(failure(step_errors=(lost,)), None).text.splitlines()

    assert "error: WorkerLost: worker died" in lines


def test_a_first_line_of_exactly_the_limit_is_kept_whole() -> None:
    line = "E: " + "x" * 297  # 3 + 297 = 300 = MAX_ERROR_CHARS
    assert first_line(line) == line


def test_a_cut_first_line_drops_the_blanks_before_the_ellipsis() -> None:
    # Characters 0..297 are "E: " and 295 x's, 298 is a blank: the cut keeps 299, minus it.
    assert first_line("E: " + "x" * 295 + " " + "y" * 10) == "E: " + "x" * 295 + "…"


@pytest.mark.parametrize(
    ("step", "subject"),
    [
        # Printable ASCII, "~" included, stays; anything else becomes "?".
        ("caf\u00e9~1", "Statement import of 2026-10 failed (caf?~1)"),
        # 36 characters before the step, 1 after: a 62-character step fills all 99.
        ("s" * 62, "Statement import of 2026-10 failed (" + "s" * 62 + ")"),
        # One more is cut to 96 characters and "...": 36 + 60 + 3 = 99.
        ("s" * 63, "Statement import of 2026-10 failed (" + "s" * 60 + "..."),
    ],
)
def test_the_subject_is_printable_ascii_of_at_most_99_characters(step: str, subject: str) -> None:
    assert describe(failure(step_errors=(StepError(step, "m"),)), None).subject == subject


def test_the_ui_address_keeps_its_path_without_the_trailing_slash() -> None:
    assert (
        ui_url_setting("https://tools.example.com/JOBS-UX/") == "https://tools.example.com/JOBS-UX"
    )
