"""A real import read as an operator reads it: its materializations, links and run log."""

from __future__ import annotations

import csv
import io
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from statement_harness import scenarios
from statement_pipeline.assets import loaded_statements, scheduled_statements
from statement_pipeline.local_aws.server import LocalAws
from statement_pipeline.rules.csv_records import COLUMNS
from statement_samples import generate_rows, render_csv

MONTH = "2026-10"
BAD_CURRENCY = 4  # column index of `currency`: "eur" breaks the ISO 4217 rule


def _metadata(instance: dg.DagsterInstance, asset: str) -> dict[str, Any]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[MONTH]), limit=1
    ).records
    materialization = records[0].asset_materialization
    assert materialization is not None
    return dict(materialization.metadata)


def _numbers(metadata: dict[str, Any]) -> dict[str, float]:
    return {
        k: v.value
        for k, v in metadata.items()
        if isinstance(v, dg.IntMetadataValue | dg.FloatMetadataValue)
    }


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - local emulator
        assert response.status == 200
        return response.read()


def _broken(rows: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return [(*r[:BAD_CURRENCY], "eur", *r[BAD_CURRENCY + 1 :]) for r in rows]


def test_a_real_imports_figures_match_the_table_with_loader_and_file_tables_and_open_links(
    moto_endpoint: str, tmp_path: Path
) -> None:
    scenarios.setup_aws()
    rows = list(generate_rows(MONTH, 1_012, seed=21))
    mixed = rows[600:1_000] + _broken(rows[1_000:1_007])
    files = {
        "part-1.csv": render_csv(COLUMNS, rows[:600]),
        "part-2.csv": render_csv(COLUMNS, mixed),
        # Every row of this file is rejected: it must say so, with the count.
        "all-bad.csv": render_csv(COLUMNS, _broken(rows[1_007:])),
    }
    scenarios.put_files(MONTH, list(files.items()))
    home = tmp_path / "dagster"
    run = scenarios.run_cli(MONTH, home)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    items = scenarios.month_items(MONTH)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        scheduled = _metadata(instance, "scheduled_statements")
        loaded = _metadata(instance, "loaded_statements")
        (run_record,) = instance.get_runs()
        (warn,) = [
            record.dagster_event.asset_check_evaluation_data
            for record in instance.all_logs(
                run_record.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
            if record.dagster_event
            and record.dagster_event.asset_check_evaluation_data.check_name == "no_rejected_rows"
        ]

    # At most 12 numbers each: the Plots tab draws one chart per number.
    assert len(_numbers(scheduled)) <= 12
    assert len(_numbers(loaded)) <= 12

    # The month's figures are what a scan of the table finds.
    stamps = [datetime.fromisoformat(i["loaded_at"]["S"]).timestamp() for i in items]
    window = round(max(stamps) - min(stamps), 3)
    for item in items:
        # Far below 1 KB whatever the exact sizing: one write unit each.
        assert sum(len(k) + len(str(v)) for k, v in item.items()) < 1024
    assert _numbers(loaded) == {
        "statements": len(items),
        "rejected": 12,
        "written_in_import": len(items),
        "stale_removed": 0,
        "write_seconds": window,
        "records_per_second": round(len(items) / max(window, 0.001), 1),
        "throttled_writes": sum(int(i["write_attempts"]["N"]) - 1 for i in items),
        "consumed_wcu": len(items),
        "load_seconds": loaded["load_seconds"].value,
        # moto fakes ConsumedCapacity: what it reported for the read below.
        "consumed_rcu": loaded["consumed_rcu"].value,
        # The window's cost on this on-demand table: its requests at list prices.
        "capacity_cost_usd": loaded["capacity_cost_usd"].value,
    }
    assert 0 < loaded["capacity_cost_usd"].value < 0.01
    assert len(items) == 1_000
    # The read that proves the month is the finish step's, of every item the scan finds.
    (proof,) = [r.data for r in loaded["month_read"].records]
    assert (proof["read"], proof["items"], proof["consistent"]) == ("finish_load", 1_000, True)
    assert proof["consumed_rcu"] == loaded["consumed_rcu"].value
    assert "provisioned_wcu" not in loaded  # an on-demand table has none
    assert _numbers(scheduled)["rows"] == 1_012

    # This run's loaders: one table entry, a row per loader op, not a number each.
    loaders = loaded["loaders"]
    assert isinstance(loaders, dg.TableMetadataValue)
    assert sum(r.data["items_this_month"] for r in loaders.records) == len(items)
    assert not any(key.startswith("loaders_") for key in loaded)

    # Per file: a table that says what became of each file's rows.
    detail = {r.data["file"].rsplit("/", 1)[1]: r.data for r in scheduled["file_detail"].records}
    assert (detail["all-bad.csv"]["rows"], detail["all-bad.csv"]["rejected"]) == (5, 5)
    assert detail["all-bad.csv"]["written"] is False
    assert detail["all-bad.csv"]["why"] == "nothing to load: all 5 rows rejected"
    assert (detail["part-2.csv"]["loaded"], detail["part-2.csv"]["rejected"]) == (400, 7)

    # Every link opens: each rejects object answers a GET with its rejected rows, the same
    # from the asset and from the warning check; each source file with its bytes.
    expected_lines = {"part-2.csv": list(range(402, 409)), "all-bad.csv": list(range(2, 7))}
    for metadata in (scheduled, dict(warn.metadata)):
        links = {k: v.value for k, v in metadata.items() if k.startswith("rejects_object[")}
        assert len(links) == 2
        for key, url in links.items():
            name = key.removesuffix("]").rsplit("/", 1)[1]
            header, *rejected = list(csv.reader(io.StringIO(_get(url).decode())))
            assert header[:3] == ["file", "line", "reason"]
            assert [int(line[1]) for line in rejected] == expected_lines[name]
            assert all(line[3 + BAD_CURRENCY] == "eur" for line in rejected)
        beside = {
            r.data["file"]: r.data["rejects_object"] for r in metadata["rejects_objects"].records
        }
        assert beside[f"statements/{MONTH}/all-bad.csv"] == (
            f"s3://statements/rejects/{MONTH}/all-bad.rejects.csv"
        )
    for name, content in files.items():
        assert _get(scheduled[f"source_file[statements/{MONTH}/{name}]"].value) == content


@pytest.fixture
def fast_local_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The embedded local AWS with its speed-ups: plain moto takes minutes for 23,300 items."""
    with LocalAws(speedups=True) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
        yield server.endpoint


def test_progress_lines_appear_in_the_runs_log_while_23300_statements_load(
    fast_local_aws: str, tmp_path: Path
) -> None:
    scenarios.setup_aws()
    rows = list(generate_rows(MONTH, 23_300, seed=3))
    scenarios.put_files(
        MONTH, [(f"part-{n + 1}.csv", render_csv(COLUMNS, rows[n::4])) for n in range(4)]
    )
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path)) as instance:
        # Without the checks: their read-back of the month is not what this test is about.
        result = dg.materialize(
            [scheduled_statements, loaded_statements],
            partition_key=MONTH,
            resources=scenarios.resources(progress_seconds=0.2),
            instance=instance,
        )
        assert result.success
        messages = [
            record.user_message
            for record in instance.all_logs(result.run_id)
            if record.dagster_event is None
        ]
    prefix = f"loader op 0: loading {MONTH}: "
    # Lines while the load was under way: done of total, rate, throttled share, time left.
    done = {
        line: int(line.removeprefix(prefix).split("/")[0].replace(",", ""))
        for line in messages
        if line.startswith(prefix)
    }
    during = [line for line, written in done.items() if written < 23_300]
    assert during, messages
    for line in during:
        assert "/23,300 statements (" in line
        assert " statements/s, " in line
        assert "% of write calls throttled, " in line or "no write calls yet, " in line
        assert line.endswith((" s left", " min left", "time left unknown"))
