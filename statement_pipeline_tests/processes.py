"""Helpers for the tests that run real Dagster processes (daemon, webserver, CLI)."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import dagster as dg

from statement_pipeline.cli.dev import prepare_home
from statement_pipeline.supervision.service import Service

REPO = Path(__file__).resolve().parents[1]
SHIPPED_DAGSTER_YAML = REPO / "dev" / "dagster.yaml"
BIN = Path(sys.executable).parent

T = TypeVar("T")


def dagster_home(root: Path) -> Path:
    """A fresh DAGSTER_HOME made as `make dev` makes it, with the dagster.yaml it ships."""
    home = root / "dagster_home"
    prepare_home(home, SHIPPED_DAGSTER_YAML)
    return home


def background(command: Sequence[str], env: dict[str, str], log: Path) -> Service:
    """A command run from the repository root in its own process group, as a `Service`.

    As a context manager it starts the command, and on exit stops it and everything it
    started (the daemon's code server and run workers, `dg dev`'s webserver).
    """
    return Service(Path(command[0]).name, command, env, log, cwd=REPO)


def wait_for(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    on_timeout: Callable[[], str] = lambda: "",
    interval: float = 1.0,
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}\n{on_timeout()}"
            )
        time.sleep(interval)


def month_runs(instance: dg.DagsterInstance, month: str) -> list[dg.DagsterRun]:
    """Runs of the import job for one partition, newest first."""
    return list(
        instance.get_runs(
            filters=dg.RunsFilter(
                job_name="import_statements_job", tags={"dagster/partition": month}
            )
        )
    )


def finished_runs(instance: dg.DagsterInstance, month: str) -> list[dg.DagsterRun] | None:
    """The month's runs once there are some and all of them have finished, else None."""
    runs = month_runs(instance, month)
    return runs if runs and all(r.is_finished for r in runs) else None


def describe_runs(instance: dg.DagsterInstance) -> str:
    lines = []
    for run in instance.get_runs(limit=20):
        lines.append(f"{run.run_id} {run.tags.get('dagster/partition')} {run.status.value}")
        if run.status == dg.DagsterRunStatus.FAILURE:
            for record in instance.all_logs(run.run_id):
                if record.is_dagster_event and record.dagster_event.is_failure:
                    lines.append(f"  {record.dagster_event.message}")
    return "\n".join(lines)


def loaded_metadata(instance: dg.DagsterInstance, month: str) -> dict[str, object]:
    """The metadata of a month's latest `loaded_statements` materialization."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("loaded_statements"), asset_partitions=[month]),
        limit=1,
    )
    mat = result.records[0].asset_materialization
    assert mat is not None
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def _graphql(url: str, query: str) -> dict[str, object] | None:
    """The `data` of a GraphQL query to the Dagster UI at `url`; None while it does not answer."""
    body = json.dumps({"query": query}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            payload = json.loads(response.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return payload.get("data") or None


def ui_run_statuses(url: str) -> dict[str, str] | None:
    """Run id -> status of the runs the Dagster UI at `url` lists; None while it cannot."""
    query = "{ runsOrError { ... on Runs { results { runId status } } } }"
    runs = (_graphql(url, query) or {}).get("runsOrError") or {}
    results = runs.get("results") if isinstance(runs, dict) else None
    return None if results is None else {run["runId"]: run["status"] for run in results}


def ui_run_ids(url: str) -> list[str] | None:
    """The ids of the runs the Dagster UI at `url` lists, sorted; None while it cannot."""
    statuses = ui_run_statuses(url)
    return None if statuses is None else sorted(statuses)


def ui_locations(url: str) -> list[str] | None:
    """Code locations the Dagster UI at `url` has loaded; None while it does not answer."""
    query = (
        "{ workspaceOrError { ... on Workspace { locationEntries "
        "{ name locationOrLoadError { __typename } } } } }"
    )
    workspace = (_graphql(url, query) or {}).get("workspaceOrError") or {}
    loaded = [
        entry["name"]
        for entry in workspace.get("locationEntries", [])
        if (entry.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation"
    ]
    return loaded or None
