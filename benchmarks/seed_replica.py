"""A replica of the seed's per-record design, for comparison on the same emulator.

The seed queued one SQS message per statement (one `SendMessage` each, one thread per file)
and loaded them one at a time: `ReceiveMessage` of one message, `PutItem`, `DeleteMessage`,
in as many loader threads as configured. About 4 API calls per record. This module does
exactly that against whatever AWS the environment points at, with its own queue and table
so it never touches the pipeline's resources, and counts every call it makes.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from statement_pipeline.rules.csv_records import COLUMNS
from statement_pipeline.rules.items import HASH_KEY, RANGE_KEY, to_item

SEED_QUEUE = "seed-replica-records"
SEED_TABLE = "seed-replica-statements"


@dataclass
class SeedResult:
    """Timings and call counts of one replay."""

    records: int
    files: int
    loaders: int
    queue_seconds: float
    load_seconds: float
    send_calls: int
    receive_calls: int
    put_calls: int
    delete_calls: int
    other_calls: int

    @property
    def seconds(self) -> float:
        return self.queue_seconds + self.load_seconds

    @property
    def calls(self) -> int:
        return (
            self.send_calls + self.receive_calls + self.put_calls + self.delete_calls
        ) + self.other_calls


class _Counter:
    """A thread-safe tally of calls by name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + n

    def get(self, name: str) -> int:
        return self.counts.get(name, 0)


def create_resources(sqs: Any, dynamodb: Any) -> str:
    """The replica's own standard queue and table (same key schema); returns the queue URL."""
    url = sqs.create_queue(QueueName=SEED_QUEUE)["QueueUrl"]
    dynamodb.create_table(
        TableName=SEED_TABLE,
        KeySchema=[
            {"AttributeName": HASH_KEY, "KeyType": "HASH"},
            {"AttributeName": RANGE_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": HASH_KEY, "AttributeType": "S"},
            {"AttributeName": RANGE_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return str(url)


def _queue_file(s3: Any, sqs: Any, bucket: str, key: str, queue_url: str, calls: _Counter) -> int:
    """Read one file and send each of its rows as its own message."""
    obj = s3.get_object(Bucket=bucket, Key=key)
    calls.add("other")
    text = io.TextIOWrapper(obj["Body"], encoding="utf-8-sig", newline="")
    sent = 0
    for line, row in enumerate(csv.DictReader(text), start=2):
        body = {"source_key": key, "source_etag": obj["ETag"], "line": line, "row": row}
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
        calls.add("send")
        sent += 1
    return sent


def _load_one_by_one(
    sqs: Any,
    dynamodb: Any,
    queue_url: str,
    expected: int,
    done: Callable[[int], int],
    calls: _Counter,
) -> None:
    """Receive one message, put its item, delete it; until every record is loaded."""
    loaded_at = datetime.now(UTC).isoformat(timespec="seconds")
    while done(0) < expected:
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1)
        calls.add("receive")
        for message in resp.get("Messages", []):
            body = json.loads(message["Body"])
            values = [body["row"][name].strip() for name in COLUMNS]
            item = to_item(
                values,
                source_key=body["source_key"],
                source_etag=body["source_etag"],
                line=body["line"],
                loaded_at=loaded_at,
            )
            dynamodb.put_item(TableName=SEED_TABLE, Item=item)
            calls.add("put")
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            calls.add("delete")
            done(1)


def replay(
    *,
    make_client: Callable[[str], Any],
    bucket: str,
    keys: Sequence[str],
    loaders: int,
) -> SeedResult:
    """Queue the files' rows one message each, then load them one record at a time."""
    sqs = make_client("sqs")
    queue_url = create_resources(sqs, make_client("dynamodb"))
    calls = _Counter()
    calls.add("other", 2)

    # One sender thread per file, as the seed did; boto3 clients are made up front because
    # creating them is not thread-safe.
    senders = [(make_client("s3"), make_client("sqs"), key) for key in keys]
    workers = [(make_client("sqs"), make_client("dynamodb")) for _ in range(loaders)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, len(keys))) as pool:
        futures = [
            pool.submit(_queue_file, s3, q, bucket, key, queue_url, calls) for s3, q, key in senders
        ]
        sent = sum(f.result() for f in futures)
    queued = time.monotonic()

    lock = threading.Lock()
    loaded = 0

    def done(n: int) -> int:
        nonlocal loaded
        with lock:
            loaded += n
            return loaded

    with ThreadPoolExecutor(max_workers=loaders) as pool:
        loading = [
            pool.submit(_load_one_by_one, q, d, queue_url, sent, done, calls) for q, d in workers
        ]
        for future in loading:
            future.result()
    finished = time.monotonic()
    return SeedResult(
        records=sent,
        files=len(keys),
        loaders=loaders,
        queue_seconds=round(queued - started, 2),
        load_seconds=round(finished - queued, 2),
        send_calls=calls.get("send"),
        receive_calls=calls.get("receive"),
        put_calls=calls.get("put"),
        delete_calls=calls.get("delete"),
        other_calls=calls.get("other"),
    )
