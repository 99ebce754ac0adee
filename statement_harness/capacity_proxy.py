# Over 350 lines: ten DynamoDB operations each need their own request and reply rewriting.
"""An HTTP proxy that puts the DynamoDB capacity model (capacity_model.py) in front of moto.

Point only DynamoDB at it (AWS_ENDPOINT_URL_DYNAMODB=proxy.endpoint); everything else it would
forward unchanged. It builds on `FaultProxy` (same server, forwarding and fault rules for the
operations it does not model) and handles these DynamoDB operations, found by their
`X-Amz-Target: DynamoDB_20120810.<Op>` header:

- BatchWriteItem: the model decides item by item; only accepted requests go to moto, the
  rejected ones are added to UnprocessedItems, and a call with nothing accepted fails whole
  (API_BatchWriteItem.html). PutItem, DeleteItem, UpdateItem: all or nothing.
- GetItem, BatchGetItem, Query, Scan: throttled while the table's or partition's read bucket
  is in debt, else forwarded and charged from the answer.
- DescribeTable: learns the table's true capacity and key, and under time compression shows
  clients the compressed provisioned throughput (x k). Create/DeleteTable invalidate. While an
  UpdateTable is pending it shows the table UPDATING with its old capacity, and always the
  model's NumberOfDecreasesToday / LastDecreaseDateTime.
- UpdateTable (throughput or billing mode): decided by the model (table_updates.py): refused
  as DynamoDB would, or forwarded to moto and UPDATING for the model's `updating_seconds`
  (AWS seconds, so compressed by k), the old rate kept until it applies. Throughput asked for
  under compression is divided by k, as DescribeTable multiplied it.
- ConsumedCapacity, when asked for, is the model's, not moto's.

moto does not check SigV4 signatures strictly, so a rewritten body is forwarded with the
client's original headers (as FaultProxy does for partial batches). Error messages name the
table and the limit, never key values (they may be customer data).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from statement_harness.capacity_model import (
    Burst,
    CapacityModel,
    CapacityStats,
    Clock,
    TableCapacity,
    Throttle,
    WriteItem,
    attribute_value_size,
    item_size,
    key_value,
    read_units,
    write_units,
)
from statement_harness.faultproxy import (
    _JSON_ERROR_TYPES,
    FaultProxy,
    _identify,
    _json_reply,
    _Reply,
)
from statement_harness.table_updates import UpdateRefused

Headers = list[tuple[str, str]]
_WANT_CAPACITY = ("TOTAL", "INDEXES")
# `name = :value` or `:value = name` in a KeyConditionExpression.
_EQUALS = re.compile(r"([#\w.]+)\s*=\s*(:\w+)|(:\w+)\s*=\s*([#\w.]+)")


def _retarget(headers: Headers, operation: str) -> Headers:
    """The client's headers (its credential scope picks moto's region) for another operation."""
    return [
        (k, f"DynamoDB_20120810.{operation}" if k.lower() == "x-amz-target" else v)
        for k, v in headers
    ]


# What a request may ask for that narrows the answer without narrowing the charge.
_NARROWING = ("ProjectionExpression", "AttributesToGet", "FilterExpression", "QueryFilter")
_KEPT_FOR_PAGE = (
    "TableName",
    "IndexName",
    "KeyConditions",
    "ExclusiveStartKey",
    "ScanIndexForward",
    "Segment",
    "TotalSegments",
)
_PLACEHOLDER = re.compile(r"[#:]\w+")


def _same_page(request: dict[str, Any], scanned: int) -> dict[str, Any]:
    """The Query or Scan that reads the same `scanned` items whole: no projection, no
    `Select`, no filter, only the names and values its key condition uses."""
    page: dict[str, Any] = {k: request[k] for k in _KEPT_FOR_PAGE if k in request}
    page["Limit"] = scanned
    condition = request.get("KeyConditionExpression")
    if condition:
        used = set(_PLACEHOLDER.findall(condition))
        page["KeyConditionExpression"] = condition
        for field_name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {k: v for k, v in (request.get(field_name) or {}).items() if k in used}
            if kept:
                page[field_name] = kept
    return page


def _query_key(hash_key: str, request: dict[str, Any]) -> str | None:
    """The partition-key value a Query reads (None for an index or an unparsed condition)."""
    if request.get("IndexName"):
        return None
    names = request.get("ExpressionAttributeNames") or {}
    values = request.get("ExpressionAttributeValues") or {}
    for match in _EQUALS.finditer(request.get("KeyConditionExpression") or ""):
        name, ref = match.group(1, 2) if match.group(1) else match.group(4, 3)
        if names.get(name, name) == hash_key and ref in values:
            return key_value(values[ref])
    legacy = (request.get("KeyConditions") or {}).get(hash_key) or {}
    return key_value(legacy["AttributeValueList"][0]) if legacy.get("AttributeValueList") else None


@dataclass(frozen=True)
class _Call:
    """One client request to a modelled operation, its JSON body parsed."""

    operation: str
    method: str
    path: str
    headers: Headers
    body: bytes
    request: dict[str, Any]

    @property
    def table(self) -> str:
        return self.request.get("TableName", "")

    def consistent(self, spec: dict[str, Any] | None = None) -> bool:
        return bool((spec or self.request).get("ConsistentRead"))


_OpHandler = Callable[[_Call], _Reply]


@dataclass(frozen=True)
class ReadCall:
    """One read call the proxy answered: the items it read and what the model charged."""

    operation: str
    table: str
    key: str | None
    consistent: bool
    scanned: int
    units: float
    throttled: bool = False


def _consumed(table: str, units: float, mode: str, kind: str) -> dict[str, Any]:
    """A ConsumedCapacity entry; `kind` is Read or Write."""
    entry: dict[str, Any] = {"TableName": table, "CapacityUnits": units}
    entry[f"{kind}CapacityUnits"] = units
    if mode == "INDEXES":
        entry["Table"] = {"CapacityUnits": units, f"{kind}CapacityUnits": units}
    return entry


class CapacityProxy(FaultProxy):
    """A threaded proxy on 127.0.0.1 (free port) with a `CapacityModel`; a context manager."""

    def __init__(
        self,
        upstream_endpoint: str,
        *,
        k: float = 1.0,
        burst: Burst = "full",
        on_demand_wcu: float = 4000,
        on_demand_rcu: float = 12000,
        clock: Clock = time.monotonic,
        updating_seconds: float = 60.0,
    ) -> None:
        super().__init__(upstream_endpoint)
        self.model = CapacityModel(k=k, burst=burst, clock=clock, updating_seconds=updating_seconds)
        self._on_demand = (on_demand_wcu, on_demand_rcu)
        self._arns: dict[str, str] = {}
        self._known: set[str] = set()  # tables whose DescribeTable is cached in the model
        # Every GetItem, Query and Scan on the wire, in the order answered.
        self.reads: list[ReadCall] = []
        self._known_lock = threading.Lock()
        self._ops: dict[str, _OpHandler] = {
            "BatchWriteItem": self._batch_write,
            "PutItem": self._single_write,
            "DeleteItem": self._single_write,
            "UpdateItem": self._single_write,
            "GetItem": self._read,
            "Query": self._read,
            "Scan": self._read,
            "BatchGetItem": self._batch_get,
            "DescribeTable": self._describe,
            "UpdateTable": self._update,
        }

    def __enter__(self) -> CapacityProxy:
        self.start()
        return self

    def stats(self) -> CapacityStats:
        """A snapshot of the model's counters."""
        return self.model.stats()

    def reset_stats(self) -> None:
        self.model.reset_stats()
        with self._known_lock:
            self.reads.clear()

    def set_burst(self, table: str, burst: Burst) -> None:
        """Fill or empty a table's burst buckets (now, or when the proxy first sees it)."""
        self.model.set_burst(table, burst)

    # --- dispatch and table facts --------------------------------------------------------

    def _handle(self, method: str, path: str, headers: Headers, body: bytes) -> _Reply:
        service, operation = _identify({k.lower(): v for k, v in headers}, method, path)
        handler = self._ops.get(operation) if service == "dynamodb" else None
        if handler is None:  # FaultProxy: its fault rules, else plain forwarding
            reply = super()._handle(method, path, headers, body)
            if service == "dynamodb" and operation in ("CreateTable", "DeleteTable"):
                self._invalidate(json.loads(body or b"{}").get("TableName", ""), operation)
            return reply
        with self._lock:
            self.calls[(service, operation)] += 1
        try:
            return handler(_Call(operation, method, path, headers, body, json.loads(body or b"{}")))
        except (KeyError, ValueError):
            # Malformed, or the table was deleted meanwhile: moto gives the real answer.
            return self._forward(method, path, headers, body)

    def _invalidate(self, table: str, operation: str) -> None:
        """Describe the table again on its next use (after the change, not before it)."""
        with self._known_lock:
            self._known.discard(table)
        self.model.forget(table)

    def _send(self, call: _Call, request: dict[str, Any] | None = None) -> _Reply:
        """Forward the call upstream, with a rewritten request if given."""
        body = call.body if request is None else json.dumps(request).encode()
        return self._forward(call.method, call.path, call.headers, body)

    def _learn(self, name: str, table: dict[str, Any]) -> TableCapacity:
        """Configure the model for `name` (as the client names it: a name or an ARN) from a
        DescribeTable `Table`, with its true, uncompressed values."""
        hash_key = next(
            (k["AttributeName"] for k in table.get("KeySchema", []) if k["KeyType"] == "HASH"), ""
        )
        billing = (table.get("BillingModeSummary") or {}).get("BillingMode")
        throughput = table.get("ProvisionedThroughput") or {}
        wcu = float(throughput.get("WriteCapacityUnits") or 0)
        rcu = float(throughput.get("ReadCapacityUnits") or 0)
        if billing == "PAY_PER_REQUEST" or wcu <= 0:
            cap = TableCapacity.pay_per_request(*self._on_demand, hash_key=hash_key)
        else:
            cap = TableCapacity.provisioned(wcu, max(rcu, 1.0), hash_key=hash_key)
        self.model.configure(name, cap)
        with self._known_lock:
            self._known.add(name)
            self._arns[name] = table.get("TableArn", name)
        return cap

    def _table(self, call: _Call, table: str) -> TableCapacity | None:
        """The table's capacity, from the cache or an upstream DescribeTable (None: no table)."""
        with self._known_lock:
            known = table in self._known
        cap = self.model.capacity(table) if known else None
        if cap is not None:
            return cap
        body = json.dumps({"TableName": table}).encode()
        headers = _retarget(call.headers, "DescribeTable")
        reply = self._forward("POST", call.path, headers, body)
        return self._learn(table, json.loads(reply.body)["Table"]) if reply.status == 200 else None

    def _throttled(self, throttle: Throttle) -> _Reply:
        """The throttling error in DynamoDB's JSON wire format, with its ThrottlingReason."""
        with self._known_lock:
            arn = self._arns.get(throttle.table, throttle.table)
        # The two exceptions spell the field differently in the service model.
        provisioned = throttle.code == "ProvisionedThroughputExceededException"
        doc = {
            "__type": _JSON_ERROR_TYPES["dynamodb"][throttle.code],
            "message": throttle.message,
            "ThrottlingReasons" if provisioned else "throttlingReasons": [
                {"reason": throttle.reason, "resource": arn}
            ],
        }
        return _json_reply(400, doc, [("x-amzn-ErrorType", throttle.code)])

    def _answer(
        self,
        call: _Call,
        reply: _Reply,
        units: dict[str, float],
        kind: str,
        answer: dict[str, Any] | None = None,
    ) -> _Reply:
        """The reply (or `answer`, a rewritten body), with the model's ConsumedCapacity."""
        mode = call.request.get("ReturnConsumedCapacity")
        if reply.status != 200 or (answer is None and mode not in _WANT_CAPACITY):
            return reply
        answer = json.loads(reply.body) if answer is None else answer
        if mode in _WANT_CAPACITY:
            entries = [_consumed(t, u, mode, kind) for t, u in units.items()]
            single = "TableName" in call.request  # a list for the batch operations
            answer["ConsumedCapacity"] = entries[0] if single and entries else entries
        return _json_reply(200, answer)

    # --- writes --------------------------------------------------------------------------

    @staticmethod
    def _write_item(request: dict[str, Any], table: str, cap: TableCapacity) -> WriteItem:
        """What one Put/Delete request (BatchWriteItem entry or single call) costs, and where."""
        item = request.get("PutRequest", {}).get("Item") or request.get("Item")
        if item is not None:
            size = item_size(item)
            return WriteItem(table, key_value(item.get(cap.hash_key)), write_units(size))
        key = request.get("DeleteRequest", {}).get("Key") or request.get("Key") or {}
        units = 1  # a delete: the stored item's size is unknown here
        if "UpdateExpression" in request or "AttributeUpdates" in request:
            # UpdateItem: key plus the values it sets, a lower bound of the item's new size.
            values = (request.get("ExpressionAttributeValues") or {}).values()
            units = write_units(item_size(key) + sum(attribute_value_size(v) for v in values))
        return WriteItem(table, key_value(key.get(cap.hash_key)), units)

    def _batch_write(self, call: _Call) -> _Reply:
        order: list[tuple[str, Any]] = []
        items: list[WriteItem] = []
        for table, entries in (call.request.get("RequestItems") or {}).items():
            cap = self._table(call, table)
            if cap is None:  # moto answers for the missing table
                return self._send(call)
            for entry in entries:
                items.append(self._write_item(entry, table, cap))
                order.append((table, entry))
        outcome = self.model.write(items)
        if outcome.failed and outcome.throttle is not None:
            return self._throttled(outcome.throttle)
        kept: dict[str, list[Any]] = {}
        left: dict[str, list[Any]] = {}
        for (table, entry), ok in zip(order, outcome.accepted, strict=True):
            (kept if ok else left).setdefault(table, []).append(entry)
        if not left:
            return self._answer(call, self._send(call), outcome.units, "Write")
        reply = self._send(call, {**call.request, "RequestItems": kept})
        if reply.status != 200:
            return reply
        answer = json.loads(reply.body)
        for table, entries in (answer.get("UnprocessedItems") or {}).items():
            left.setdefault(table, []).extend(entries)
        answer["UnprocessedItems"] = left
        return self._answer(call, reply, outcome.units, "Write", answer)

    def _single_write(self, call: _Call) -> _Reply:
        """PutItem, DeleteItem, UpdateItem: all or nothing."""
        cap = self._table(call, call.table)
        if cap is None:
            return self._send(call)
        outcome = self.model.write([self._write_item(call.request, call.table, cap)])
        if outcome.failed and outcome.throttle is not None:
            return self._throttled(outcome.throttle)
        return self._answer(call, self._send(call), outcome.units, "Write")

    # --- reads ---------------------------------------------------------------------------

    def _read(self, call: _Call) -> _Reply:
        """GetItem, Query, Scan: refused while in debt, else charged from what was read."""
        request, table = call.request, call.table
        cap = self._table(call, table)
        if cap is None:
            return self._send(call)
        if call.operation == "GetItem":
            key: str | None = key_value((request.get("Key") or {}).get(cap.hash_key))
        else:
            key = _query_key(cap.hash_key, request) if call.operation == "Query" else None
        throttle = self.model.check_read(table, key)
        if throttle is not None:
            self.model.record_read(True)
            self._log_read(ReadCall(call.operation, table, key, call.consistent(), 0, 0.0, True))
            return self._throttled(throttle)
        reply = self._send(call)
        units, scanned = 0.0, 0
        if reply.status == 200:
            answer = json.loads(reply.body)
            units = self._read_units(call, answer)
            scanned = int(answer.get("ScannedCount", answer.get("Count", int("Item" in answer))))
        self.model.record_read(False, [(table, key, units)])
        self._log_read(ReadCall(call.operation, table, key, call.consistent(), scanned, units))
        return self._answer(call, reply, {table: units}, "Read")

    def _log_read(self, read: ReadCall) -> None:
        with self._known_lock:
            self.reads.append(read)

    def _read_units(self, call: _Call, answer: dict[str, Any]) -> float:
        """RCU of a GetItem, Query or Scan page: the size of the items read, not returned.

        DynamoDB charges a Query or Scan page on the total size of the items it read, before a
        projection, `Select=COUNT` or a filter dropped anything (provisioned-capacity-mode.html,
        CapacityUnitCalculations.html). When the answer does not hold those whole items, the
        same page is read again from moto without them, so the charge is the true size.
        """
        return read_units(self._size_read(call, answer), consistent=call.consistent())

    def _size_read(self, call: _Call, answer: dict[str, Any]) -> int:
        request = call.request
        narrowed = any(request.get(k) for k in _NARROWING) or request.get("Select") not in (
            None,
            "ALL_ATTRIBUTES",
        )
        if call.operation == "GetItem":
            found = answer.get("Item")
            if found and narrowed:
                whole = self._reread(call, {"TableName": call.table, "Key": request["Key"]})
                found = whole.get("Item") or found
            return item_size(found) if found else 0
        items = answer.get("Items") or []
        scanned = int(answer.get("ScannedCount", answer.get("Count", len(items))))
        if not narrowed and scanned == len(items):
            return sum(item_size(i) for i in items)
        if scanned == 0:
            return 0
        whole = self._reread(call, _same_page(request, scanned))
        return sum(item_size(i) for i in whole.get("Items") or [])

    def _reread(self, call: _Call, request: dict[str, Any]) -> dict[str, Any]:
        """The answer moto gives `request` (the same operation), for the model's accounting."""
        reply = self._send(call, request)
        return json.loads(reply.body) if reply.status == 200 else {}

    def _batch_get(self, call: _Call) -> _Reply:
        """BatchGetItem: keys in an indebted table or partition come back as UnprocessedKeys."""
        wanted: dict[str, Any] = call.request.get("RequestItems") or {}
        kept: dict[str, Any] = {}
        left: dict[str, Any] = {}
        hash_keys: dict[str, str] = {}
        first: Throttle | None = None
        for table, spec in wanted.items():
            cap = self._table(call, table)
            if cap is None:
                return self._send(call)
            hash_keys[table] = cap.hash_key
            for key in spec.get("Keys") or []:
                throttle = self.model.check_read(table, key_value(key.get(cap.hash_key)))
                first = first or throttle
                target = left if throttle else kept
                target.setdefault(table, {**spec, "Keys": []})["Keys"].append(key)
        if first is not None and not kept:
            self.model.record_read(True)
            return self._throttled(first)
        reply = self._send(call, {**call.request, "RequestItems": kept} if left else None)
        if reply.status != 200:
            self.model.record_read(bool(left))
            return reply
        answer = json.loads(reply.body)
        charges: list[tuple[str, str | None, float]] = []
        units: dict[str, float] = {}
        for table, found in (answer.get("Responses") or {}).items():
            consistent = call.consistent(wanted.get(table) or {})
            for item in found:
                cost = read_units(item_size(item), consistent=consistent)
                charges.append((table, key_value(item.get(hash_keys.get(table, ""))) or None, cost))
                units[table] = units.get(table, 0.0) + cost
        self.model.record_read(bool(left), charges)
        if not left:
            return self._answer(call, reply, units, "Read")
        unprocessed = answer.get("UnprocessedKeys") or {}
        for table, spec in left.items():
            unprocessed.setdefault(table, {**spec, "Keys": []})["Keys"][:0] = spec["Keys"]
        answer["UnprocessedKeys"] = unprocessed
        return self._answer(call, reply, units, "Read", answer)

    # --- DescribeTable -------------------------------------------------------------------

    def _describe(self, call: _Call) -> _Reply:
        reply = self._send(call)
        if reply.status != 200:
            return reply
        answer = json.loads(reply.body)
        self._learn(call.table, answer["Table"])
        self._show(call.table, answer["Table"])
        return _json_reply(200, answer)

    def _show(self, name: str, table: dict[str, Any]) -> None:
        """A TableDescription as DynamoDB would give it now: UPDATING with the old capacity
        while a change is pending, the model's decreases, rates x k under compression."""
        old = self.model.updating(name)
        cap = old or self.model.capacity(name)
        if cap is None:
            return
        table["TableStatus"] = "UPDATING" if old else "ACTIVE"
        table["BillingModeSummary"] = {
            "BillingMode": "PAY_PER_REQUEST" if cap.on_demand else "PROVISIONED"
        }
        throughput = table.setdefault("ProvisionedThroughput", {})
        count, last = self.model.decreases_today(name)
        throughput["NumberOfDecreasesToday"] = count
        if last is not None:
            throughput["LastDecreaseDateTime"] = last
        # Clients that pace from DescribeTable must see the compressed world: rates x k.
        for field_name, units in (("ReadCapacityUnits", cap.rcu), ("WriteCapacityUnits", cap.wcu)):
            shown = 0 if cap.on_demand else max(1, round(units * self.model.k))
            throughput[field_name] = shown

    # --- UpdateTable ---------------------------------------------------------------------

    def _asked(self, request: dict[str, Any], cap: TableCapacity) -> TableCapacity | None:
        """The capacity an UpdateTable asks for (None: it changes no capacity)."""
        mode = request.get("BillingMode")
        throughput = request.get("ProvisionedThroughput")
        if mode is None and throughput is None:
            return None
        if mode == "PAY_PER_REQUEST":
            return TableCapacity.pay_per_request(*self._on_demand, hash_key=cap.hash_key)
        if throughput is None:
            return cap
        k = self.model.k
        wcu = max(1, round(float(throughput["WriteCapacityUnits"]) / k))
        rcu = max(1, round(float(throughput["ReadCapacityUnits"]) / k))
        return TableCapacity.provisioned(wcu, rcu, hash_key=cap.hash_key)

    def _update(self, call: _Call) -> _Reply:
        cap = self._table(call, call.table)
        asked = self._asked(call.request, cap) if cap is not None else None
        if cap is None or asked is None:
            return self._send(call)
        try:
            self.model.update(call.table, asked)
        except UpdateRefused as refused:
            doc = {"__type": f"com.amazonaws.dynamodb.v20120810#{refused.code}"}
            return _json_reply(400, {**doc, "message": refused.message})
        request = dict(call.request)
        if "ProvisionedThroughput" in request and not asked.on_demand:
            # moto holds the true figures, as the model does.
            request["ProvisionedThroughput"] = {
                "ReadCapacityUnits": int(asked.rcu),
                "WriteCapacityUnits": int(asked.wcu),
            }
        reply = self._send(call, request)
        if reply.status != 200:
            return reply
        answer = json.loads(reply.body)
        self._show(call.table, answer["TableDescription"])
        return _json_reply(200, answer)
