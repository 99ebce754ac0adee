"""A month's own import figures: read from its items, true whichever run's loaders wrote them."""

from pathlib import Path

import dagster as dg
import pytest

from statement_harness import scenarios
from statement_pipeline.assets import loaded_statements, scheduled_statements
from statement_pipeline.aws.table import BatchWriter
from statement_pipeline.checks import statement_checks
from statement_pipeline.cli.job_runner import loader_totals
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.items import LOADED_AT, WRITE_ATTEMPTS, mark_refused, to_item
from statement_pipeline.rules.month_figures import StoredItem, month_figures, timestamp
from statement_pipeline.rules.month_plan import id_digest
from statement_pipeline.rules.write_budget import WriteBudget
from statement_samples import generate_rows, write_month

SOURCES = {"a.csv": '"e1"', "b.csv": '"e2"'}


def _item(sid: str, key: str, etag: str, at: float | None, attempts: int = 1) -> StoredItem:
    return StoredItem(sid, key, etag, at, attempts, write_units=1)


def test_only_current_items_stamped_since_the_import_began_count_as_written() -> None:
    items = [
        _item("s1", "a.csv", '"e1"', 100.0),  # current, written before this import: kept
        _item("s2", "a.csv", '"e1"', 205.5, attempts=3),  # written by it, after 2 refusals
        _item("s3", "b.csv", '"e2"', 201.0),
        _item("s4", "b.csv", '"old"', 210.0),  # an earlier version of b.csv: stale
        _item("s5", "gone.csv", '"e9"', 210.0),  # a file no longer in the month: stale
        _item("s6", "a.csv", '"e1"', 203.0),  # a conflicting id: stale whatever its version
        _item("s7", "a.csv", '"e1"', None),  # no readable loaded_at: not this import's
    ]
    figures = month_figures(items, sources=SOURCES, conflicts={id_digest("s6")}, since=200.0)
    assert figures.current == 4
    assert sorted(figures.stale_ids) == ["s4", "s5", "s6"]
    assert figures.written == 2
    assert (figures.first_write, figures.last_write, figures.write_seconds) == (201.0, 205.5, 4.5)
    assert figures.throttled_writes == 2
    assert figures.write_units == 2
    assert figures.records_per_second == pytest.approx(2 / 4.5, abs=0.1)


def test_an_unchanged_month_shows_nothing_written_and_a_one_call_month_no_zero_rate() -> None:
    unchanged = month_figures(
        [_item("s1", "a.csv", '"e1"', 100.0)], sources=SOURCES, conflicts=(), since=200.0
    )
    assert (unchanged.written, unchanged.records_per_second, unchanged.write_seconds) == (0, 0, 0)
    one_call = month_figures(
        [_item(f"s{i}", "a.csv", '"e1"', 300.0) for i in range(25)],
        sources=SOURCES,
        conflicts=(),
        since=200.0,
    )
    assert one_call.written == 25
    assert one_call.records_per_second > 0


def test_loaded_at_is_read_to_the_millisecond_and_bad_values_are_not_this_imports() -> None:
    assert timestamp("1970-01-01T00:16:40.250+00:00") == 1000.25
    assert timestamp("1970-01-01T00:16:40+00:00") == 1000.0
    assert timestamp("yesterday") is None


class _RefusesFirst:
    """A DynamoDB client whose first BatchWriteItem leaves every item unprocessed."""

    def __init__(self) -> None:
        self.sent: list[list[dict]] = []

    def batch_write_item(self, RequestItems: dict, **_: object) -> dict:
        (requests,) = RequestItems.values()
        self.sent.append(
            [{k: dict(v) for k, v in r["PutRequest"]["Item"].items()} for r in requests]
        )
        if len(self.sent) == 1:
            return {"UnprocessedItems": RequestItems}
        return {"UnprocessedItems": {}}


def test_a_refused_write_is_counted_on_the_item_and_stamped_at_the_write_that_stores_it() -> None:
    rows = generate_rows("2026-10", 3, seed=1)
    items = [
        to_item(r, source_key="a.csv", source_etag='"e1"', line=i + 2, loaded_at="t")
        for i, r in enumerate(rows)
    ]
    client = _RefusesFirst()
    writer = BatchWriter(client, "statements", WriteBudget(floor=None), Backoff(base=0.0))
    assert writer.write(items) == []
    first, second = client.sent
    assert {i[WRITE_ATTEMPTS]["N"] for i in first} == {"1"}
    assert {i[WRITE_ATTEMPTS]["N"] for i in second} == {"2"}
    assert all(timestamp(i[LOADED_AT]["S"]) is not None for i in second)
    mark_refused(second)
    assert {i[WRITE_ATTEMPTS]["N"] for i in second} == {"3"}


def test_each_month_reports_its_own_writes_when_another_runs_loaders_wrote_them(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """Month B is only enqueued; month A's loaders drain the shared queue, B's records too.

    Before, A showed both months' items and B showed 0 written; now each month shows its own.
    """
    scenarios.setup_aws()
    sizes = {"2026-08": 120, "2026-09": 200}
    for number, (month, rows) in enumerate(sizes.items()):
        scenarios.put_files(month, write_month(month, rows, files=2, seed=number))
    everything = [scheduled_statements, loaded_statements, statement_checks]
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path)) as instance:

        def run(month: str, selection: list[dg.AssetKey]) -> dict[str, object]:
            result = dg.materialize(
                everything,
                partition_key=month,
                resources=scenarios.resources(records_per_message=40),
                instance=instance,
                selection=selection,
            )
            assert result.success
            mats = result.asset_materializations_for_node("loaded_statements")
            return {k: getattr(v, "value", v) for k, v in mats[0].metadata.items()} if mats else {}

        run("2026-08", [scheduled_statements.key])
        first = run("2026-09", [scheduled_statements.key, loaded_statements.key])
        rest = run("2026-08", [loaded_statements.key])

    assert first["written_in_import"] == 200
    first_loaders, rest_loaders = loader_totals(first), loader_totals(rest)
    assert first_loaders["items_this_month"] == 200
    # 2026-09's loaders drained 2026-08's records too (the queue is shared): reported apart.
    assert first_loaders["items_other_months"] > 0
    assert first_loaders["items_other_months"] + rest_loaders["items"] == 120
    # 2026-08's figures are its own, however many of its records the other run wrote.
    assert rest["written_in_import"] == 120
    assert rest["records_per_second"] > 0
    assert rest["consumed_wcu"] == 120
    assert rest["throttled_writes"] == 0
    for number, (month, rows) in enumerate(sizes.items()):
        scenarios.assert_month_exact(month, generate_rows(month, rows, seed=number))
