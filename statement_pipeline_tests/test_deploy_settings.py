"""The deployment switches of the definitions, and what prod-local says when servers are missing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest
from dagster_aws.s3 import S3PickleIOManager, S3Resource

from statement_pipeline.cli import local_servers
from statement_pipeline.definitions import defs
from statement_pipeline.resources import StatementS3Resource

AWS_S3_ENDPOINT = "https://s3.eu-west-1.amazonaws.com"


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


def _resources(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Mapping[str, Any]:
    """The definitions' resources as they load with these variables set."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return defs().resources or {}


def test_the_s3_resource_shows_aws_default_and_its_clients_follow_boto3s_chain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resources = _resources(monkeypatch, STATEMENT_IO_BUCKET="dagster-io")
    s3, io_manager = resources["s3"], resources["io_manager"]
    # dagster-aws's S3Resource, shared by the statement files and the op outputs.
    assert isinstance(s3, S3Resource)
    assert resources["statement_files"].s3 == s3
    assert io_manager.s3_resource == s3
    # What the resource page shows on AWS: the region found, "AWS default" for the endpoint.
    assert (s3.region_name, s3.endpoint_url) == ("eu-west-1", "AWS default")
    # S3Resource's own client would take it for an endpoint; its clients come from the
    # project's factory, which leaves it to boto3: AWS's endpoint, or one set since.
    with pytest.raises(ValueError, match="Invalid endpoint: AWS default"):
        S3Resource(endpoint_url="AWS default").get_client()
    assert s3.get_client().meta.endpoint_url == AWS_S3_ENDPOINT
    assert resources["statement_files"].get_client().meta.endpoint_url == AWS_S3_ENDPOINT
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
    assert s3.get_client().meta.endpoint_url == "http://127.0.0.1:9000"


def test_each_service_gets_its_own_endpoint_when_the_definitions_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resources = _resources(
        monkeypatch,
        AWS_ENDPOINT_URL="http://127.0.0.1:5005",
        AWS_ENDPOINT_URL_S3="http://127.0.0.1:9000",
        STATEMENT_IO_BUCKET="dagster-io",
    )
    assert resources["s3"].endpoint_url == "http://127.0.0.1:9000"
    assert resources["statement_queue"].endpoint_url == "http://127.0.0.1:5005"
    assert resources["statement_table"].endpoint_url == "http://127.0.0.1:5005"
    made = {
        "s3": resources["s3"].get_client(),
        "statement files": resources["statement_files"].get_client(),
        "op outputs": resources["io_manager"].s3_resource.get_client(),
        "queue": resources["statement_queue"].get_client(),
        "table": resources["statement_table"].get_client(),
    }
    assert {name: urlsplit(c.meta.endpoint_url).port for name, c in made.items()} == {
        "s3": 9000,
        "statement files": 9000,
        "op outputs": 9000,
        "queue": 5005,
        "table": 5005,
    }
    assert {c.meta.region_name for c in made.values()} == {"eu-west-1"}


def test_an_unsigned_s3_resource_signs_nothing() -> None:
    url = (
        StatementS3Resource(use_unsigned_session=True)
        .get_client()
        .generate_presigned_url("get_object", Params={"Bucket": "public", "Key": "a.csv"})
    )
    assert "Signature" not in url
    assert "Credential" not in url


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
