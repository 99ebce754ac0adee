"""The deployment switches of the definitions, and what prod-local says when servers are missing."""

from __future__ import annotations

import pytest
from dagster_aws.s3 import S3PickleIOManager

from statement_pipeline.cli import local_servers
from statement_pipeline.definitions import defs


def test_without_the_deployment_variables_the_definitions_are_the_default_ones() -> None:
    loaded = defs()
    assert loaded.executor is not None
    assert loaded.executor.name == "statement_executor"
    assert "io_manager" not in (loaded.resources or {})
    assert loaded.resources["import_tuning"].loader_ops == 1


def test_celery_s3_outputs_and_loader_ops_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STATEMENT_EXECUTOR", "celery")
    monkeypatch.setenv("STATEMENT_IO_BUCKET", "dagster-io")
    monkeypatch.setenv("STATEMENT_LOADER_OPS", "2")
    loaded = defs()
    assert loaded.executor is not None
    assert loaded.executor.name == "statement_celery_executor"
    resources = loaded.resources or {}
    assert isinstance(resources["io_manager"], S3PickleIOManager)
    assert (resources["import_tuning"].loader_ops, resources["import_tuning"].loaders) == (2, 4)


def test_an_unknown_executor_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATEMENT_EXECUTOR", "k8s")
    with pytest.raises(ValueError, match="STATEMENT_EXECUTOR"):
        defs()


def test_missing_servers_are_named_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local_servers.shutil, "which", lambda name: None)
    monkeypatch.setattr(local_servers.glob, "glob", lambda pattern: [])
    message = local_servers.missing_servers()
    assert message is not None
    assert "PostgreSQL" in message
    assert "apt-get install -y postgresql redis-server" in message
    assert "\n" not in message
