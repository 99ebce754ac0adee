"""Shared fixtures: fake AWS credentials for every test, moto in-process and as a real server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from moto import mock_aws

from statement_pipeline.local_aws.server import LocalAws

REGION = "eu-west-1"
# Daemons started by the tests tick the sensor every 5 s rather than 30 s: the same sensor,
# so tests that wait for its runs wait less. Set for the whole session (servers started by
# session and module fixtures inherit it) and again for every test (which clears STATEMENT_*).
SENSOR_INTERVAL_VARIABLE = "STATEMENT_SENSOR_INTERVAL_SECONDS"
TEST_SENSOR_INTERVAL = "5"


def pytest_configure(config: pytest.Config) -> None:
    os.environ[SENSOR_INTERVAL_VARIABLE] = TEST_SENSOR_INTERVAL


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """No test can reach real AWS: fake keys, no profile files, no endpoint leaking in."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "STATEMENT_")):
            monkeypatch.delenv(name, raising=False)
    empty = tmp_path_factory.getbasetemp() / "no-aws-config"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv(SENSOR_INTERVAL_VARIABLE, TEST_SENSOR_INTERVAL)


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process moto: every boto3 client made inside the test talks to it."""
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def local_aws_server() -> Iterator[LocalAws]:
    """One moto server in its own process for the session (reset by `moto_endpoint`).

    Plain moto, as shipped, without the embedded local AWS's speed-ups: the tests must hold
    against the emulator anyone else would point the pipeline at.
    """
    with LocalAws(speedups=False) as server:
        yield server


@pytest.fixture
def moto_endpoint(local_aws_server: LocalAws, monkeypatch: pytest.MonkeyPatch) -> str:
    """A freshly reset moto server over HTTP, with AWS_ENDPOINT_URL pointing at it."""
    local_aws_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws_server.endpoint)
    return local_aws_server.endpoint


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshot-to",
        default=None,
        help="also save the browser test's screenshot of the asset page here (make screenshot)",
    )


# The distributed tests share one stack (PostgreSQL, Redis, two Celery workers) and run one
# after another for about three minutes, mostly waiting on those servers: they go first, so
# the rest of the suite runs beside them on the other xdist workers instead of after them.
RUN_FIRST = frozenset({"test_distributed.py"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in RUN_FIRST)
