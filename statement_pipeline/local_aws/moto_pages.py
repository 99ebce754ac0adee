"""The local AWS's fourth fix (moto_speedups.py has the others): fast DynamoDB item pages.

moto 5.2 turns every answer into JSON through a serializer driven by the service model, which
looks up every attribute value of every item by several aliases: reading a month back whole
(the finish step) took 50 times as long as counting it. Items of plain values (S, N, BOOL,
NULL, SS, NS) are converted directly, and a Query or Scan answer whose values are all
JSON-native is written with `json.dumps`, with the status and headers moto's serializer gives
the same answer without items. Anything else still goes through moto.

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
        if kind is dict:
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
