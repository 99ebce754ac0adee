"""The import profile's phases (benchmarks/profile_import.py), cut from marks and step times."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from profile_import import PHASES, read_marks, timeline

MARKS = {
    "python_ready": 100.5,
    "project_import_start": 102.0,
    "project_import_end": 102.25,
    "definitions_start": 102.3,
    "definitions_end": 102.5,
    "interpreter_exit": 131.0,
}
STEPS = {
    "scheduled_statements.discover_statement_files": (103.0, 103.25),
    "scheduled_statements.enqueue_statement_files[files_0]": (103.5, 104.0),
    "loaded_statements.start_loaders": (104.25, 104.5),
    "loaded_statements.load_statements[loader_0]": (104.5, 120.0),
    "loaded_statements.load_statements[loader_1]": (104.5, 121.0),
    "loaded_statements.finish_load": (121.25, 125.0),
    "statement_checks": (125.0, 126.0),
}


def test_phases_follow_the_marks_and_steps_and_add_up_to_the_process() -> None:
    line = timeline(started_at=100.0, ended_at=132.0, marks=MARKS, steps=STEPS, run_end=126.5)
    assert list(line.phases) == list(PHASES)
    assert line.phases == {
        "start-up: interpreter": 0.5,
        "start-up: Dagster CLI imports": 1.5,
        "start-up: project imports": 0.25,
        "definitions load": 0.25,
        "run set-up": 0.5,
        "scheduling": 1.0,
        "loading": 17.0,
        "finish (read-back)": 4.0,
        "checks": 1.0,
        "run end": 0.5,
        "exit: CLI wrap-up": 4.5,
        "exit: interpreter shutdown": 1.0,
    }
    assert line.total == pytest.approx(32.0)
    # Time inside the steps of each stage (the rest of a stage's span is Dagster's).
    assert line.in_steps["scheduling"] == pytest.approx(0.75)
    assert line.in_steps["loading"] == pytest.approx(0.25 + 15.5 + 16.5)
    assert line.spans["finish (read-back)"] == (121.0, 125.0)


def test_a_missing_mark_gives_its_time_to_the_next_phase() -> None:
    marks = {k: v for k, v in MARKS.items() if k != "project_import_start"}
    line = timeline(started_at=100.0, ended_at=132.0, marks=marks, steps=STEPS, run_end=126.5)
    assert line.phases["start-up: Dagster CLI imports"] == 0.0
    assert line.phases["start-up: project imports"] == pytest.approx(1.75)
    assert line.total == pytest.approx(32.0)


def test_usage_of_a_phase_comes_from_the_samples_inside_it() -> None:
    line = timeline(started_at=100.0, ended_at=132.0, marks=MARKS, steps=STEPS, run_end=126.5)
    samples = [(104.0, 150 << 20, 3.0), (110.0, 180 << 20, 5.0), (121.0, 170 << 20, 9.0)]
    cpu, rss = line.usage(samples)["loading"]
    assert cpu == pytest.approx(6.0)
    assert rss == 180 << 20


def test_marks_keep_the_first_time_of_each_name(tmp_path: Path) -> None:
    path = tmp_path / "marks"
    path.write_text("python_ready 1.5\ndefinitions_end 3.0\ndefinitions_end 4.0\n")
    assert read_marks(path) == {"python_ready": 1.5, "definitions_end": 3.0}
    assert read_marks(tmp_path / "absent") == {}
