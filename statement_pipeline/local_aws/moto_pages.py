"""The local AWS's fourth fix (moto_speedups.py has the others): fast DynamoDB item pages.

moto 5.2 turns every answer into JSON through a serializer driven by the service model, which
looks up every attribute value of every item by several aliases: reading a month back whole
(the finish step) took 50 times as long as counting it. Items of plain values (S, N, BOOL,
NULL, SS, NS) are converted directly, and a Query or Scan answer whose values are all
JSON-native is written with `json.dumps`, with the status and headers moto's serializer gives
the same answer without items. Anything else still goes through moto.

moto also projects an item (`ProjectionExpression`) by turning the whole item into Python
values and back once per projected name: a re-run's read of four attributes of 23,300 items
cost the emulator 4 s, 20 times what the items' transfer costs. A projection of top-level
names only is taken from the item's own values (`project`); paths into maps and lists still go
through moto.

Standard library only at import: the moto server script imports this file as a sibling.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

# Set on every function or class a fix put in place: installing again is then a no-op.
MARK = "_statement_pipeline_speedup"


def shape(function: Any) -> tuple[str, ...]:
    """The parameter names of a moto function: a fix applies only to the shape it was checked on."""
    return tuple(inspect.signature(function).parameters)


PLAIN_KINDS = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS"})


def fix_responses() -> bool:
    from moto.dynamodb import responses
    from moto.dynamodb.models.dynamo_type import DynamoType

    moto_convert = responses.dynamo_to_dict
    if getattr(moto_convert, MARK, False):
        return True
    if shape(moto_convert) != ("obj",):
        return False

    def dynamo_to_dict(obj: Any) -> Any:
        kind = type(obj)
        # An item's attributes are moto's LimitedSizeDict, a dict: its values are converted here.
        if kind is dict or isinstance(obj, dict):
            return {key: dynamo_to_dict(value) for key, value in obj.items()}
        if kind is list:
            return [dynamo_to_dict(value) for value in obj]
        if kind is DynamoType and obj.type in PLAIN_KINDS:
            # moto's result for these: {type: value}, the value (str, bool, list of str) as is.
            value = obj.value
            return {obj.type: list(value) if type(value) is list else value}
        if kind is str or kind is int or kind is float or kind is bool or obj is None:
            return obj
        return moto_convert(obj)

    setattr(dynamo_to_dict, MARK, True)
    responses.dynamo_to_dict = dynamo_to_dict
    return _fix_item_pages(responses)


def _refuse(value: Any) -> Any:
    raise TypeError(f"not JSON-native: {type(value).__name__}")


def _fix_item_pages(responses: Any) -> bool:
    moto_result = responses.DynamoResult
    if getattr(moto_result, MARK, False):
        return True
    if shape(moto_result.execute_result) != ("self", "context"):
        return False

    class DynamoResult(moto_result):  # type: ignore[misc, valid-type]
        def execute_result(self, context: Any) -> Any:
            result = self.result
            operation = context.operation_model
            if (
                operation.name in ("Query", "Scan")
                and isinstance(result, dict)
                and result.get("Items")
                and set(result) <= set(operation.output_shape.members)
            ):
                try:
                    # Blobs (bytes) and timestamps need moto's serializer: they refuse here.
                    body = json.dumps(result, default=_refuse)
                except TypeError:
                    return super().execute_result(context)
                status, headers, _ = moto_result({**result, "Items": []}).execute_result(context)
                return status, headers, body
            return super().execute_result(context)

    setattr(DynamoResult, MARK, True)
    responses.DynamoResult = DynamoResult
    return True


def top_level_names(expressions: list[list[str]]) -> list[str] | None:
    """The names of a projection of top-level attributes only; None when a path goes into a
    map or a list (moto's own `Item.project` handles those)."""
    if any(len(path) != 1 or "[" in path[0] for path in expressions):
        return None
    return [path[0] for path in expressions]


def project(item: Any, names: list[str]) -> Any:
    """`item` with only the top-level `names`, as moto's `Item.project` returns it (a name the
    item lacks is left out)."""
    projected = type(item)(hash_key=item.hash_key, range_key=item.range_key, attrs={})
    # The values are shared, not copied: a page's items are only read (serialised) from here,
    # and dict.update skips the size check moto makes per attribute (the item passed it).
    dict.update(projected.attrs, {name: item.attrs[name] for name in names if name in item.attrs})
    return projected


def item_size(item: Any) -> int:
    """moto's `Item.size()` (name bytes plus value sizes), computed directly for S and N values."""
    size = 0
    for name, value in item.attrs.items():
        kind = value.type
        if kind == "S":
            size += len(name.encode()) + len(value.value.encode())
        elif kind == "N":
            # moto sizes a number by its text, as stored.
            size += len(name.encode()) + len(str(value.value))
        else:
            size += len(name.encode()) + value.size()
    return size
