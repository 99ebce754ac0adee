"""The project's executor: Dagster's multi-or-in-process executor, in process by default.

A month's import is I/O bound and parallel inside its ops (threads), so one process is the
fastest way to run it on one machine: no process start-up per step. Run config switches to
the multiprocess executor when loader and file ops should run in separate processes:

    execution:
      config:
        multiprocess:
          max_concurrent: 8
          start_method: {forkserver: {}}

`forkserver` starts each step from a process that has already imported the code location,
instead of a fresh interpreter importing Dagster, dagster-aws and boto3 again (a few seconds
of CPU per step).
"""

import dagster as dg

_BASE = dg.multi_or_in_process_executor

statement_executor = dg.ExecutorDefinition(
    name="statement_executor",
    config_schema=dg.Field(
        _BASE.config_schema.as_field().config_type,
        default_value={"in_process": {}},
        description="`in_process` (default) or `multiprocess` with max_concurrent.",
    ),
    requirements=_BASE.get_requirements,
    executor_creation_fn=_BASE.executor_creation_fn,
    description=(
        "In process by default (threads inside ops); `multiprocess` runs each op in its own "
        "process."
    ),
)
