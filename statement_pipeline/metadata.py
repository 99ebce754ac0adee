"""Metadata the assets and checks share: detail tables, and links a browser opens.

A materialization keeps few numbers (each is a chart in the UI's Plots tab); the detail per
loader op and per file is a table each, and every S3 object gets a link a browser opens (the
S3 console on AWS, the object itself on a local emulator) with its `s3://` URL beside it.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

Columns = Sequence[tuple[str, str, str]]

LOADER_COLUMNS: Columns = (
    ("op", "int", "Loader op of this run."),
    ("host", "string", "Machine the op ran on."),
    ("pid", "int", "Process the op ran in."),
    ("workers", "int", "Loader threads of the op."),
    ("seconds", "float", "How long the op worked."),
    ("items", "int", "Items it wrote, of any month (the queue is shared by every month)."),
    ("items_this_month", "int", "Items of this month it wrote."),
    ("items_other_months", "int", "Items of other months it wrote."),
    ("other_months", "string", "Which other months, with their items."),
    ("messages", "int", "SQS messages it received."),
    ("write_calls", "int", "BatchWriteItem calls."),
    ("throttled_calls", "int", "BatchWriteItem calls the table refused in part or whole."),
    ("units_reported", "float", "Write units DynamoDB reported consumed (moto fakes this)."),
    ("rate_cuts", "int", "Times the write budget cut its rate after a throttle."),
    ("settled", "bool", "Whether its budget settled at the op's share of the table's rate."),
    ("ending_rate", "string", "The budget's rate when the op ended."),
    ("poison", "int", "Poison messages it moved to the DLQ."),
    ("superseded", "int", "Messages of replaced file versions it skipped."),
    ("failed_messages", "int", "Messages left for redelivery with records unwritten."),
    ("api_calls", "int", "All its AWS calls."),
)

FILE_COLUMNS: Columns = (
    ("file", "string", "The statement file's key."),
    ("rows", "int", "Data rows read (blank lines not counted)."),
    ("loaded", "int", "Rows that are the month's statements."),
    ("rejected", "int", "Rows rejected (see the rejects object)."),
    ("duplicates", "int", "Identical repeats of rows loaded from other lines."),
    ("enqueued", "int", "Records this import sent to the queue."),
    ("written", "bool", "Whether this import wrote the file's rows."),
    ("why", "string", "Why it was written or not."),
    ("bytes", "int", "Size of the file version read."),
    ("source", "string", "The file's s3:// URL."),
)

READ_COLUMNS: Columns = (
    ("read", "string", "Which read of the month: before writing, or the proof after loading."),
    ("items", "int", "Items of the month it read."),
    ("consistent", "bool", "Strongly consistent (a proof) or eventually consistent."),
    ("query_calls", "int", "Query pages it took."),
    ("throttled_calls", "int", "Query pages the table refused (asked again, paced)."),
    ("consumed_rcu", "float", "Read units DynamoDB reported consumed (moto reports none)."),
    ("seconds", "float", "From its first Query to its last page."),
)

_REASON_COLUMNS: Columns = (
    ("reason", "string", "The rule the row broke (never a value)."),
    ("rows", "int", "Rejected rows of the month for this reason."),
)

_OBJECT_COLUMNS: Columns = (
    ("file", "string", "The statement file whose rows were rejected."),
    ("rejects_object", "string", "The rejects object's s3:// URL."),
    ("link", "string", "Where a browser opens it (also a link entry of its own)."),
)


def table(rows: Sequence[Mapping[str, Any]], columns: Columns) -> dg.TableMetadataValue:
    """A metadata table whose records hold exactly the given columns."""
    names = [name for name, _, _ in columns]
    for row in rows:
        if list(row) != names:
            raise ValueError(f"table row has columns {list(row)}, expected {names}")
    return dg.MetadataValue.table(
        records=[dg.TableRecord(dict(row)) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(n, t, description=d) for n, t, d in columns]),
    )


def links(prefix: str, urls: Mapping[str, str]) -> dict[str, dg.MetadataValue]:
    """One link entry per object: `<prefix>[<file>]`."""
    return {f"{prefix}[{name}]": dg.MetadataValue.url(url) for name, url in urls.items()}


def rejects_metadata(
    reasons: Mapping[str, int], s3_urls: Mapping[str, str], browser_urls: Mapping[str, str]
) -> dict[str, dg.MetadataValue]:
    """Reject reasons with counts; each file's rejects object as a link, its s3:// URL beside."""
    if not reasons and not s3_urls:
        return {}
    return {
        "reject_reasons": table(
            [{"reason": r, "rows": n} for r, n in reasons.items()], _REASON_COLUMNS
        ),
        "rejects_objects": table(
            [
                {"file": key, "rejects_object": url, "link": browser_urls[key]}
                for key, url in s3_urls.items()
            ],
            _OBJECT_COLUMNS,
        ),
        **links("rejects_object", browser_urls),
    }
