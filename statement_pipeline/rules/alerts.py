"""What a failed import run's alert says, and the settings that route it: no Dagster, no AWS.

An alert carries what an operator needs to act (the month, the run, the failing step, the
first line of the error, a link to the run) and never a row's values: the project's own
errors name files, line numbers, reasons and counts only, and only the error's first line,
cut to `MAX_ERROR_CHARS`, is sent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

ENV_ALERT_TOPIC = "STATEMENT_ALERT_TOPIC_ARN"
ENV_UI_URL = "STATEMENT_UI_URL"
ENV_SLACK_CHANNEL = "STATEMENT_SLACK_CHANNEL"
ENV_SLACK_TOKEN = "STATEMENT_SLACK_TOKEN"  # noqa: S105 - the variable's name, not a token

# An error's first line can be long (a path, a botocore message); an alert names it, the run's
# log has the rest.
MAX_ERROR_CHARS = 300
# SNS: a subject is printable ASCII without line breaks, shorter than 100 characters.
MAX_SUBJECT_CHARS = 99
# A standard topic: FIFO topics (`.fifo`) need a message group per publish and deliver only to
# FIFO queues, which is not how a team is told about a failure.
_TOPIC_ARN = re.compile(r"arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:[A-Za-z0-9_-]{1,256}")
_QUALIFIED_NAME = re.compile(r"[A-Za-z_][\w.]*\.(?P<name>[A-Za-z_]\w*): ")


def topic_arn_setting(raw: str | None) -> str | None:
    """The alert topic's ARN (unset or blank: None, alerts off); anything else is refused."""
    value = (raw or "").strip()
    if not value:
        return None
    if not _TOPIC_ARN.fullmatch(value):
        raise ValueError(
            f"{ENV_ALERT_TOPIC} must be the ARN of a standard SNS topic, "
            f"arn:aws:sns:<region>:<12-digit account>:<name>; got {value!r}"
        )
    return value


def ui_url_setting(raw: str | None) -> str | None:
    """The Dagster UI's base address without a trailing slash (unset or blank: None)."""
    value = (raw or "").strip().rstrip("/")
    if not value:
        return None
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        raise ValueError(
            f"{ENV_UI_URL} must be the UI's http(s) address, e.g. https://dagster.example.com; "
            f"got {value!r}"
        )
    return value


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go: the SNS topic, the UI for links, and optionally a Slack channel."""

    topic_arn: str | None = None
    ui_url: str | None = None
    slack_channel: str | None = None
    # Never printed: a dataclass repr in a log line would otherwise carry it.
    slack_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertSettings:
        """Read and check the settings (when the definitions load, never at import time)."""
        env = os.environ if environ is None else environ
        channel = env.get(ENV_SLACK_CHANNEL, "").strip() or None
        token = env.get(ENV_SLACK_TOKEN, "").strip() or None
        if channel and not token:
            raise ValueError(f"{ENV_SLACK_CHANNEL} is set but {ENV_SLACK_TOKEN} is not")
        return cls(
            topic_arn=topic_arn_setting(env.get(ENV_ALERT_TOPIC)),
            ui_url=ui_url_setting(env.get(ENV_UI_URL)),
            slack_channel=channel,
            slack_token=token if channel else None,
        )


@dataclass(frozen=True)
class StepError:
    """A failed step and its error (the user's exception, not Dagster's wrapper)."""

    step: str
    message: str
    cls_name: str | None = None


@dataclass(frozen=True)
class FailedCheck:
    """A blocking asset check that failed, with its actual and expected values."""

    name: str
    actual: object = None
    expected: object = None


@dataclass(frozen=True)
class RunFailure:
    """The facts of one failed run, as read from Dagster's records."""

    job: str
    run_id: str
    month: str | None
    step_errors: tuple[StepError, ...] = ()
    # The run failure event's own message: all there is when no step failed (a run worker
    # lost, a run that monitoring timed out).
    run_error: str = ""
    failed_checks: tuple[FailedCheck, ...] = ()
    # Automatic retries that came before this run (Dagster's `dagster/retry_number` tag).
    retry_number: int = 0
    will_retry: bool = False


@dataclass(frozen=True)
class Alert:
    """One message: a subject line, a plain-text body and attributes to filter on."""

    subject: str
    text: str
    attributes: dict[str, str]


def first_line(message: str, cls_name: str | None = None) -> str:
    """The first non-blank line of an error, its exception class unqualified, cut short.

    `module.sub.FileFormatError: bad.csv: not UTF-8` -> `FileFormatError: bad.csv: not UTF-8`.
    """
    line = next((text.strip() for text in message.splitlines() if text.strip()), "")
    qualified = _QUALIFIED_NAME.match(line)
    if qualified and (cls_name is None or qualified.group("name") == cls_name):
        line = f"{qualified.group('name')}: {line[qualified.end() :]}"
    elif cls_name and not line.startswith(cls_name):
        line = f"{cls_name}: {line}" if line else cls_name
    if len(line) > MAX_ERROR_CHARS:
        line = line[: MAX_ERROR_CHARS - 1].rstrip() + "…"
    return line or "no error message"


def run_link(ui_url: str | None, run_id: str) -> str | None:
    """`<ui>/runs/<run_id>`, or None without a UI address."""
    return f"{ui_url}/runs/{run_id}" if ui_url else None


def _plain(value: object) -> str:
    return "unknown" if value is None else str(value)


def _failing_step(failure: RunFailure) -> str:
    if not failure.step_errors:
        return "none (the run failed outside its steps)"
    first = failure.step_errors[0].step
    others = len({e.step for e in failure.step_errors}) - 1
    return f"{first} (and {others} more)" if others else first


def _error(failure: RunFailure) -> str:
    if failure.step_errors:
        error = failure.step_errors[0]
        return first_line(error.message, error.cls_name)
    return first_line(failure.run_error)


def alert_lines(failure: RunFailure, ui_url: str | None) -> list[tuple[str, str]]:
    """The alert's labelled lines, in the order an operator reads them."""
    month = failure.month or "none (not a partitioned run)"
    lines = [
        ("month", month),
        ("run", failure.run_id),
        ("job", failure.job),
        ("failing step", _failing_step(failure)),
        ("error", _error(failure)),
    ]
    for check in failure.failed_checks:
        lines.append(
            (
                "failed check",
                f"{check.name} (blocking): actual {_plain(check.actual)}, "
                f"expected {_plain(check.expected)}",
            )
        )
    if failure.retry_number:
        retries = "retry" if failure.retry_number == 1 else "retries"
        attempt = f"{failure.retry_number + 1} (after {failure.retry_number} automatic {retries})"
        lines.append(("attempt", attempt))
    if failure.will_retry:
        lines.append(("retry", "Dagster will retry this run: no action needed yet"))
    link = run_link(ui_url, failure.run_id)
    unset = f"none: {ENV_UI_URL} is unset; open run {failure.run_id} in the Dagster UI"
    lines.append(("link", link or unset))
    return lines


def headline(failure: RunFailure) -> str:
    """One line: which month failed, and where."""
    month = failure.month or "a run without a month"
    return f"Statement import of {month} failed"


def _subject(failure: RunFailure) -> str:
    step = failure.step_errors[0].step if failure.step_errors else "run"
    text = f"{headline(failure)} ({step})"
    # Printable ASCII only: step keys and months are, this keeps SNS from refusing the rest.
    text = "".join(c if " " <= c <= "~" else "?" for c in text)
    if len(text) > MAX_SUBJECT_CHARS:
        text = text[: MAX_SUBJECT_CHARS - 3] + "..."
    return text


def describe(failure: RunFailure, ui_url: str | None) -> Alert:
    """The alert for a failed run: headline, then one `label: value` line per fact."""
    lines = alert_lines(failure, ui_url)
    text = "\n".join([f"{headline(failure)}.", "", *(f"{k}: {v}" for k, v in lines)])
    attributes = {"run_id": failure.run_id, "job": failure.job}
    if failure.month:
        attributes["month"] = failure.month
    if failure.step_errors:
        attributes["step"] = failure.step_errors[0].step
    return Alert(subject=_subject(failure), text=text, attributes=attributes)
