"""Links a browser opens for an S3 object, beside its `s3://` URL, which a browser cannot open.

On AWS the object's page in the S3 console shows it (and downloads it, with the operator's
own sign-in). On a local emulator (moto server, the embedded local AWS) there is no console:
`aws/s3_files.object_link` gives a presigned GET of the object, which downloads the CSV.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

# What a resource shows when boto3's standard chain decides (AWS's own regional endpoint).
AWS_DEFAULT = "AWS default"
# Hosts of AWS's own endpoints (commercial, China, and the dual-stack `api.aws` names).
_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def s3_url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key) of an `s3://bucket/key` URL."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, sep, key = url[len("s3://") :].partition("/")
    if not bucket or not sep or not key:
        raise ValueError(f"not an s3:// URL of an object: {url!r}")
    return bucket, key


def is_aws_endpoint(endpoint: str | None) -> bool:
    """True for AWS's own endpoints (or none at all: boto3 then uses AWS's own)."""
    if not endpoint or endpoint == AWS_DEFAULT:
        return True
    host = (urlsplit(endpoint).hostname or "").lower()
    return host.endswith(_AWS_HOST_SUFFIXES)


def console_url(region: str, bucket: str, key: str) -> str:
    """The object's page in the S3 console of the region's partition."""
    if region.startswith("cn-"):
        host = f"{region}.console.amazonaws.cn"
    elif region.startswith("us-gov-"):
        host = f"{region}.console.amazonaws-us-gov.com"
    else:
        host = f"{region}.console.aws.amazon.com"
    return (
        f"https://{host}/s3/object/{quote(bucket, safe='')}"
        f"?region={region}&bucketType=general&prefix={quote(key, safe='/')}"
    )
