"""Start-up timestamps of a profiled `dagster asset materialize` process.

benchmarks/profile_import.py puts this folder on the command's PYTHONPATH with
STATEMENT_PROFILE_MARKS=<file>; Python then imports this module at start-up (site.py), and it
appends `<mark> <epoch seconds>` lines to the file: when the interpreter was ready, when the
code location's package began and finished importing, each call of a `@dg.definitions`
function, and when the interpreter began to shut down. It changes nothing the process does.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import sys
import time
from typing import Any

_PATH = os.environ.get("STATEMENT_PROFILE_MARKS")
_PACKAGE = "statement_pipeline"


def mark(name: str) -> None:
    """Append one timestamped mark (opened per mark: the process may end at any point)."""
    if _PATH:
        with open(_PATH, "a") as out:
            out.write(f"{name} {time.time():.6f}\n")


def _time_definitions() -> None:
    """Mark each call of a lazily loaded Definitions function (`@dg.definitions`)."""
    from dagster.components.definitions import LazyDefinitions

    call = LazyDefinitions.__call__

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        mark("definitions_start")
        try:
            return call(self, *args, **kwargs)
        finally:
            mark("definitions_end")

    LazyDefinitions.__call__ = timed  # type: ignore[method-assign]


class _PackageFinder:
    """Finds the package like the default finders do, and times its module's execution."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != _PACKAGE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            mark("project_import_start")
            execute(module)
            mark("project_import_end")
            _time_definitions()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if _PATH:
    mark("python_ready")
    sys.meta_path.insert(0, _PackageFinder())
    atexit.register(mark, "interpreter_exit")
