"""Running the import job from Python with `dg.execute_job` (the demo, benchmarks and tests).

The job runs with the executor its definitions set: in process by default, `multiprocess`
when run config says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg


def import_job(**location: str) -> dg.JobDefinition:
    """The import job, resolved from the project's Definitions (a reconstructable target).

    `location` (`_location`) only tells targets apart: the definitions read the region and
    endpoints again as they load.
    """
    from statement_pipeline.definitions import defs

    return defs().resolve_job_def("import_statements_job")


def _location() -> dict[str, str]:
    """Each service's region and endpoint as the definitions would read them now."""
    from statement_pipeline.resources import aws_location
    from statement_pipeline.rules.names import CAPACITY_VARIABLES

    where = {
        f"{service}_{field}": value
        for service in ("s3", "sqs", "dynamodb")
        for field, value in aws_location(service).items()
    }
    # The capacity policy is read as the definitions load too: another policy, another target.
    return {**where, **{name: os.environ.get(name, "") for name in CAPACITY_VARIABLES}}


def _import_target() -> Any:
    """The job to run, as the definitions load in this process's environment now.

    They read the region and endpoints when they load, and Dagster keeps the last job it
    loaded per target: an import against another endpoint in the same process (the next
    test, benchmark or demo month, against another emulator) is a target of its own.
    """
    return dg.build_reconstructable_job(
        __name__, import_job.__name__, reconstructable_kwargs=_location()
    )


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
        _import_target(),
        instance=instance,
        run_config=dict(run_config or {}),
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
