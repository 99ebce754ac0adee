"""Metadata shared by an asset and its checks: the month's rejects, at a glance in the UI."""

from collections.abc import Mapping

import dagster as dg

_REASONS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("reason", "string", description="The rule the row broke (never a value)."),
        dg.TableColumn("rows", "int", description="Rejected rows of the month for this reason."),
    ]
)


def rejects_metadata(
    reasons: Mapping[str, int], urls: Mapping[str, str]
) -> dict[str, dg.MetadataValue]:
    """A table of reject reasons with counts, and a link to each file's rejects object."""
    if not reasons and not urls:
        return {}
    metadata: dict[str, dg.MetadataValue] = {
        "reject_reasons": dg.MetadataValue.table(
            records=[dg.TableRecord({"reason": r, "rows": n}) for r, n in reasons.items()],
            schema=_REASONS_SCHEMA,
        )
    }
    for key, url in urls.items():
        metadata[f"rejects_object[{key}]"] = dg.MetadataValue.url(url)
    return metadata
