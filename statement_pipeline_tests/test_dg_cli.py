"""`dg check defs` and `dg list defs` from the project root, as `[tool.dg]` sets them up."""

from __future__ import annotations

import json
import os
import subprocess

from statement_pipeline_tests.processes import BIN, REPO

CHECKS = {
    "table_count_matches_valid_rows",
    "queue_drained",
    "no_rejected_rows",
    "reject_rate_below_limit",
}


def _dg(*args: str) -> subprocess.CompletedProcess[str]:
    # Wide enough that rich never wraps a name; no colour codes in what the test reads.
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [str(BIN / "dg"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_dg_check_defs_loads_the_project() -> None:
    result = _dg("check", "defs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout


def test_dg_list_defs_names_the_contract_definitions() -> None:
    result = _dg("list", "defs", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    defs = json.loads(result.stdout)
    assert {a["asset_key"] for a in defs["assets"]} == {
        "scheduled_statements",
        "loaded_statements",
    }
    assert {(c["asset_key"], c["name"]) for c in defs["asset_checks"]} == {
        ("loaded_statements", name) for name in CHECKS
    }
    assert "import_statements_job" in {j["name"] for j in defs["jobs"]}
    assert {s["name"] for s in defs["sensors"]} == {
        "statement_file_sensor",
        "statement_alert_sensor",
    }
    assert {s["name"] for s in defs["schedules"]} == {"monthly_statement_schedule"}
