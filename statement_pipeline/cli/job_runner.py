"""Running the import job from Python with `dg.execute_job` (the demo, benchmarks and tests).

The job runs with the executor its definitions set: in process by default, `multiprocess`
when run config says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg


def import_job() -> dg.JobDefinition:
    """The import job, resolved from the project's Definitions (a reconstructable target)."""
    from statement_pipeline.definitions import defs

    return defs().resolve_job_def("import_statements_job")


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    severity: str
    description: str
    metadata: dict[str, Any]


@dataclass
class RunReport:
    run_id: str
    success: bool
    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)
    failure: str | None = None

    @property
    def all_checks_passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)


def _user_error(error: Any) -> Any:
    """The op's own exception inside Dagster's step execution wrapper."""
    if error.cls_name == "DagsterExecutionStepExecutionError" and error.cause is not None:
        return error.cause
    return error


def plain(value: Any) -> Any:
    """A metadata value as plain Python: a table as a list of row dicts."""
    if isinstance(value, dg.TableMetadataValue):
        return [dict(record.data) for record in value.records]
    return getattr(value, "value", value)


def _with_location(run_config: Mapping[str, Any]) -> dict[str, Any]:
    """`run_config`, with the AWS resources pointed at what the environment names now.

    The definitions read the region and endpoints when they load, and a process keeps the
    job it loaded: a later import in the same process (the next test, benchmark or demo month,
    against another emulator) must use the environment of its own start. Settings given in
    `run_config` win.
    """
    from statement_pipeline.resources import DynamoDBResource, SQSResource, StatementFilesResource

    given = dict(run_config)
    resources = dict(given.get("resources", {}))
    for name, resource in (
        ("statement_files", StatementFilesResource),
        ("statement_queue", SQSResource),
        ("statement_table", DynamoDBResource),
    ):
        entry = dict(resources.get(name, {}))
        entry["config"] = {**resource.location_from_env(), **entry.get("config", {})}
        resources[name] = entry
    given["resources"] = resources
    return given


def loader_totals(loaded: Mapping[str, Any]) -> dict[str, float]:
    """The numeric columns of `loaded_statements`' loaders table, summed over the loader ops.

    `loaded` is its materialization's metadata, plain (`plain`) or as Dagster holds it.
    """
    rows = plain(loaded.get("loaders", []))
    totals: dict[str, float] = {}
    for row in rows:
        for column, value in row.items():
            if isinstance(value, int | float) and column not in ("op", "pid"):
                totals[column] = totals.get(column, 0) + value
    return totals


def run_import(
    month: str,
    instance: dg.DagsterInstance,
    run_config: Mapping[str, Any] | None = None,
) -> RunReport:
    """Import one month through the real job and collect the outcome."""
    result = dg.execute_job(
        dg.reconstructable(import_job),
        instance=instance,
        run_config=_with_location(run_config or {}),
        tags={"dagster/partition": month},
    )
    report = RunReport(run_id=result.run_id, success=result.success)
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization  # type: ignore[union-attr]
        if mat is not None:
            report.materializations[mat.asset_key.to_user_string()] = {
                k: plain(v) for k, v in mat.metadata.items()
            }
    for evaluation in result.get_asset_check_evaluations():
        report.checks.append(
            CheckOutcome(
                name=evaluation.check_name,
                passed=evaluation.passed,
                severity=evaluation.severity.value,
                description=evaluation.description or "",
                metadata={k: plain(v) for k, v in evaluation.metadata.items()},
            )
        )
    if not result.success:
        failures = [
            _user_error(e.step_failure_data.error).message.strip()
            for e in result.all_events
            if e.is_step_failure and e.step_failure_data and e.step_failure_data.error
        ]
        report.failure = failures[0] if failures else "the run failed"
    return report


def tuning_run_config(**tuning: Any) -> dict[str, Any]:
    """Run config that sets the import's tuning (see `ImportTuning`)."""
    return {"resources": {"import_tuning": {"config": tuning}}}
