"""Batch writes, sends and deletes under partial failures (fake clients: moto never fails)."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from statement_pipeline.aws.queue import SendFailed, delete_messages, send_messages
from statement_pipeline.aws.queue_drainer import Drainer, DrainSettings
from statement_pipeline.aws.s3_files import SourceVersions
from statement_pipeline.aws.table import BatchWriter
from statement_pipeline.rules.backoff import Backoff
from statement_pipeline.rules.month_progress import MonthProgress
from statement_pipeline.rules.write_budget import WriteBudget

NO_SLEEP = Backoff(base=0.0, cap=0.0, max_attempts=6, sleep=lambda _s: None)


def _budget() -> WriteBudget:
    """A budget that adapts but never sleeps: these tests are about what gets written."""
    return WriteBudget(floor=None, sleep=lambda _s: None)


def _item(i: int) -> dict[str, dict[str, str]]:
    return {"period": {"S": "2026-10"}, "statement_id": {"S": f"S{i}"}, "x": {"N": str(i)}}


class FlakyTable:
    """BatchWriteItem that leaves odd-numbered items unprocessed on its first answers."""

    def __init__(self, unprocessed_rounds: int, throttles: int = 0) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.rounds = unprocessed_rounds
        self.throttles = throttles
        self.calls = 0

    def batch_write_item(self, RequestItems: dict, ReturnConsumedCapacity: str) -> dict:
        self.calls += 1
        if self.throttles:
            self.throttles -= 1
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "BatchWriteItem",
            )
        ((table, requests),) = RequestItems.items()
        assert len(requests) <= 25
        left = []
        for request in requests:
            item = request["PutRequest"]["Item"]
            if self.rounds and int(item["statement_id"]["S"][1:]) % 2:
                left.append(request)
            else:
                self.stored[item["statement_id"]["S"]] = item
        if self.rounds:
            self.rounds -= 1
        return {
            "UnprocessedItems": {table: left} if left else {},
            "ConsumedCapacity": [{"TableName": table, "CapacityUnits": len(requests) - len(left)}],
        }


def test_unprocessed_items_are_retried_until_written() -> None:
    table = FlakyTable(unprocessed_rounds=3)
    writer = BatchWriter(table, "t", _budget(), NO_SLEEP)
    assert writer.write([_item(i) for i in range(60)]) == []
    assert sorted(table.stored) == sorted(f"S{i}" for i in range(60))
    assert writer.counters.items == 60
    assert writer.counters.throttled_calls >= 1
    assert writer.counters.units_reported == 60


def test_throttling_beyond_botocore_is_absorbed() -> None:
    table = FlakyTable(unprocessed_rounds=0, throttles=4)
    writer = BatchWriter(table, "t", _budget(), NO_SLEEP)
    assert writer.write([_item(i) for i in range(10)]) == []
    assert len(table.stored) == 10
    assert writer.counters.throttled_calls == 4


def test_items_still_unwritten_are_returned_not_dropped() -> None:
    table = FlakyTable(unprocessed_rounds=100)
    writer = BatchWriter(table, "t", _budget(), NO_SLEEP)
    left = writer.write([_item(i) for i in range(4)])
    assert [i["statement_id"]["S"] for i in left] == ["S1", "S3"]
    assert sorted(table.stored) == ["S0", "S2"]


def test_other_errors_are_not_retried() -> None:
    class Denied:
        calls = 0

        def batch_write_item(self, **_kw: Any) -> dict:
            self.calls += 1
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "BatchWriteItem"
            )

    denied = Denied()
    with pytest.raises(ClientError, match="AccessDenied"):
        BatchWriter(denied, "t", _budget(), NO_SLEEP).write([_item(1)])
    assert denied.calls == 1


class FlakyQueue:
    """SendMessageBatch/DeleteMessageBatch that fail some entries on the first answers."""

    def __init__(self, failing_rounds: int, sender_fault: bool = False) -> None:
        self.sent: list[str] = []
        self.deleted: list[str] = []
        self.rounds = failing_rounds
        self.sender_fault = sender_fault
        self.batches: list[int] = []

    def _answer(self, entries: list[dict], keep: list[str], field: str) -> dict:
        ok, failed = [], []
        for index, entry in enumerate(entries):
            if self.rounds and index == 0:
                failed.append(
                    {"Id": entry["Id"], "SenderFault": self.sender_fault, "Code": "InternalError"}
                )
            else:
                keep.append(entry[field])
                ok.append({"Id": entry["Id"]})
        if self.rounds:
            self.rounds -= 1
        return {"Successful": ok, "Failed": failed}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:
        self.batches.append(len(Entries))
        return self._answer(Entries, self.sent, "MessageBody")

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:
        return self._answer(Entries, self.deleted, "ReceiptHandle")


def test_failed_send_entries_are_sent_again_exactly_once() -> None:
    queue = FlakyQueue(failing_rounds=2)
    bodies = [f"m{i}" for i in range(23)]
    stats = send_messages(queue, "url", iter(bodies), NO_SLEEP)
    assert sorted(queue.sent) == sorted(bodies)
    assert stats.messages == 23
    assert stats.retried_entries == 2
    assert max(queue.batches) == 10


def test_send_batches_stay_under_the_byte_limit() -> None:
    queue = FlakyQueue(failing_rounds=0)
    send_messages(queue, "url", iter(["x" * 400] * 10), NO_SLEEP, max_bytes=1000)
    assert queue.batches == [2, 2, 2, 2, 2]


def test_sender_faults_fail_loudly() -> None:
    with pytest.raises(SendFailed, match="refused"):
        send_messages(FlakyQueue(failing_rounds=1, sender_fault=True), "url", iter(["a"]), NO_SLEEP)


def test_failed_deletes_are_retried() -> None:
    queue = FlakyQueue(failing_rounds=3)
    stats = delete_messages(queue, "url", [f"r{i}" for i in range(12)], NO_SLEEP)
    assert sorted(queue.deleted) == sorted(f"r{i}" for i in range(12))
    assert stats.deleted == 12
    assert stats.failed == []


class QuietQueue:
    """Nothing visible; `out_of_sight` messages in flight (held by some worker)."""

    def __init__(self, out_of_sight: int) -> None:
        self.out_of_sight = out_of_sight

    def receive_message(self, **_: Any) -> dict:
        return {"Messages": []}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict:
        in_flight = str(self.out_of_sight)
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": "0",
                "ApproximateNumberOfMessagesNotVisible": in_flight,
                "ApproximateNumberOfMessagesDelayed": "0",
            }
        }


def _idle_worker(out_of_sight: int, held: int, month_reads: list[int]) -> Drainer:
    """A worker that finds nothing to receive while its op's others hold `held` messages."""
    progress = MonthProgress("2026-10", 100, {"a.csv": '"e"'})
    progress.hold_messages(held)

    def month_complete() -> bool:
        month_reads.append(1)
        return True

    return Drainer(
        sqs=QuietQueue(out_of_sight),
        queue_url="q",
        dlq_url="dlq",
        writer=BatchWriter(FlakyTable(0), "t", _budget(), NO_SLEEP),
        sources=SourceVersions(None, "bucket"),
        month_complete=month_complete,
        settings=DrainSettings(wait_seconds=0, complete_check_seconds=0, poll_pause_seconds=0),
        backoff=NO_SLEEP,
        progress=progress,
    )


def test_a_worker_leaves_without_reading_the_month_when_its_op_holds_what_is_in_flight() -> None:
    month_reads: list[int] = []
    _idle_worker(out_of_sight=3, held=3, month_reads=month_reads).drain()
    assert month_reads == []


def test_messages_held_elsewhere_make_an_idle_worker_read_the_month() -> None:
    """Another run (or a dead one) holds messages: only the table can say the month is done."""
    month_reads: list[int] = []
    _idle_worker(out_of_sight=3, held=1, month_reads=month_reads).drain()
    assert month_reads == [1]
