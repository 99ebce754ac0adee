"""Links a browser opens for an S3 object (rules/s3_links.py): pure units, links written out."""

from __future__ import annotations

import re

import pytest

from statement_pipeline.rules.s3_links import console_url, is_aws_endpoint, s3_url, split_s3_url


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        (
            "eu-west-1",
            "https://eu-west-1.console.aws.amazon.com/s3/object/acme"
            "?region=eu-west-1&bucketType=general&prefix=statements/2026-10/a.csv",
        ),
        (
            "cn-north-1",
            "https://cn-north-1.console.amazonaws.cn/s3/object/acme"
            "?region=cn-north-1&bucketType=general&prefix=statements/2026-10/a.csv",
        ),
        (
            "us-gov-west-1",
            "https://us-gov-west-1.console.amazonaws-us-gov.com/s3/object/acme"
            "?region=us-gov-west-1&bucketType=general&prefix=statements/2026-10/a.csv",
        ),
    ],
)
def test_the_console_link_is_on_the_console_of_the_regions_partition(
    region: str, expected: str
) -> None:
    assert console_url(region, "acme", "statements/2026-10/a.csv") == expected


def test_the_console_link_escapes_the_key_but_keeps_its_folders() -> None:
    # space -> %20, & -> %26, ? -> %3F, # -> %23; '/' separates folders and stays.
    assert console_url("eu-west-1", "acme", "statements/2026-10/a b&c?d#e.csv") == (
        "https://eu-west-1.console.aws.amazon.com/s3/object/acme"
        "?region=eu-west-1&bucketType=general&prefix=statements/2026-10/a%20b%26c%3Fd%23e.csv"
    )


def test_the_bucket_is_one_path_segment_of_the_console_link() -> None:
    # A '/' in what is passed as the bucket cannot open another console page: %2F.
    assert console_url("eu-west-1", "acme/x", "a.csv") == (
        "https://eu-west-1.console.aws.amazon.com/s3/object/acme%2Fx"
        "?region=eu-west-1&bucketType=general&prefix=a.csv"
    )


@pytest.mark.parametrize(
    "endpoint",
    [
        None,
        "",
        "AWS default",
        "https://s3.eu-west-1.amazonaws.com",
        "https://S3.EU-WEST-1.AMAZONAWS.COM",
        "https://s3.cn-north-1.amazonaws.com.cn",
        "https://s3.dualstack.eu-west-1.api.aws",
    ],
)
def test_aws_endpoints_are_recognised(endpoint: str | None) -> None:
    assert is_aws_endpoint(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:5005",
        "http://localhost:4566",
        "https://amazonaws.com.example.org",
        "https://api.aws.example.org",
    ],
)
def test_emulator_and_other_endpoints_are_not_aws(endpoint: str) -> None:
    assert not is_aws_endpoint(endpoint)


def test_an_object_url_splits_into_bucket_and_key() -> None:
    assert s3_url("acme", "statements/2026-10/a.csv") == "s3://acme/statements/2026-10/a.csv"
    assert split_s3_url("s3://acme/statements/2026-10/a.csv") == (
        "acme",
        "statements/2026-10/a.csv",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://acme/a.csv", "not an s3:// URL: 'https://acme/a.csv'"),
        ("s3://acme", "not an s3:// URL of an object: 's3://acme'"),
        ("s3://acme/", "not an s3:// URL of an object: 's3://acme/'"),
        ("s3:///a.csv", "not an s3:// URL of an object: 's3:///a.csv'"),
    ],
)
def test_what_is_not_an_object_url_is_refused_with_the_url(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        split_s3_url(url)
