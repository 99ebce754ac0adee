# Over 350 lines: the six stages of the import, each mirrored call for call, read best as one
# piece beside the import they measure.
"""The emulator's ceiling: the import's AWS calls made directly with boto3, and nothing else.

What the emulator itself needs to serve an import of a month: the same requests with the same
payloads as `dagster asset materialize` sends, in the same order of stages and with the same
concurrency, but no Dagster, no validation and no bookkeeping in between (every message body
and every item is built before the clock starts). An import can approach this time; it cannot
beat it on the same emulator. Stages, as the import runs them:

- files:    ListObjectsV2 of the month, GetObject of every file (4 at once), read to the end
- plan:     32 key-only Queries (what the table holds of the month), ListObjectsV2 of the rejects
- send:     GetObject of every file again, SendMessageBatch of its messages (4 files at once)
- load:     DescribeTable; ReceiveMessage (10 at a time) until every message is received,
            while 4 writers share all of their 25-item BatchWriteItem calls evenly
            (ReturnConsumedCapacity); DeleteMessageBatch of each received 10 once written;
            GetQueueAttributes; HeadObject of every file
- read:     HeadObject of every file, 32 Queries of the month's whole items (the read-back)
- check:    32 `Select=COUNT` Queries, GetQueueAttributes, ReceiveMessage on the DLQ

It replaces the old "floor" (BatchWriteItem alone, 4 threads), which is its `load` stage minus
the queue's few calls.
"""

from __future__ import annotations

import hashlib
import io
import queue
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from statement_pipeline.aws import clients
from statement_pipeline.aws.scheduling import DEFAULT_MAX_MESSAGE_BYTES
from statement_pipeline.aws.table import MAX_BATCH_WRITE, QUERY_THREADS
from statement_pipeline.resources import ImportTuning
from statement_pipeline.rules import s3_layout
from statement_pipeline.rules.csv_records import Record, StatementReader
from statement_pipeline.rules.items import HASH_KEY, Item, loaded_now, month_shards, to_item
from statement_pipeline.rules.messages import encode, pack
from statement_pipeline.rules.names import Names

SQS_BATCH = 10
SQS_BATCH_BYTES = 1024 * 1024
_TUNING = ImportTuning()
STAGES = ("files", "plan", "send", "load", "read", "check")


@dataclass(frozen=True)
class SourceFile:
    key: str
    etag: str
    # SendMessageBatch entries of the file, in order: lists of message bodies.
    batches: list[list[str]]


@dataclass(frozen=True)
class Payloads:
    """Every request body the import sends for a month, built ahead of time."""

    period: str
    files: list[SourceFile]
    # Items of each message, by the MD5 of its body (what ReceiveMessage returns with it).
    items_by_md5: dict[str, list[Item]]

    @property
    def items(self) -> int:
        return sum(len(items) for items in self.items_by_md5.values())


def _sqs_batches(bodies: Sequence[str]) -> list[list[str]]:
    batches: list[list[str]] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if not batches or len(batches[-1]) >= SQS_BATCH or size + length > SQS_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(body)
        size += length
    return batches


def prepare(names: Names, period: str, files: Sequence[tuple[str, bytes]]) -> Payloads:
    """The month's message bodies and items, as the import builds them from the same files."""
    sources: list[SourceFile] = []
    items_by_md5: dict[str, list[Item]] = {}
    loaded_at = loaded_now()
    for name, content in files:
        key = f"{s3_layout.month_prefix(names.prefix, period)}{name}"
        etag = f'"{hashlib.md5(content, usedforsecurity=False).hexdigest()}"'
        records = [
            (row.line, row.values)
            for row in StatementReader(io.BytesIO(content), key, period)
            if isinstance(row, Record)
        ]
        bodies = []
        for batch in pack(
            records,
            period=period,
            source_key=key,
            source_etag=etag,
            max_records=_TUNING.records_per_message,
            max_bytes=DEFAULT_MAX_MESSAGE_BYTES,
        ):
            body = encode(batch)
            bodies.append(body)
            md5 = hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
            items_by_md5[md5] = [
                to_item(values, source_key=key, source_etag=etag, line=line, loaded_at=loaded_at)
                for line, values in batch.records
            ]
        sources.append(SourceFile(key, etag, _sqs_batches(bodies)))
    return Payloads(period, sources, items_by_md5)


@dataclass
class CeilingResult:
    """One measured ceiling run."""

    seconds: float
    stages: dict[str, float]
    # CPU seconds this (the benchmark's) process spent in each stage: the client's share.
    client_cpu: dict[str, float]
    calls: Counter[str]
    items: int
    stored: int
    emulator_cpu_s: float | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.stored == self.items and not self.failures


class _Calls:
    """Counts requests by API, from every thread."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n


def _in_threads(work: Callable[[Any], Any], jobs: Sequence[Any], threads: int) -> list[Any]:
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return list(pool.map(work, jobs))


def _query_all(ddb: Any, calls: _Calls, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while True:
        calls("DynamoDB.Query")
        page = ddb.query(**kwargs)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def _shard_queries(table: str, period: str, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "TableName": table,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": HASH_KEY, **extra.pop("names", {})},
            "ExpressionAttributeValues": {":p": {"S": shard}},
            "ConsistentRead": True,
            **extra,
        }
        for shard in month_shards(period)
    ]


class _Received:
    """Messages of one ReceiveMessage, deleted once the last of their batches is written."""

    def __init__(self, messages: list[dict[str, Any]], chunks: int) -> None:
        self.messages = messages
        self._left = chunks
        self._lock = threading.Lock()

    def done_one(self) -> bool:
        with self._lock:
            self._left -= 1
            return self._left == 0


class _Run:
    """The clients and counters of one ceiling run."""

    def __init__(self, names: Names, payloads: Payloads, loaders: int) -> None:
        self.names = names
        self.p = payloads
        self.loaders = loaders
        self.calls = _Calls()
        self.s3 = clients.client("s3")
        self.sqs = clients.client("sqs")
        self.ddb = clients.client("dynamodb")
        # The loaders' own client settings (one attempt, no client-side request checks).
        self.writes = clients.batch_write_client()
        self.failures: list[str] = []

    def get_files(self) -> None:
        def get(f: SourceFile) -> int:
            self.calls("S3.GetObject")
            body = self.s3.get_object(Bucket=self.names.bucket, Key=f.key, IfMatch=f.etag)["Body"]
            return len(body.read())

        _in_threads(get, self.p.files, _TUNING.files_in_parallel)

    def files(self) -> None:
        self.calls("S3.ListObjectsV2")
        self.s3.list_objects_v2(
            Bucket=self.names.bucket,
            Prefix=s3_layout.month_prefix(self.names.prefix, self.p.period),
        )
        self.get_files()

    def plan(self) -> None:
        names = {"#a0": "statement_id", "#a1": "source_key", "#a2": "source_etag"}
        queries = _shard_queries(
            self.names.table, self.p.period, names=names, ProjectionExpression=", ".join(names)
        )
        _in_threads(
            lambda q: sum(len(pg["Items"]) for pg in _query_all(self.ddb, self.calls, q)),
            queries,
            QUERY_THREADS,
        )
        self.calls("S3.ListObjectsV2")
        self.s3.list_objects_v2(
            Bucket=self.names.bucket, Prefix=s3_layout.rejects_prefix(self.p.period)
        )

    def queue_url(self, name: str) -> str:
        self.calls("SQS.GetQueueUrl")
        return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def send(self) -> None:
        url = self.queue_url(self.names.queue)
        self.get_files()

        def send_file(f: SourceFile) -> None:
            for batch in f.batches:
                self.calls("SQS.SendMessageBatch")
                resp = self.sqs.send_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch)],
                )
                if resp.get("Failed"):
                    self.failures.append(f"{len(resp['Failed'])} messages not sent")

        _in_threads(send_file, self.p.files, _TUNING.files_in_parallel)

    def write(self, items: list[Item]) -> None:
        for start in range(0, len(items), MAX_BATCH_WRITE):
            pending = [{"PutRequest": {"Item": i}} for i in items[start : start + MAX_BATCH_WRITE]]
            while pending:
                self.calls("DynamoDB.BatchWriteItem")
                resp = self.writes.batch_write_item(
                    RequestItems={self.names.table: pending}, ReturnConsumedCapacity="TOTAL"
                )
                pending = resp.get("UnprocessedItems", {}).get(self.names.table, [])

    def depth(self, url: str) -> int:
        self.calls("SQS.GetQueueAttributes")
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())

    def heads(self) -> None:
        for f in self.p.files:
            self.calls("S3.HeadObject")
            self.s3.head_object(Bucket=self.names.bucket, Key=f.key)

    def load(self) -> None:
        """Receive every message; 4 writers share the month's 25-item batches evenly."""
        url = self.queue_url(self.names.queue)
        self.queue_url(f"{self.names.queue}-dlq")
        self.calls("DynamoDB.DescribeTable")
        self.ddb.describe_table(TableName=self.names.table)
        chunks: queue.Queue[tuple[list[Item], _Received] | None] = queue.Queue()

        def writer(_: int) -> None:
            while (task := chunks.get()) is not None:
                items, received = task
                self.write(items)
                if received.done_one():
                    self.delete(url, received.messages)

        expected = sum(len(batch) for f in self.p.files for batch in f.batches)
        with ThreadPoolExecutor(max_workers=self.loaders) as pool:
            writers = [pool.submit(writer, i) for i in range(self.loaders)]
            got = 0
            while got < expected:
                # The import's request, without its 1 s long poll: the ceiling never waits.
                self.calls("SQS.ReceiveMessage")
                messages = self.sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=_TUNING.messages_per_receive,
                    VisibilityTimeout=_TUNING.visibility_timeout_seconds,
                    WaitTimeSeconds=0,
                ).get("Messages", [])
                got += len(messages)
                tasks = [
                    items[i : i + MAX_BATCH_WRITE]
                    for m in messages
                    for items in [self.p.items_by_md5[m["MD5OfBody"]]]
                    for i in range(0, len(items), MAX_BATCH_WRITE)
                ]
                received = _Received(messages, len(tasks))
                for task in tasks:
                    chunks.put((task, received))
            for _ in writers:
                chunks.put(None)
            for future in writers:
                future.result()
        self.depth(url)
        self.heads()

    def delete(self, url: str, messages: list[dict[str, Any]]) -> None:
        self.calls("SQS.DeleteMessageBatch")
        self.sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )

    def read(self) -> int:
        self.heads()
        return sum(
            _in_threads(
                lambda q: sum(len(pg["Items"]) for pg in _query_all(self.ddb, self.calls, q)),
                _shard_queries(self.names.table, self.p.period),
                QUERY_THREADS,
            )
        )

    def check(self) -> int:
        counted = sum(
            _in_threads(
                lambda q: sum(int(pg["Count"]) for pg in _query_all(self.ddb, self.calls, q)),
                _shard_queries(self.names.table, self.p.period, Select="COUNT"),
                QUERY_THREADS,
            )
        )
        self.depth(self.queue_url(self.names.queue))
        self.calls("SQS.ReceiveMessage")
        self.sqs.receive_message(
            QueueUrl=self.queue_url(f"{self.names.queue}-dlq"), MaxNumberOfMessages=10
        )
        return counted


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(
    names: Names,
    payloads: Payloads,
    *,
    loaders: int | None = None,
    emulator_cpu: Callable[[], float] | None = None,
) -> CeilingResult:
    """Make the import's calls for the month (its files already uploaded) and time each stage."""
    r = _Run(names, payloads, loaders or _TUNING.loaders)
    stages: dict[str, float] = {}
    client_cpu: dict[str, float] = {}
    cpu = emulator_cpu() if emulator_cpu else None
    started = time.monotonic()
    stored = 0
    for stage in STAGES:
        stage_started = time.monotonic()
        stage_cpu = _own_cpu()
        value = getattr(r, stage)()
        stages[stage] = round(time.monotonic() - stage_started, 3)
        client_cpu[stage] = round(_own_cpu() - stage_cpu, 3)
        if stage == "read":
            stored = int(value)
        elif stage == "check" and value != stored:
            r.failures.append(f"counted {value}, read {stored}")
    seconds = time.monotonic() - started
    return CeilingResult(
        seconds=round(seconds, 3),
        stages=stages,
        client_cpu=client_cpu,
        calls=r.calls.counts,
        items=payloads.items,
        stored=stored,
        emulator_cpu_s=round(emulator_cpu() - cpu, 2) if emulator_cpu and cpu is not None else None,
        failures=r.failures,
    )


def describe(result: CeilingResult) -> str:
    stages = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in result.stages.items())
    return f"ceiling {result.seconds:.2f}s ({stages}); {sum(result.calls.values())} calls"
