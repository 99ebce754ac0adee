"""The Celery app of the stack's workers: dagster-celery's tasks, and a lease on running steps.

Started as `dagster-celery worker start -A statement_pipeline.celery_worker -y <file>`, in place
of `dagster_celery.app`: the same app and tasks (the settings come from the `-y` file, see
`celery_settings.py`), plus one worker step. With late acknowledgement a step stays in
Redis's unacknowledged set while it runs, stamped with the time it was delivered, and Redis
gives it to another worker once that stamp is older than the visibility timeout, whether or
not its worker still runs it. The worker therefore re-stamps the steps it holds, every eighth of
the timeout: a lease that lapses only when the worker's main process is gone, e.g. with its
machine.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from celery import bootsteps
from celery.worker import state as worker_state
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

from statement_pipeline.celery_settings import lease_renewal_seconds

log = logging.getLogger(__name__)


def renew_leases(channel: Any, tags: list[str], now: float) -> int:
    """Stamp `tags` in the channel's unacknowledged index with `now`; how many were there.

    XX: only tags still unacknowledged are stamped; a step acknowledged meanwhile is not
    brought back.
    """
    if not tags:
        return 0
    return int(
        channel.client.zadd(channel.unacked_index_key, dict.fromkeys(tags, now), xx=True, ch=True)
    )


def held_delivery_tags() -> list[str]:
    """The broker delivery tags of the steps this worker has received and not yet finished."""
    requests = set(worker_state.reserved_requests) | set(worker_state.active_requests)
    return sorted({str(r.message.delivery_tag) for r in requests if r.message is not None})


class RenewLeases(bootsteps.StartStopStep):
    """Re-stamp the held steps in Redis's unacknowledged index, from the consumer's timer."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._timer_entry: Any = None

    def start(self, parent: Any) -> None:
        options = parent.app.conf.broker_transport_options or {}
        interval = lease_renewal_seconds(float(options.get("visibility_timeout", 3600)))
        self._timer_entry = parent.timer.call_repeatedly(interval, self.renew, (parent,))

    def stop(self, parent: Any) -> None:
        if self._timer_entry is not None:
            self._timer_entry.cancel()
            self._timer_entry = None

    def renew(self, parent: Any) -> None:
        tags = held_delivery_tags()
        consumer = getattr(parent, "task_consumer", None)
        channel = getattr(consumer, "channel", None)
        if not tags or channel is None or not hasattr(channel, "unacked_index_key"):
            return
        try:
            renewed = renew_leases(channel, tags, time.time())
            # A line per renewal while a step runs: what to read when a step ran twice.
            log.info("lease renewed for %d of %d held step(s): %s", renewed, len(tags), tags)
        except channel.connection_errors as exc:
            # Redis is down or restarting: the next renewal, well within the timeout, retries.
            log.warning("could not renew the lease of %d step(s): %s", len(tags), exc)


app = make_app()
app.steps["consumer"].add(RenewLeases)

execute_plan = create_task(app)
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)
