"""Shared fixtures: fake AWS credentials for every test, moto in-process and as a real server."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from moto import mock_aws

from statement_pipeline.local_aws.server import LocalAws

REGION = "eu-west-1"
# Daemons started by the tests tick the sensor every 5 s rather than 30 s: the same sensor,
# so tests that wait for its runs wait less. Set for the whole session (servers started by
# session and module fixtures inherit it) and again for every test (which clears STATEMENT_*).
SENSOR_INTERVAL_VARIABLE = "STATEMENT_SENSOR_INTERVAL_SECONDS"
TEST_SENSOR_INTERVAL = "5"


# Property tests search new examples only when asked (`make properties`): a counterexample found
# by chance must not turn an unrelated change's CI red. `make test` and CI run the same
# derandomized examples every time, plus each test's `@example`s: a counterexample found by
# `make properties` is fixed and then kept there as an `@example`.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    os.environ[SENSOR_INTERVAL_VARIABLE] = TEST_SENSOR_INTERVAL


def fake_aws_settings(no_config_file: Path) -> dict[str, str]:
    """Fake keys, no profile files, the metadata service off: what every test runs with."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(no_config_file),
        "AWS_SHARED_CREDENTIALS_FILE": str(no_config_file),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def isolated_environ(no_config_file: Path) -> dict[str, str]:
    """This process's environment without any AWS_* or STATEMENT_* of its own, faked instead.

    For processes that module-scoped fixtures start, before `fake_aws_credentials` runs.
    """
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STATEMENT_"))}
    return {
        **kept,
        **fake_aws_settings(no_config_file),
        SENSOR_INTERVAL_VARIABLE: TEST_SENSOR_INTERVAL,
    }


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """No test can reach real AWS: fake keys, no profile files, no endpoint leaking in."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "STATEMENT_")):
            monkeypatch.delenv(name, raising=False)
    empty = tmp_path_factory.getbasetemp() / "no-aws-config"
    for name, value in fake_aws_settings(empty).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(SENSOR_INTERVAL_VARIABLE, TEST_SENSOR_INTERVAL)


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process moto: every boto3 client made inside the test talks to it."""
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def local_aws_server() -> Iterator[LocalAws]:
    """One moto server in its own process for the session (reset by `moto_endpoint`).

    moto's own code, without the embedded local AWS's speed-ups: the tests must hold against
    the emulator anyone else would point the pipeline at. Only its SQS receive race is fixed
    (`moto_receive.py`): it hands one message to two loaders receiving at the same instant,
    which SQS does not, and the tests that count the loaders' writes would count it twice.
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


# Where the long tests start. Run in parallel (xdist's work stealing), the suite takes as
# long as its longest chain: each worker is first handed a contiguous block of the tests. The
# production-stack modules each share one stack (PostgreSQL, Redis, a code server, two Celery
# workers) and run one after another for six to eight minutes, mostly waiting on those
# servers and on the SQS visibility timeout of a lost loader: each opens a block of its own.
# The other long modules (rough seconds each on a quiet 2-core machine) open the other blocks,
# balanced, so no worker meets two of them in a row while another runs out of work.
RUN_FIRST = ("test_distributed.py", "test_stack_faults.py")
LONG_MODULES = {
    "test_multiprocess.py": 40,
    "test_incremental.py": 40,
    "test_webserver.py": 45,
    "test_month_at_a_glance.py": 45,
    "test_e2e.py": 25,
    "test_kill_and_rerun.py": 30,
    "test_backfill.py": 30,
    "test_concurrent_backfill.py": 25,
    "test_dev_stop.py": 45,
    "test_daemon.py": 25,
    "test_browser.py": 20,
    "test_corrected_month.py": 20,
    "test_alerts_daemon.py": 60,
    "test_alerts.py": 20,
}


def _block_sizes(total: int, workers: int) -> list[int]:
    """The sizes of the blocks xdist's work stealing first hands to each worker."""
    sizes = []
    for index in range(workers):
        size = total // (workers - index)
        sizes.append(size)
        total -= size
    return sizes


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every worker sorts its own collection: the order depends only on the items and the
    # worker count, so all of them agree (xdist checks that they do).
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    firsts = [[i for i in items if i.path.name == name] for name in RUN_FIRST]
    if workers <= len(RUN_FIRST):
        first = [i for module in firsts for i in module]
        items[:] = first + [i for i in items if i.path.name not in RUN_FIRST]
        return
    heads: list[list[pytest.Item]] = firsts + [[] for _ in range(workers - len(RUN_FIRST))]
    load = [0.0] * workers
    others = range(len(RUN_FIRST), workers)
    for name in sorted(LONG_MODULES, key=lambda n: -LONG_MODULES[n]):
        module = [i for i in items if i.path.name == name]
        if not module:
            continue
        target = min(others, key=lambda w: load[w])
        heads[target].extend(module)
        load[target] += LONG_MODULES[name]
    placed = {id(i) for head in heads for i in head}
    rest = iter([i for i in items if id(i) not in placed])
    ordered: list[pytest.Item] = []
    for head, size in zip(heads, _block_sizes(len(items), workers), strict=True):
        ordered.extend(head)
        ordered.extend(itertools.islice(rest, max(0, size - len(head))))
    ordered.extend(rest)
    items[:] = ordered
