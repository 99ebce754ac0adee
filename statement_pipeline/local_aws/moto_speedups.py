"""Fixes for the embedded local AWS: moto's answers, without its quadratic costs.

moto 5 spends time that grows with the square of the data in two places this pipeline uses:

- DynamoDB `Query` sorts every item of the table on every call, then walks the partition to
  the page's ExclusiveStartKey: 233,000 statements (77 pages) took over ten minutes to count.
  For the plain case (key equality on the table itself: no index, no sort key condition, no
  legacy QueryFilter) the page is taken from the partition's items sorted once, kept until the
  table's next write, and found by bisection, built exactly as moto builds it (Limit, 1 MB
  pages, LastEvaluatedKey, ScanIndexForward, FilterExpression, projection); every other
  query runs moto's own code.
- SQS `ReceiveMessage` computes all of the queue's attributes, each a pass over the queue, to
  check each message's retention period: it is read directly instead; moto's SQS clock is
  read from `time.time()`, 10x cheaper than through datetimes.
- Files of their own: `moto_pages.py` (responses serialized without moto's value-by-value
  serializer), `moto_capacity.py` (a Query page reports the read units DynamoDB charges) and
  `moto_receive.py` (a received SQS message goes to one receiver only, as on SQS).

Importing this module changes nothing; `install()` patches moto in the current process, and
running this file as a script runs a moto server with the fixes (standard library and moto
only, so the server starts without Dagster).
"""

from __future__ import annotations

import os
import sys
import time
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

if __package__:
    from statement_pipeline.local_aws import moto_capacity, moto_pages, moto_receive, persistence
else:
    # Run as a script (see the end): the sibling files are imported while this folder is still
    # on sys.path; they import nothing but the standard library until they touch moto.
    import moto_capacity  # type: ignore[no-redef]
    import moto_pages  # type: ignore[no-redef]
    import moto_receive  # type: ignore[no-redef]
    import persistence  # type: ignore[no-redef]

# The shapes of the moto methods this module replaces; any other shape (a moto upgrade) leaves
# that method alone rather than guessing.
_QUERY_PARAMETERS = (
    "self",
    "hash_key",
    "range_comparison",
    "range_objs",
    "limit",
    "exclusive_start_key",
    "scan_index_forward",
    "projection_expressions",
    "index_name",
    "consistent_read",
    "filter_expression",
    "hash_key_conditions",
    "range_key_conditions",
    "filter_kwargs",
)
_RETENTION_PARAMETERS = ("self", "queue_name", "message")
_MARK = moto_pages.MARK
_shape = moto_pages.shape
_VERSION = "_statement_pipeline_writes"
_CACHE = "_statement_pipeline_sorted"
_NOT_PLAIN = object()
T = TypeVar("T")


def install(only: Collection[str] | None = None) -> list[str]:
    """Patch moto in this process (only the fixes named in `only`, if given); returns the fixes
    applied (none if moto's code differs)."""
    fixes = (
        ("query", _fix_query),
        ("retention", _fix_retention),
        ("clock", _fix_sqs_clock),
        ("responses", moto_pages.fix_responses),
        ("capacity", moto_capacity.fix_query_capacity),
        (moto_receive.NAME, moto_receive.fix_sqs_receive),
    )
    return [name for name, fix in fixes if (only is None or name in only) and fix()]


def _order(value: Any) -> Any:
    """A sort key value as a plain Python value (moto compares `cast_value`: the same order)."""
    return value.value if value.type == "S" else value.cast_value


def _bump(table: Any) -> None:
    table.__dict__[_VERSION] = table.__dict__.get(_VERSION, 0) + 1


def _sorted_partition(table: Any, hash_key: Any) -> tuple[list[Any], list[tuple[Any, int]]]:
    """(sort key values, (item, size)) of one partition in sort key order, cached until a write
    (moto's `Item.size()` walks every value: once per item, not once per page it is read by)."""
    partition = table.items.get(hash_key)
    if not partition:
        return [], []
    version = table.__dict__.get(_VERSION, 0)
    cache = table.__dict__.setdefault(_CACHE, {})
    hit = cache.get(hash_key)
    if hit is not None and hit[0] == version and hit[1] is partition:
        return hit[2], hit[3]
    pairs = sorted(
        ((_order(range_key), item) for range_key, item in partition.items()),
        key=lambda pair: pair[0],
    )
    orders = [pair[0] for pair in pairs]
    items = [(pair[1], moto_pages.item_size(pair[1])) for pair in pairs]
    cache[hash_key] = (version, partition, orders, items)
    return orders, items


def _plain_start(table: Any, hash_key: Any, start_key: dict[str, Any] | None, dynamo: Any) -> Any:
    """The ExclusiveStartKey's sort key value, None without one, or _NOT_PLAIN."""
    if start_key is None:
        return None
    start_hash = start_key.get(table.hash_key_attr)
    start_range = start_key.get(table.range_key_attr)
    if start_hash is None or start_range is None or dynamo(start_hash) != hash_key:
        return _NOT_PLAIN
    return _order(dynamo(start_range))


def _after(orders: list[Any], items: list[T], start: Any, forward: bool) -> Iterator[T]:
    """The partition's items strictly after `start` in query order (all of them if None)."""
    if forward:
        first = 0 if start is None else bisect_right(orders, start)
        yield from items[first:]
    else:
        stop = len(orders) if start is None else bisect_left(orders, start)
        for index in range(stop - 1, -1, -1):
            yield items[index]


def _fix_query() -> bool:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table

    if getattr(Table.query, _MARK, False):
        return True
    if _shape(Table.query) != _QUERY_PARAMETERS:
        return False
    moto_query = Table.query
    moto_put = Table.put_item
    moto_delete = Table.delete_item
    moto_update = DynamoDBBackend.update_item

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return moto_put(self, *args, **kwargs)
        finally:
            _bump(self)

    def delete_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return moto_delete(self, *args, **kwargs)
        finally:
            _bump(self)

    def update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        # UpdateItem changes the stored item in place: its cached size goes with the write.
        try:
            return moto_update(self, table_name, *args, **kwargs)
        finally:
            if table_name in self.tables:
                _bump(self.tables[table_name])

    def query(
        self: Any,
        hash_key: Any,
        range_comparison: str | None,
        range_objs: list[Any],
        limit: int | None,
        exclusive_start_key: dict[str, Any] | None,
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: Sequence[Any] | None = None,
        range_key_conditions: Sequence[Any] | None = None,
        **filter_kwargs: Any,
    ) -> tuple[list[Any], int, dict[str, Any] | None]:
        start = _plain_start(self, hash_key, exclusive_start_key, DynamoType)
        if (
            index_name
            or range_comparison
            or range_key_conditions
            or filter_kwargs
            or hash_key is None
            or self.range_key_attr is None
            or start is _NOT_PLAIN
        ):
            return moto_query(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )
        orders, items = _sorted_partition(self, hash_key)
        results: list[Any] = []
        size = 0
        last_key = None
        for item, item_size in _after(orders, items, start, scan_index_forward is not False):
            if len(results) == limit or size + item_size > RESULT_SIZE_LIMIT:
                last_key = self._get_last_evaluated_key(results[-1], None)
                break
            results.append(item)
            size += item_size
        scanned = len(results)
        moto_capacity.note_page(size)
        # moto deep-copies the page here; the page's items are only read from now on
        # (counted, filtered, projected into new items or serialised), so they are not.
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expressions:
            names = moto_pages.top_level_names(projection_expressions)
            results = [
                moto_pages.project(item, names)
                if names is not None
                else item.project(projection_expressions)
                for item in results
            ]
        return results, scanned, last_key

    setattr(query, _MARK, True)
    Table.query = query
    Table.put_item = put_item
    Table.delete_item = delete_item
    DynamoDBBackend.update_item = update_item
    return True


def _fix_retention() -> bool:
    from moto.sqs import models

    moto_check = models.SQSBackend.is_message_valid_based_on_retention_period
    if getattr(moto_check, _MARK, False):
        return True
    if _shape(moto_check) != _RETENTION_PARAMETERS:
        return False

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        retention = getattr(self.get_queue(queue_name), "message_retention_period", None)
        if not isinstance(retention, int):
            return bool(moto_check(self, queue_name, message))
        # moto's own comparison, with the retention period read rather than recomputed.
        return bool(retention + message.sent_timestamp / 1000 > models.unix_time())

    setattr(is_message_valid_based_on_retention_period, _MARK, True)
    models.SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )
    return True


def _fix_sqs_clock() -> bool:
    from moto.sqs import models

    if getattr(models.unix_time, _MARK, False):
        return True
    if _shape(models.unix_time) != ("dt",) or _shape(models.unix_time_millis) != ("dt",):
        return False
    moto_unix_time = models.unix_time

    def unix_time(dt: Any = None) -> float:
        # moto's value for "now" is this same instant, computed through datetime objects.
        return time.time() if dt is None else float(moto_unix_time(dt))

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    setattr(unix_time, _MARK, True)
    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis
    return True


# The moto release these fixes were checked against (pyproject pins it); on any other the
# server still starts, as plain moto, with a warning.
CHECKED_MOTO_VERSION = "5.2.5"
ALL_FIXES = ("query", "retention", "clock", "responses", "capacity", moto_receive.NAME)


def _option(args: list[str], flag: str) -> str | None:
    """The value of `flag` in `args`, both taken out of them (None if absent)."""
    if flag not in args:
        return None
    at = args.index(flag)
    del args[at]
    return args.pop(at)


def main(argv: Sequence[str] | None = None) -> None:
    """Run moto's server (`python -m moto.server`'s arguments) with the fixes; `--state-file
    PATH` keeps its contents in PATH across a stop and a start (`persistence.py`), and
    `--only NAME[,NAME...]` applies only the fixes named."""
    import moto
    from moto import server

    args = list(argv if argv is not None else sys.argv[1:])
    keep, only = _option(args, "--state-file"), _option(args, "--only")
    state_file = Path(keep) if keep else None
    wanted = tuple(only.split(",")) if only else None
    if moto.__version__ != CHECKED_MOTO_VERSION:
        print(
            f"warning: moto {moto.__version__} is not {CHECKED_MOTO_VERSION}, the version the "
            "local AWS speed-ups were checked against: running plain moto (slower at scale)",
            file=sys.stderr,
        )
    else:
        missing = sorted(set(wanted or ALL_FIXES) - set(install(wanted)))
        if missing:
            print(
                f"warning: moto's code differs; speed-ups not applied: {missing}", file=sys.stderr
            )
    if state_file is None:
        server.main(args)
        return
    if persistence.load(state_file):
        print(f"local AWS: contents loaded from {state_file}", file=sys.stderr)
    try:
        # moto's server turns SIGTERM and SIGINT into SystemExit, which ends up here.
        server.main(args)
    finally:
        persistence.save(state_file)
        print(f"local AWS: contents saved to {state_file}", file=sys.stderr)


if __name__ == "__main__":
    # Run as a script (not `-m`, which would import the statement_pipeline package and Dagster
    # with it); its own folder must not shadow top-level modules in the server.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    main()
