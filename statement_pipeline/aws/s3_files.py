"""S3 calls on the statement files: month listings, exact versions, rejects objects, uploads."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from statement_pipeline.aws import clients
from statement_pipeline.aws.clients import error_code
from statement_pipeline.rules import s3_layout
from statement_pipeline.rules.month_plan import FileRef
from statement_pipeline.rules.names import Names
from statement_pipeline.rules.s3_links import console_url, is_aws_endpoint, split_s3_url
from statement_pipeline.rules.sensor_cursor import PrefixListing, PrefixTally

_GONE = frozenset({"PreconditionFailed", "412", "NoSuchKey", "404", "NotFound"})
# An emulator answers no anonymous request, so its links are presigned GETs, valid this long
# (the longest a SigV4 signature allows). They are signed with placeholder keys, never the
# environment's credentials (a link is stored in run metadata and shown in the UI): moto and
# the embedded local AWS do not check the signature of a presigned URL.
LOCAL_LINK_SECONDS = 7 * 24 * 3600
_LINK_SIGNER = {"aws_access_key_id": "link-placeholder", "aws_secret_access_key": "unchecked"}


class FileChanged(RuntimeError):
    """A file was replaced while its month was being imported; a new run will pick it up."""


class ListingTooSlow(RuntimeError):
    """Listing the prefix took longer than a sensor tick may."""


@dataclass
class MonthListing:
    files: list[FileRef]
    ignored: list[tuple[str, str]]


def list_month_files(s3: Any, bucket: str, prefix: str, month: str) -> MonthListing:
    """Every .csv object under the month's folder (paginated), with what was ignored and why."""
    files: list[FileRef] = []
    ignored: list[tuple[str, str]] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=s3_layout.month_prefix(prefix, month)):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/"):
                continue
            verdict = s3_layout.classify_key(prefix, key)
            if verdict.month != month:
                ignored.append((key, verdict.reason or "another month"))
                continue
            files.append(FileRef(key, obj["ETag"], int(obj.get("Size", 0))))
    files.sort(key=lambda f: f.key)
    return MonthListing(files, ignored)


def list_prefix(
    s3: Any,
    bucket: str,
    prefix: str,
    *,
    deadline_seconds: float = 40.0,
    page_size: int = 1000,
    clock: Callable[[], float] = time.monotonic,
) -> PrefixListing:
    """List every object under `prefix`, page by page, keeping only per-month digests."""
    started = clock()
    tally = PrefixTally(prefix)
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        tally.pages += 1
        for obj in page.get("Contents", []):
            tally.add(obj["Key"], obj["ETag"])
        if clock() - started > deadline_seconds:
            raise ListingTooSlow(
                f"listing s3://{bucket}/{prefix} passed {deadline_seconds:.0f}s after "
                f"{tally.pages} pages ({tally.objects} objects); keep only month folders under "
                "the prefix"
            )
    return tally.listing(clock() - started)


def open_version(s3: Any, bucket: str, ref: FileRef) -> Any:
    """Stream exactly the listed version of a file, or fail if it has been replaced since."""
    try:
        return s3.get_object(Bucket=bucket, Key=ref.key, IfMatch=ref.etag)["Body"]
    except ClientError as exc:
        code = error_code(exc)
        if code in _GONE:
            raise FileChanged(
                f"{ref.key}: replaced or removed during the import ({code}); "
                "the next run imports the new version"
            ) from exc
        raise


class SourceVersions:
    """Answers 'is this file version still the current one?' with one HEAD per file."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._etags: dict[str, str | None] = {}
        self.calls = 0

    def forget(self) -> None:
        """Ask S3 again next time (a file may have been replaced since)."""
        self._etags.clear()

    def is_current(self, key: str, etag: str) -> bool:
        if key not in self._etags:
            self.calls += 1
            try:
                self._etags[key] = self._s3.head_object(Bucket=self._bucket, Key=key)["ETag"]
            except ClientError as exc:
                if error_code(exc) not in _GONE:
                    raise
                self._etags[key] = None
        return self._etags[key] == etag


def put_csv(s3: Any, bucket: str, key: str, body: bytes) -> None:
    """Write one CSV object (botocore retries it like every other call)."""
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv")


def delete_stale_rejects(s3: Any, bucket: str, month: str, keep: set[str]) -> list[str]:
    """Remove rejects objects of the month that this import did not write; returns them."""
    removed = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=s3_layout.rejects_prefix(month)):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith(s3_layout.REJECTS_SUFFIX) and key not in keep:
                s3.delete_object(Bucket=bucket, Key=key)
                removed.append(key)
    return removed


def upload_files(names: Names, period: str, files: Sequence[tuple[str, bytes]]) -> list[str]:
    """Put (name, content) files into a month's folder; returns their keys."""
    s3 = clients.client("s3")
    keys = []
    for name, content in files:
        key = f"{s3_layout.month_prefix(names.prefix, period)}{name}"
        put_csv(s3, names.bucket, key, content)
        keys.append(key)
    return keys


def upload_path(
    names: Names,
    period: str,
    path: Path,
    name: str,
    on_bytes: Callable[[int], None] | None = None,
) -> str:
    """Stream a local file into a month's folder (in parts when large); returns its key.

    `on_bytes` hears each chunk's size as it is sent (from several threads for a large file).
    """
    key = f"{s3_layout.month_prefix(names.prefix, period)}{name}"
    clients.client("s3").upload_file(
        str(path), names.bucket, key, ExtraArgs={"ContentType": "text/csv"}, Callback=on_bytes
    )
    return key


def object_links(s3: Any, s3_urls: Mapping[str, str]) -> dict[str, str]:
    """name -> where a browser opens the object of each `s3://` URL.

    On AWS, the object's page in the S3 console. Elsewhere (an emulator, which has no console),
    a presigned GET of the object on its endpoint, which downloads it.
    """
    endpoint, region = s3.meta.endpoint_url, s3.meta.region_name or "us-east-1"
    if is_aws_endpoint(endpoint):
        return {name: console_url(region, *split_s3_url(url)) for name, url in s3_urls.items()}
    signer = clients.client("s3", endpoint_url=endpoint, region_name=region, **_LINK_SIGNER)
    links = {}
    for name, url in s3_urls.items():
        bucket, key = split_s3_url(url)
        links[name] = signer.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=LOCAL_LINK_SECONDS
        )
    return links
