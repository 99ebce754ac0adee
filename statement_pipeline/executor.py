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

from statement_pipeline.celery_settings import celery_settings, visibility_timeout_from_env

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

# Which executor the definitions use, read when they load (like the STATEMENT_* names): unset
# or `default` is the executor above; `celery` sends every op to Celery workers.
EXECUTOR_ENV = "STATEMENT_EXECUTOR"
# The Celery broker and result backend, read by every run when it starts (e.g. redis://host/0).
CELERY_BROKER_ENV = "STATEMENT_CELERY_BROKER"
CELERY_BACKEND_ENV = "STATEMENT_CELERY_BACKEND"


def celery_statement_executor() -> dg.ExecutorDefinition:
    """dagster-celery's executor: broker and backend from the environment, the stack's settings.

    The workers must run with the same settings (`celery_settings.py`): the stack writes them
    into the workers' `-y` file from the same function.
    """
    # dagster-celery is in the optional `prod` extra: imported only when chosen.
    from dagster_celery import celery_executor

    return celery_executor.configured(
        {
            "broker": {"env": CELERY_BROKER_ENV},
            "backend": {"env": CELERY_BACKEND_ENV},
            "config_source": celery_settings(visibility_timeout_from_env()),
        },
        name="statement_celery_executor",
    )


def select_executor(choice: str | None) -> dg.ExecutorDefinition:
    """The executor named by STATEMENT_EXECUTOR (unset: the default above)."""
    if choice in (None, "", "default"):
        return statement_executor
    if choice == "celery":
        return celery_statement_executor()
    raise ValueError(f"{EXECUTOR_ENV}={choice!r}: expected `default` or `celery`")
