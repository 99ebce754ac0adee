"""A step's lease in Redis: kept while its worker renews it, given to another once it lapses.

Against a real redis-server and kombu's own Redis transport, with the settings the stack's
runs and workers use (`celery_settings.py`). Redis's `visibility_timeout` counts from the
stamp in its unacknowledged index; the tests set that stamp in the past, as time would,
rather than wait for it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import kombu
import psutil
import pytest
from celery import Celery
from celery.result import AsyncResult

from statement_pipeline.celery_settings import (
    DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    celery_settings,
    lease_renewal_seconds,
    visibility_timeout_from_env,
)
from statement_pipeline.celery_worker import renew_leases
from statement_pipeline.cli.local_servers import Redis
from statement_pipeline.supervision.service import Service
from statement_pipeline_tests.distributed_stack import kill_machine, require_servers
from statement_pipeline_tests.processes import BIN, REPO, wait_for

TIMEOUT = 120


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_servers("the lease tests")
    root = tmp_path_factory.mktemp("redis")
    with Redis(root, root / "data") as redis:
        yield redis.url(0)


@pytest.fixture
def channel(redis_url: str) -> Iterator[object]:
    options = celery_settings(TIMEOUT)["broker_transport_options"]
    with kombu.Connection(redis_url, transport_options=options) as connection:
        chan = connection.channel()
        chan.client.flushdb()
        yield chan
        chan.close()


def deliver(channel: object, body: str) -> kombu.Message:
    """Publish a message and receive it unacknowledged, as a worker takes a step."""
    queue = kombu.Queue("steps", routing_key="steps")
    kombu.Producer(channel).publish(body, routing_key="steps", declare=[queue])
    message = queue(channel).get(no_ack=False)
    assert message is not None
    return message


def age(channel: object, message: kombu.Message, seconds: float) -> None:
    """Make the message's stamp `seconds` old."""
    stamp = time.time() - seconds
    channel.client.zadd(channel.unacked_index_key, {message.delivery_tag: stamp})  # type: ignore[attr-defined]


def restore(channel: object) -> int:
    """Redis's sweep for lapsed leases; how many messages are queued after it."""
    channel.qos.restore_visible(num=10, interval=1)  # type: ignore[attr-defined]
    return int(channel.client.llen("steps"))  # type: ignore[attr-defined]


def test_a_lapsed_lease_gives_the_step_to_another_worker(channel: object) -> None:
    message = deliver(channel, "step")
    assert restore(channel) == 0
    age(channel, message, TIMEOUT + 1)
    assert restore(channel) == 1


def test_a_renewed_lease_keeps_a_long_step_with_its_worker(channel: object) -> None:
    message = deliver(channel, "long step")
    for _ in range(3):
        # Most of a timeout goes by, again and again; each renewal starts it over.
        age(channel, message, TIMEOUT - 1)
        assert renew_leases(channel, [message.delivery_tag], time.time()) == 1
        age(channel, message, TIMEOUT * 0.5)
        assert restore(channel) == 0


def test_renewal_never_brings_back_an_acknowledged_step(channel: object) -> None:
    message = deliver(channel, "finished step")
    message.ack()
    assert renew_leases(channel, [message.delivery_tag], time.time()) == 0
    assert channel.client.zcard(channel.unacked_index_key) == 0  # type: ignore[attr-defined]


def test_the_settings_acknowledge_late_and_sweep_every_ten_seconds() -> None:
    settings = celery_settings(DEFAULT_VISIBILITY_TIMEOUT_SECONDS)
    assert settings["task_acks_late"] is True
    assert settings["task_reject_on_worker_lost"] is True
    assert settings["worker_prefetch_multiplier"] == 1
    transport = settings["broker_transport_options"]
    assert transport["visibility_timeout"] == 120
    assert (transport["unacked_restore_interval"], transport["unacked_restore_throttle"]) == (10, 1)
    assert lease_renewal_seconds(120) == 15


def test_the_visibility_timeout_comes_from_the_environment(tmp_path: Path) -> None:
    variable = "STATEMENT_CELERY_VISIBILITY_TIMEOUT_SECONDS"
    assert visibility_timeout_from_env({}) == 120
    assert visibility_timeout_from_env({variable: "600"}) == 600
    for wrong in ("10", "2h", "-5"):
        with pytest.raises(ValueError, match=variable):
            visibility_timeout_from_env({variable: wrong})


# The same mechanism in real workers (the stack's app, `celery_worker.py`), with the shortest
# visibility timeout the settings allow, so that a lapse shows within a minute.
SHORT = 30


@pytest.fixture
def workers(redis_url: str, tmp_path: Path) -> Iterator[list[Service]]:
    """Two Celery workers of the stack's app, one task at a time each, with the probe task."""
    config = tmp_path / "config"
    config.mkdir()
    backend = redis_url.rsplit("/", 1)[0] + "/1"
    settings = celery_settings(SHORT)
    lines = [f"broker_url = {redis_url!r}", f"result_backend = {backend!r}"]
    lines += [f"{key} = {value!r}" for key, value in settings.items()]
    (config / "dagster_celery_config.py").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(config), str(REPO)])}
    started = []
    for name in ("w1", "w2"):
        command = [
            str(BIN / "celery"),
            "-A",
            "statement_pipeline.celery_worker",
            "worker",
            "-I",
            "statement_pipeline_tests.celery_probe",
            "--concurrency=1",
            "--prefetch-multiplier=1",
            "--loglevel=INFO",
            "-n",
            f"{name}@%h",
        ]
        started.append(Service(name, command, env, tmp_path / f"{name}.log").start())
    try:
        for worker in started:
            wait_for(lambda w=worker: "ready." in w.output(), 60, f"{worker.name}", worker.output)
        yield started
    finally:
        for worker in started:
            worker.stop()


def send_hold(redis_url: str, journal: Path, seconds: float) -> AsyncResult:
    client = Celery(broker=redis_url, backend=redis_url.rsplit("/", 1)[0] + "/1")
    client.conf.update(celery_settings(SHORT))
    return client.send_task(
        "probe.hold", args=[str(journal), seconds], queue="dagster", routing_key="dagster.probe"
    )


def descendants(service: Service) -> set[int]:
    return {p.pid for p in psutil.Process(service.pid).children(recursive=True)}


def journal_lines(journal: Path) -> list[str]:
    return journal.read_text().splitlines() if journal.exists() else []


def test_a_step_longer_than_the_timeout_runs_once_while_its_worker_lives(
    redis_url: str, workers: list[Service], tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    result = send_hold(redis_url, journal, SHORT * 1.7)
    pid = result.get(timeout=SHORT * 4)
    # Well past the timeout and a sweep, the other worker never took it.
    assert journal_lines(journal) == [f"start {pid}", f"end {pid}"]


def test_a_step_whose_worker_dies_goes_to_the_other_worker_after_the_timeout(
    redis_url: str, workers: list[Service], tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    result = send_hold(redis_url, journal, 5)
    first = wait_for(lambda: journal_lines(journal), 60, "the step to start", interval=0.2)
    pid = int(first[0].split()[1])
    (holder,) = [
        w for w in workers if pid in {p.pid for p in psutil.Process(w.pid).children(recursive=True)}
    ]
    kill_machine(holder)
    second_pid = result.get(timeout=SHORT + 60)
    lines = journal_lines(journal)
    assert lines == [f"start {pid}", f"start {second_pid}", f"end {second_pid}"]
    (other,) = [w for w in workers if w is not holder]
    assert second_pid in {p.pid for p in psutil.Process(other.pid).children(recursive=True)}
