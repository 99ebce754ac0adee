"""The assets and checks materialized with `materialize(...)` against a moto server."""

from pathlib import Path

import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from statement_harness import scenarios
from statement_pipeline.assets import loaded_statements, scheduled_statements
from statement_pipeline.aws import clients
from statement_pipeline.checks import RejectRateConfig, statement_checks
from statement_pipeline.resources import (
    DynamoDBResource,
    ImportTuning,
    SQSResource,
    StatementFilesResource,
)
from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.items import key_of
from statement_pipeline_tests.oracles import rows_as_written
from statement_samples import generate_rows, render_csv, write_month

MONTH = "2026-10"
ASSETS = [scheduled_statements, loaded_statements, statement_checks]


def _materialize(instance: dg.DagsterInstance, **kw: object) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS,
        partition_key=MONTH,
        resources=scenarios.resources(),
        instance=instance,
        raise_on_error=False,
        **kw,
    )


@pytest.fixture
def instance(tmp_path: Path):
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path)) as inst:
        yield inst


def expected_rows(files: list[tuple[str, bytes]]) -> list[tuple[str, ...]]:
    """The trimmed values of every row of the (all valid) files, read with the csv module, not
    with the reader under test: a digit the product drops or adds differs from these."""
    return [values for _, content in files for values in rows_as_written(content)]


@pytest.fixture
def month(moto_endpoint: str) -> list[tuple[str, ...]]:
    scenarios.setup_aws()
    files = write_month(MONTH, 300, 3, seed=7, quirks=True)
    scenarios.put_files(MONTH, files)
    return expected_rows(files)


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_month_is_imported_exactly_and_every_check_passes(
    month: list[tuple[str, ...]], instance: dg.DagsterInstance
) -> None:
    result = _materialize(instance)
    assert result.success
    scenarios.assert_month_exact(MONTH, month)
    checks = _checks(result)
    assert set(checks) == {
        "table_count_matches_valid_rows",
        "queue_drained",
        "no_rejected_rows",
        "reject_rate_below_limit",
    }
    assert all(c.passed for c in checks.values())
    count = checks["table_count_matches_valid_rows"].metadata
    assert (count["actual"].value, count["expected"].value) == (300, 300)

    scheduled = result.asset_materializations_for_node("scheduled_statements")[0].metadata
    assert scheduled["files"].value == 3
    assert scheduled["rows"].value == 300
    assert scheduled["valid"].value == 300
    assert 1 <= scheduled["messages"].value <= 3
    loaded = result.asset_materializations_for_node("loaded_statements")[0].metadata
    assert loaded["written_in_import"].value == 300
    assert loaded["records_per_second"].value > 0


def test_importing_again_changes_nothing(
    month: list[tuple[str, ...]], instance: dg.DagsterInstance
) -> None:
    assert _materialize(instance).success
    first = {i["statement_id"]["S"]: i for i in scenarios.month_items(MONTH)}
    assert _materialize(instance).success
    second = {i["statement_id"]["S"]: i for i in scenarios.month_items(MONTH)}
    assert first.keys() == second.keys()
    for sid, item in first.items():
        assert {k: v for k, v in item.items() if k != "loaded_at"} == {
            k: v for k, v in second[sid].items() if k != "loaded_at"
        }


def test_the_count_check_fails_when_an_item_is_missing(
    month: list[tuple[str, ...]], instance: dg.DagsterInstance
) -> None:
    result = _materialize(instance)
    assert result.success
    assert _checks(result)["table_count_matches_valid_rows"].passed
    clients.client("dynamodb").delete_item(
        TableName="statements",
        Key=key_of(MONTH, month[5][0]),
    )
    loaded = result.asset_value(loaded_statements.key)
    # The checks again, outside the import's run: its read of the month is not reused.
    resources = {
        "statement_queue": SQSResource(),
        "statement_table": DynamoDBResource(),
        "statement_files": StatementFilesResource(s3=S3Resource()),
        "import_tuning": ImportTuning(),
    }
    context = dg.build_asset_check_context(resources=resources)
    # Entered: the statement files' S3Resource is set up (and torn down) with it.
    with context.op_execution_context:
        evaluated = statement_checks(context, config=RejectRateConfig(), loaded=loaded)
        checks = {r.check_name: r for r in evaluated}
    check = checks["table_count_matches_valid_rows"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert (check.metadata["actual"].value, check.metadata["expected"].value) == (299, 300)
    assert check.metadata["counted_by"].value == "recounted"
    assert checks["reject_rate_below_limit"].passed


def test_rejected_rows_warn_and_a_high_reject_rate_is_an_error(
    moto_endpoint: str, instance: dg.DagsterInstance
) -> None:
    scenarios.setup_aws()
    rows = list(generate_rows(MONTH, 20))
    bad = [list(r) for r in rows[:2]]
    bad[0][4] = "eur"
    bad[1][9] = "-1"
    scenarios.put_files(MONTH, [("a.csv", render_csv(COLUMNS, [*rows[2:], *map(tuple, bad)]))])
    result = _materialize(instance)
    assert result.success
    checks = _checks(result)
    assert not checks["no_rejected_rows"].passed
    assert checks["no_rejected_rows"].severity == dg.AssetCheckSeverity.WARN
    # 2 of 20 rows = 10% > the default 5% limit.
    assert not checks["reject_rate_below_limit"].passed
    assert checks["reject_rate_below_limit"].severity == dg.AssetCheckSeverity.ERROR
    assert checks["table_count_matches_valid_rows"].passed
    scenarios.assert_month_exact(MONTH, rows[2:])

    relaxed = _materialize(
        instance,
        run_config={"ops": {"statement_checks": {"config": {"max_reject_rate": 0.2}}}},
    )
    assert _checks(relaxed)["reject_rate_below_limit"].passed
