"""The Celery settings of every run and every worker: how a lost worker is survived.

One dict reaches both sides: the runs' executor (`config_source` of dagster-celery's executor,
`executor.py`) and the workers (`dagster-celery worker start -y <file>`, written by the stack
from this same function). docs/deploy.md, "When a worker dies", tells the story with the times
the test measured.

- A step is acknowledged when it ends, not when a worker takes it (`task_acks_late`). A worker
  whose machine dies mid-step never acknowledges it, so Redis still holds it, and gives it to
  another worker `visibility_timeout` seconds after its last lease renewal. The run that waits
  for the step's result receives the second execution's (the task keeps its id).
- While a step runs, its worker renews the lease (`celery_worker.py`) every
  `visibility_timeout / 8` seconds, so a long step (a month at 20 WCU loads for hours) is never
  handed to a second worker while its own worker lives.
- A worker whose pool process alone dies puts its step back at once
  (`task_reject_on_worker_lost`); a step already finished is not run again
  (`worker_deduplicate_successful_tasks`).
- Every step of the import is safe to run twice, which is what a redelivery risks when a worker
  stalls past the timeout without dying: loading writes the same items again and deletes only
  the messages it wrote; the month's figures are read from the items, so nothing is counted
  twice; the checks only read.
- Redis restarted: its append-only file gives back the queue, the unacknowledged steps and the
  results; the workers reconnect for ever, and the runs retry their reads of results.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statement_pipeline.rules.names import int_setting

VISIBILITY_TIMEOUT_ENV = "STATEMENT_CELERY_VISIBILITY_TIMEOUT_SECONDS"
# After a worker dies, its step waits this long (from the lease's last renewal) before another
# worker takes it. Shorter: a faster recovery, but a worker frozen this long without dying (a
# stalled VM) has its step run twice, which is safe but spends the table's write budget twice.
# Longer: fewer false alarms, a slower recovery. The SQS messages a dead loader held come back
# after the queue's own visibility timeout (import_tuning.visibility_timeout_seconds, 300 s),
# which bounds the recovery of a loading step anyway.
DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 120
# How often Redis is searched for steps whose lease ran out; kombu's default (10 s x 10) would
# add up to 100 s to every recovery.
RESTORE_INTERVAL_SECONDS = 10
# How many times a run retries a read of a step's result while Redis is down, with backoff up
# to 10 s between tries: about three minutes before the run gives up on the broker.
RESULT_READ_RETRIES = 25


def visibility_timeout_from_env(environ: Mapping[str, str] | None = None) -> int:
    """STATEMENT_CELERY_VISIBILITY_TIMEOUT_SECONDS (30 to 86400), or the default."""
    return int_setting(
        VISIBILITY_TIMEOUT_ENV, DEFAULT_VISIBILITY_TIMEOUT_SECONDS, 30, 86_400, environ
    )


def lease_renewal_seconds(visibility_timeout: float) -> float:
    """How often a worker renews the lease of the steps it runs: 8 renewals per timeout."""
    return max(1.0, visibility_timeout / 8)


def celery_settings(visibility_timeout: int) -> dict[str, Any]:
    """Celery's lower-case settings for runs and workers alike."""
    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_deduplicate_successful_tasks": True,
        # One step per worker process at a time, none reserved ahead: a reserved step would wait
        # behind the running one on this worker while another worker idles, and would also be
        # lost with this worker until its lease ran out.
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": {
            "visibility_timeout": visibility_timeout,
            "unacked_restore_interval": RESTORE_INTERVAL_SECONDS,
            "unacked_restore_throttle": 1,
            # dagster-celery's publishing defaults, kept.
            "max_retries": 3,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        # A worker reconnects to a restarted broker for ever, rather than exit.
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "result_backend_always_retry": True,
        "result_backend_max_retries": RESULT_READ_RETRIES,
        "result_backend_max_sleep_between_retries_ms": 10_000,
        # A run submitting a step while Redis restarts retries the submission for about a minute.
        "task_publish_retry_policy": {
            "max_retries": 30,
            "interval_start": 0,
            "interval_step": 1,
            "interval_max": 2,
        },
    }
