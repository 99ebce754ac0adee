"""What the asset catalog shows of every asset of the import: group, kinds, owner, description."""

from collections.abc import Callable, Set
from typing import Any

import dagster as dg

from statement_pipeline.partitions import monthly_partitions

# The data team that runs the monthly import and answers for its figures (owners are user
# emails or `team:<name>`; the catalog filters and groups assets by them).
OWNERS = ["team:data-engineering"]


def month_asset(
    kinds: Set[str], description: str
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """A monthly-partitioned graph asset of the `statements` group, as the catalog lists it."""
    return dg.graph_asset(
        partitions_def=monthly_partitions,
        group_name="statements",
        kinds=set(kinds),
        owners=OWNERS,
        description=description,
    )
