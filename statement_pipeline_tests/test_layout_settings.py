"""S3 layout and configuration names (CONTRACT.md sections 1 and 4)."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from statement_pipeline.rules import s3_layout as layout
from statement_pipeline.rules.names import Names, normalize_prefix


@pytest.mark.parametrize("month", ["2026-10", "2020-01", "1999-12"])
def test_real_months(month: str) -> None:
    assert layout.is_month(month)


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-00",
        "0000-05",
        "latest",
        "2026-1",
        "2026-10-01",
        "\uff12\uff10\uff12\uff16-10",
        "",
    ],
)
def test_not_months(text: str) -> None:
    assert not layout.is_month(text)


@pytest.mark.parametrize(
    ("key", "month"),
    [
        ("statements/2026-10/part-1.csv", "2026-10"),
        ("statements/2026-10/sub/part-1.CSV", "2026-10"),
    ],
)
def test_classify_statement_files(key: str, month: str) -> None:
    assert layout.classify_key("statements/", key).month == month


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("statements/2026-13/a.csv", "folder is not a YYYY-MM month"),
        ("statements/latest/a.csv", "folder is not a YYYY-MM month"),
        ("statements/../2026-10/a.csv", "folder is not a YYYY-MM month"),
        ("statements/2026-10/a.txt", "not a .csv file"),
        ("statements/a.csv", "not inside a month folder"),
        ("other/2026-10/a.csv", "outside the statement prefix"),
        ("statements/2026-10/../x.csv", "path has empty, '.' or '..' segments"),
    ],
)
def test_classify_ignored_keys(key: str, reason: str) -> None:
    verdict = layout.classify_key("statements/", key)
    assert verdict.month is None
    assert verdict.reason == reason


def test_rejects_key_sits_next_to_the_input() -> None:
    key = layout.rejects_key("statements/", "2026-10", "statements/2026-10/sub/part-1.csv")
    assert key == "rejects/2026-10/sub/part-1.rejects.csv"


@pytest.mark.parametrize(
    "key", ["statements/2026-11/a.csv", "statements/2026-10/../../etc/a.csv", "x/2026-10/a.csv"]
)
def test_rejects_key_refuses_keys_of_other_months_or_paths(key: str) -> None:
    with pytest.raises(ValueError, match="rejects"):
        layout.rejects_key("statements/", "2026-10", key)


def test_empty_prefix_means_month_folders_at_the_root() -> None:
    assert layout.classify_key("", "2026-10/a.csv").month == "2026-10"
    assert layout.month_prefix("", "2026-10") == "2026-10/"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("statements", "statements/"),
        ("a/b/", "a/b/"),
        ("", ""),
        ("/x", "x/"),
        (" //XY/", "XY/"),  # only the leading slashes go, never a leading letter
    ],
)
def test_prefix_trailing_slash_is_implied(raw: str, expected: str) -> None:
    assert normalize_prefix(raw) == expected


def test_names_default_to_the_contract() -> None:
    names = Names.from_env({})
    assert (names.bucket, names.prefix, names.queue, names.table, names.dlq) == (
        "statements",
        "statements/",
        "statement-records",
        "statements",
        "statement-records-dlq",
    )


def test_names_come_from_the_environment() -> None:
    names = Names.from_env(
        {
            "STATEMENT_BUCKET": "b",
            "STATEMENT_PREFIX": "in/monthly",
            "STATEMENT_QUEUE": "q",
            "STATEMENT_TABLE": "t",
        }
    )
    assert (names.bucket, names.prefix, names.queue, names.dlq, names.table) == (
        "b",
        "in/monthly/",
        "q",
        "q-dlq",
        "t",
    )


@pytest.mark.parametrize("prefix", ["rejects", "rejects/", "rejects/2026"])
def test_a_prefix_inside_the_rejects_folder_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="rejects"):
        Names.from_env({"STATEMENT_PREFIX": prefix})


@pytest.mark.parametrize(
    ("moment", "month"),
    [
        (datetime(2026, 11, 1, 3, 0), "2026-10"),
        (datetime(2027, 1, 15), "2026-12"),
        (datetime(2027, 2, 1), "2027-01"),
        (datetime(2026, 3, 31, 23, 59, tzinfo=UTC), "2026-02"),
    ],
)
def test_the_closed_month_is_the_one_before(moment: datetime, month: str) -> None:
    assert layout.closed_month(moment) == month


@pytest.fixture
def machine_in_new_zealand(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone at UTC+12 (a POSIX TZ rule: no zone database needed)."""
    monkeypatch.setenv("TZ", "NZST-12")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_in_new_zealand")
def test_the_closed_month_is_taken_in_utc_whatever_the_machines_zone() -> None:
    # 2026-11-01 00:30 at UTC+2 is 2026-10-31 22:30 UTC (2026-11-01 10:30 in the local zone).
    moment = datetime(2026, 11, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert layout.closed_month(moment) == "2026-09"


def test_a_files_name_inside_its_month_folder() -> None:
    assert layout.relative_name("in/", "2026-10", "in/2026-10/sub/a.csv") == "sub/a.csv"
    with pytest.raises(ValueError, match=r"^key is not inside the month folder$"):
        layout.relative_name("in/", "2026-10", "in/2026-11/a.csv")


def test_a_rejects_key_of_another_month_is_refused_saying_why() -> None:
    with pytest.raises(
        ValueError, match=r"^rejects are only written for statement files of the month$"
    ):
        layout.rejects_key("statements/", "2026-10", "statements/2026-11/a.csv")


def test_a_month_that_is_not_one_is_refused_naming_the_format() -> None:
    # The CLI's --month prints this text as its argument error.
    with pytest.raises(
        ValueError, match=r"^not a statement month \(expected YYYY-MM\): '2026-13'$"
    ):
        layout.require_month("2026-13")


@pytest.mark.parametrize(
    "key",
    ["statements/2026-10/sub//a.csv", "statements/2026-10/./a.csv", "statements/2026-10//a.csv"],
)
def test_keys_with_empty_or_dot_segments_are_ignored(key: str) -> None:
    verdict = layout.classify_key("statements/", key)
    assert (verdict.month, verdict.reason) == (None, "path has empty, '.' or '..' segments")
