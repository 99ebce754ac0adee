"""statement_file_sensor: ticks against in-process moto, and the cursor logic behind them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource
from dagster_aws.s3.sensor import get_objects

from statement_pipeline.aws.s3_files import ListingTooSlow, list_prefix
from statement_pipeline.definitions import defs
from statement_pipeline.resources import StatementFilesResource
from statement_pipeline.rules import sensor_cursor as watch
from statement_pipeline.sensors import (
    DEFAULT_INTERVAL_SECONDS,
    INTERVAL_VARIABLE,
    interval_from_env,
    statement_file_sensor,
)
from statement_pipeline_tests.conftest import REGION

BUCKET = "statements"
PREFIX = "statements/"


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


class Ticker:
    """Evaluates the sensor the way the daemon does, carrying its cursor from tick to tick."""

    def __init__(self, resources: dict[str, Any] | None = None) -> None:
        self.cursor: str | None = None
        self.resources = resources or {"statement_files": StatementFilesResource(s3=S3Resource())}

    def __call__(self) -> dg.SensorResult:
        with dg.build_sensor_context(cursor=self.cursor, resources=self.resources) as context:
            result = statement_file_sensor(context)
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        return result

    def months(self) -> list[str]:
        """The partition keys one tick requests."""
        return sorted(r.partition_key for r in self().run_requests or [])


@pytest.fixture
def tick(s3: Any) -> Ticker:
    return Ticker()


def put(s3: Any, key: str, body: bytes = b"statement_id\n1\n") -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def test_the_sensor_is_in_the_definitions_and_targets_the_import_job() -> None:
    sensor = defs().resolve_sensor_def("statement_file_sensor")
    assert sensor.job_name == "import_statements_job"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_empty_bucket_requests_nothing_and_stores_a_cursor(tick: Ticker) -> None:
    result = tick()
    assert not result.run_requests
    assert result.skip_reason is not None
    assert json.loads(tick.cursor or "")["months"] == {}


def test_new_files_give_one_request_per_month_then_nothing(s3: Any, tick: Ticker) -> None:
    assert tick.months() == []
    put(s3, f"{PREFIX}2026-09/part-1.csv")
    put(s3, f"{PREFIX}2026-10/part-1.csv")
    put(s3, f"{PREFIX}2026-10/part-2.csv")
    first = tick()
    assert sorted(r.partition_key for r in first.run_requests or []) == ["2026-09", "2026-10"]
    assert all(r.run_key and r.run_key.startswith(r.partition_key) for r in first.run_requests)
    assert tick.months() == []
    assert tick.months() == []


def test_an_added_file_retriggers_only_its_month(s3: Any, tick: Ticker) -> None:
    put(s3, f"{PREFIX}2026-09/part-1.csv")
    put(s3, f"{PREFIX}2026-10/part-1.csv")
    before = {r.partition_key: r.run_key for r in tick().run_requests or []}
    put(s3, f"{PREFIX}2026-10/part-2.csv")
    result = tick()
    assert [r.partition_key for r in result.run_requests or []] == ["2026-10"]
    assert result.run_requests[0].run_key != before["2026-10"]
    assert tick.months() == []


def test_an_overwrite_with_a_new_etag_retriggers_the_month(s3: Any, tick: Ticker) -> None:
    key = f"{PREFIX}2026-10/part-1.csv"
    put(s3, key, b"statement_id\n1\n")
    first = tick().run_requests[0].run_key
    put(s3, key, b"statement_id\n2\n")
    result = tick()
    assert [r.partition_key for r in result.run_requests or []] == ["2026-10"]
    assert result.run_requests[0].run_key != first
    put(s3, key, b"statement_id\n2\n")
    assert tick.months() == [], "the same bytes again (same ETag) are no new version"


def test_returning_to_earlier_versions_gets_a_run_key_of_its_own(s3: Any, tick: Ticker) -> None:
    key = f"{PREFIX}2026-10/part-1.csv"
    keys = []
    for body in (b"statement_id\nA\n", b"statement_id\nB\n", b"statement_id\nA\n"):
        put(s3, key, body)
        keys.extend(r.run_key for r in tick().run_requests or [])
    assert len(keys) == 3
    assert len(set(keys)) == 3, "the daemon would drop a repeated run key as a duplicate"


def test_a_tick_evaluated_twice_from_one_cursor_repeats_its_run_keys(s3: Any, tick: Ticker) -> None:
    put(s3, f"{PREFIX}2026-10/part-1.csv")
    tick()
    put(s3, f"{PREFIX}2026-10/part-2.csv")
    cursor = tick.cursor
    first = tick().run_requests[0].run_key
    tick.cursor = cursor
    assert tick().run_requests[0].run_key == first


def test_a_file_tying_the_newest_last_modified_is_not_missed(
    s3: Any, tick: Ticker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both uploads get the very same LastModified, as two files written within one second do.
    frozen = datetime(2026, 11, 26, 9, 30, 15)
    monkeypatch.setattr("moto.s3.models.utcnow", lambda: frozen)
    put(s3, f"{PREFIX}2026-10/part-1.csv")
    assert tick.months() == ["2026-10"]
    put(s3, f"{PREFIX}2026-10/part-2.csv")
    newest_seen = s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}2026-10/part-1.csv")
    # The tie is real: a strict `>` timestamp cursor (dagster issue 22892) sees nothing new.
    assert (
        get_objects(BUCKET, PREFIX, since_last_modified=newest_seen["LastModified"], client=s3)
        == []
    )
    assert tick.months() == ["2026-10"]
    assert tick.months() == []


def test_two_months_uploaded_in_one_second_around_a_tick_each_get_a_request(
    s3: Any, tick: Ticker, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = datetime(2026, 11, 26, 9, 30, 15)
    monkeypatch.setattr("moto.s3.models.utcnow", lambda: frozen)
    tick()
    put(s3, f"{PREFIX}2026-09/a.csv")
    assert tick.months() == ["2026-09"]
    put(s3, f"{PREFIX}2026-10/b.csv")
    assert tick.months() == ["2026-10"]


def test_keys_outside_real_month_folders_are_ignored_and_reported(
    s3: Any, tick: Ticker, capfd: pytest.CaptureFixture[str]
) -> None:
    ignored = [
        f"{PREFIX}2026-13/part-1.csv",
        f"{PREFIX}latest/part-1.csv",
        f"{PREFIX}2026-00/part-1.csv",
        f"{PREFIX}part-1.csv",
        f"{PREFIX}2026-10/README.txt",
        f"{PREFIX}2026-10/part-1.csv.tmp",
        f"{PREFIX}2026-10/../part-1.csv",
    ]
    for key in ignored:
        put(s3, key)
    put(s3, f"{PREFIX}2026-10/")  # a console "folder": neither a file nor worth reporting
    result = tick()
    assert not result.run_requests
    assert json.loads(tick.cursor or "")["months"] == {}
    reported = capfd.readouterr().err
    for key in ignored:
        assert f"ignored {key}" in reported
    assert f"ignored {PREFIX}2026-10/:" not in reported
    assert tick.months() == []
    again = capfd.readouterr().err
    assert "ignored statements/" not in again, "the same ignored keys are only counted"
    assert f"{len(ignored)} ignored keys" in again


def test_months_outside_the_partitions_are_skipped_until_they_exist(
    s3: Any, tick: Ticker, capfd: pytest.CaptureFixture[str]
) -> None:
    put(s3, f"{PREFIX}2019-12/part-1.csv")
    put(s3, f"{PREFIX}2099-01/part-1.csv")
    put(s3, f"{PREFIX}2026-10/part-1.csv")
    assert tick.months() == ["2026-10"]
    reported = capfd.readouterr().err
    assert "2019-12/ is outside the partitions" in reported
    assert "2099-01/ is outside the partitions" in reported
    assert set(json.loads(tick.cursor or "")["months"]) == {"2026-10"}
    assert tick.months() == []
    with dg.partition_loading_context(effective_dt=datetime(2099, 1, 15, tzinfo=UTC)):
        assert tick.months() == ["2099-01"]


def test_removed_files_retrigger_a_month_that_still_has_files(
    s3: Any, tick: Ticker, capfd: pytest.CaptureFixture[str]
) -> None:
    put(s3, f"{PREFIX}2026-10/part-1.csv")
    put(s3, f"{PREFIX}2026-10/part-2.csv")
    tick()
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}2026-10/part-2.csv")
    assert tick.months() == ["2026-10"]
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}2026-10/part-1.csv")
    capfd.readouterr()
    assert tick.months() == []
    assert "2026-10/ has no .csv files any more" in capfd.readouterr().err
    put(s3, f"{PREFIX}2026-10/part-1.csv")
    assert tick.months() == ["2026-10"]


def test_the_bucket_and_prefix_come_from_the_environment(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.create_bucket(Bucket="other", CreateBucketConfiguration={"LocationConstraint": REGION})
    monkeypatch.setenv("STATEMENT_BUCKET", "other")
    monkeypatch.setenv("STATEMENT_PREFIX", "")
    # The names are read when the definitions load, as the code location does.
    resources = defs().resources
    assert (resources["statement_files"].bucket, resources["statement_files"].prefix) == (
        "other",
        "",
    )
    tick = Ticker(resources)
    put(s3, f"{PREFIX}2026-10/part-1.csv")  # the default bucket: not watched now
    s3.put_object(Bucket="other", Key="2026-09/part-1.csv", Body=b"x")
    # The pipeline's own rejects sit at the bucket root: neither a month nor worth reporting.
    s3.put_object(Bucket="other", Key="rejects/2026-09/part-1.rejects.csv", Body=b"x")
    assert tick.months() == ["2026-09"]


def test_the_listing_is_paginated_and_the_cursor_grows_with_months_not_files(s3: Any) -> None:
    for month in range(1, 13):
        for part in range(4):
            put(s3, f"{PREFIX}2025-{month:02d}/part-{part}.csv", f"{month}-{part}".encode())
    small_pages = list_prefix(s3, BUCKET, PREFIX, page_size=7)
    one_page = list_prefix(s3, BUCKET, PREFIX)
    assert small_pages.pages == 7
    assert one_page.pages == 1
    assert small_pages.objects == one_page.objects == 48
    assert small_pages.months == one_page.months
    assert all(files == 4 for _, files in one_page.months.values())
    cursor = watch.plan_tick(one_page, None, lambda _month: True).cursor
    assert len(cursor) < 60 * 12
    assert "part-" not in cursor


def test_a_listing_that_would_outlast_the_tick_fails_clearly(s3: Any) -> None:
    for n in range(5):
        put(s3, f"{PREFIX}2026-10/part-{n}.csv")
    times: Iterator[float] = iter(float(t) for t in range(0, 1000, 30))
    clock: Callable[[], float] = lambda: next(times)  # noqa: E731
    with pytest.raises(ListingTooSlow, match="passed 40s"):
        list_prefix(s3, BUCKET, PREFIX, page_size=1, deadline_seconds=40, clock=clock)


def test_the_version_digest_ignores_listing_order() -> None:
    entries = [(f"statements/2026-10/part-{n}.csv", f'"etag{n}"') for n in range(5)]
    forward, backward = watch.VersionSet(), watch.VersionSet()
    for key, etag in entries:
        forward.add(key, etag)
    for key, etag in reversed(entries):
        backward.add(key, etag)
    assert forward.digest() == backward.digest()
    changed = watch.VersionSet()
    for key, etag in entries[:-1]:
        changed.add(key, etag)
    changed.add(entries[-1][0], '"other"')
    assert changed.digest() != forward.digest()


@pytest.mark.parametrize("cursor", ["not json", '{"v": 99, "months": {}}', '{"v": 1}', "[1]"])
def test_a_cursor_this_sensor_did_not_write_is_refused(cursor: str) -> None:
    with pytest.raises(watch.CursorError):
        watch.parse_cursor(cursor)


def test_the_sensor_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INTERVAL_VARIABLE, raising=False)
    assert interval_from_env() == DEFAULT_INTERVAL_SECONDS == 30
    assert statement_file_sensor.minimum_interval_seconds == 30
    monkeypatch.setenv(INTERVAL_VARIABLE, "5")
    assert defs().resolve_sensor_def("statement_file_sensor").minimum_interval_seconds == 5
    for bad in ("4", "3601", "soon"):
        monkeypatch.setenv(INTERVAL_VARIABLE, bad)
        with pytest.raises(ValueError, match="from 5 to 3600"):
            interval_from_env()
