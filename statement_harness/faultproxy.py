# Over 350 lines: the wire formats of three services (JSON for SQS and DynamoDB, XML for S3)
# and the partial-batch rewrites belong to one proxy.
"""An HTTP proxy that injects AWS faults on the wire between the pipeline and a moto server.

Point AWS_ENDPOINT_URL at `FaultProxy.endpoint` (in-process runs and `dagster asset
materialize` subprocesses alike) and add `Fault` rules. A rule matches one service and
operation (SQS and DynamoDB by their `X-Amz-Target`, S3 by method and path) for its first
`times` matching calls, or for a `fraction` of them, and then:

- `error`: answers with an error in the service's own wire format (JSON `__type` for SQS and
  DynamoDB, XML for S3) without forwarding, e.g. throttling or a 5xx;
- `unprocessed`: forwards only part of a BatchWriteItem's requests and reports the rest as
  `UnprocessedItems`, so those items really are unwritten;
- `fail_entries`: forwards only part of a SendMessageBatch / DeleteMessageBatch and reports
  the rest as `Failed` entries, so those messages really are not sent / not deleted.
"""

from __future__ import annotations

import http.client
import json
import math
import random
import re
import threading
import urllib.parse
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

_TARGET_PREFIXES = {"AmazonSQS.": "sqs", "DynamoDB_20120810.": "dynamodb"}
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
# Hop-by-hop headers (RFC 9110) are the proxy's own business, never forwarded.
_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "content-length",
    }
)
_JSON_ERROR_TYPES = {
    "dynamodb": {
        "ProvisionedThroughputExceededException": (
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
        ),
        "ThrottlingException": "com.amazon.coral.availability#ThrottlingException",
        "RequestLimitExceeded": "com.amazonaws.dynamodb.v20120810#RequestLimitExceeded",
        "InternalServerError": "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "ServiceUnavailable": "com.amazon.coral.availability#ServiceUnavailableException",
    },
    "sqs": {
        "InternalError": "com.amazon.coral.service#InternalFailure",
        "ServiceUnavailable": "com.amazon.coral.availability#ServiceUnavailableException",
        "RequestThrottled": "com.amazonaws.sqs#RequestThrottled",
    },
}

FaultKind = Literal["error", "unprocessed", "fail_entries"]


@dataclass
class Fault:
    """One injection rule; `hits` counts the calls it changed."""

    service: str
    operation: str | None = None
    kind: FaultKind = "error"
    status: int = 500
    code: str = "InternalError"
    times: int | None = None
    fraction: float | None = None
    # Share of a batch's items (unprocessed) or entries (fail_entries) that fail.
    share: float = 0.5
    method: str | None = None
    path: str | None = None
    # fail_entries: a sender fault (e.g. an invalid receipt handle) is not worth retrying.
    sender_fault: bool = False
    hits: int = 0
    seen: int = 0
    _rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    def matches(self, service: str, operation: str | None, method: str, path: str) -> bool:
        if service != self.service:
            return False
        if self.operation is not None and operation != self.operation:
            return False
        if self.method is not None and method != self.method:
            return False
        return self.path is None or re.search(self.path, path) is not None

    def fires(self) -> bool:
        """Decide for one matching call (called under the proxy's lock)."""
        self.seen += 1
        if self.times is not None and self.hits >= self.times:
            return False
        if self.fraction is not None and self._rng.random() >= self.fraction:
            return False
        self.hits += 1
        return True


def throttle(
    operation: str = "BatchWriteItem",
    code: str = "ProvisionedThroughputExceededException",
    *,
    times: int | None = None,
    fraction: float | None = None,
) -> Fault:
    """DynamoDB throttling, answered as a 400 with the throttling error type."""
    return Fault("dynamodb", operation, "error", 400, code, times, fraction)


def server_error(
    service: str,
    operation: str | None = None,
    *,
    status: int = 500,
    code: str = "InternalError",
    times: int | None = None,
    fraction: float | None = None,
    method: str | None = None,
    path: str | None = None,
) -> Fault:
    """A 5xx answer (S3 by method and path regex)."""
    return Fault(
        service, operation, "error", status, code, times, fraction, method=method, path=path
    )


def unprocessed(
    *, share: float = 0.5, times: int | None = None, fraction: float | None = None
) -> Fault:
    """BatchWriteItem calls that write only part of their requests."""
    return Fault("dynamodb", "BatchWriteItem", "unprocessed", 200, "", times, fraction, share)


def failed_entries(
    operation: str,
    *,
    share: float = 0.5,
    times: int | None = None,
    fraction: float | None = None,
    code: str = "InternalError",
    sender_fault: bool = False,
) -> Fault:
    """SendMessageBatch / DeleteMessageBatch calls that fail part of their entries."""
    return Fault(
        "sqs",
        operation,
        "fail_entries",
        200,
        code,
        times,
        fraction,
        share,
        sender_fault=sender_fault,
    )


@dataclass
class _Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json_reply(status: int, doc: Any, extra: list[tuple[str, str]] | None = None) -> _Reply:
    body = json.dumps(doc).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        # botocore verifies DynamoDB bodies against this checksum when it is present.
        ("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF)),
        *(extra or []),
    ]
    return _Reply(status, headers, body)


def _error_reply(service: str, fault: Fault, method: str) -> _Reply:
    message = f"injected by the test fault proxy ({fault.code})"
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{fault.code}</Code><Message>{message}</Message>"
            f"<RequestId>{uuid.uuid4().hex}</RequestId></Error>"
        ).encode()
        return _Reply(
            fault.status,
            [("Content-Type", "application/xml")],
            b"" if method == "HEAD" else body,
        )
    error_type = _JSON_ERROR_TYPES.get(service, {}).get(fault.code, fault.code)
    extra = []
    if service == "sqs":
        fault_side = "Sender" if fault.status < 500 else "Receiver"
        extra.append(("x-amzn-query-error", f"{fault.code};{fault_side}"))
    return _json_reply(fault.status, {"__type": error_type, "message": message}, extra)


def _split(items: list[Any], share: float, rng: random.Random) -> tuple[list[Any], list[Any]]:
    """(kept, failed): at least one item fails, the others are picked at random."""
    count = min(len(items), max(1, math.ceil(len(items) * share)))
    failed_at = set(rng.sample(range(len(items)), count))
    kept = [item for i, item in enumerate(items) if i not in failed_at]
    failed = [item for i, item in enumerate(items) if i in failed_at]
    return kept, failed


class FaultProxy:
    """A threaded proxy on 127.0.0.1 (free port) in front of `upstream`; a context manager."""

    def __init__(self, upstream: str, *, seed: int = 0) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self._upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.faults: list[Fault] = []
        self.calls: Counter[tuple[str, str]] = Counter()
        self.injected: Counter[tuple[str, str]] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, *faults: Fault) -> None:
        with self._lock:
            for fault in faults:
                fault._rng = random.Random(self._rng.random())
                self.faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- request handling ---------------------------------------------------------------

    def _choose(self, service: str, operation: str, method: str, path: str) -> Fault | None:
        with self._lock:
            self.calls[(service, operation)] += 1
            for fault in self.faults:
                if fault.matches(service, operation, method, path) and fault.fires():
                    self.injected[(service, operation)] += 1
                    return fault
        return None

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> _Reply:
        conn = http.client.HTTPConnection(*self._upstream, timeout=120)
        try:
            send = [(k, v) for k, v in headers if k.lower() not in _HOP_HEADERS]
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in send:
                conn.putheader(name, value)
            if body or method in ("POST", "PUT"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_HEADERS]
            if method == "HEAD":
                length = resp.getheader("Content-Length")
                if length is not None:
                    out.append(("Content-Length", length))
            return _Reply(resp.status, out, data)
        finally:
            conn.close()

    def _handle(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> _Reply:
        lookup = {k.lower(): v for k, v in headers}
        service, operation = _identify(lookup, method, path)
        fault = self._choose(service, operation, method, path)
        if fault is None:
            return self._forward(method, path, headers, body)
        if fault.kind == "error":
            return _error_reply(service, fault, method)
        if fault.kind == "unprocessed":
            return self._unprocessed(method, path, headers, body, fault)
        return self._fail_entries(method, path, headers, body, fault, operation)

    def _unprocessed(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes, fault: Fault
    ) -> _Reply:
        request = json.loads(body)
        kept_items: dict[str, list[Any]] = {}
        held: dict[str, list[Any]] = {}
        with self._lock:
            for table, requests in request["RequestItems"].items():
                kept, failed = _split(list(requests), fault.share, fault._rng)
                if kept:
                    kept_items[table] = kept
                held[table] = failed
        if kept_items:
            reply = self._forward(
                method, path, headers, json.dumps({**request, "RequestItems": kept_items}).encode()
            )
            if reply.status != 200:
                return reply
            answer = json.loads(reply.body)
        else:
            answer = {}
        left = answer.get("UnprocessedItems") or {}
        for table, failed in held.items():
            left.setdefault(table, []).extend(failed)
        answer["UnprocessedItems"] = left
        return _json_reply(200, answer)

    def _fail_entries(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        fault: Fault,
        operation: str,
    ) -> _Reply:
        request = json.loads(body)
        with self._lock:
            kept, failed = _split(list(request["Entries"]), fault.share, fault._rng)
        if kept:
            reply = self._forward(
                method, path, headers, json.dumps({**request, "Entries": kept}).encode()
            )
            if reply.status != 200:
                return reply
            answer = json.loads(reply.body)
        else:
            answer = {"Successful": []}
        answer.setdefault("Successful", [])
        answer["Failed"] = [
            *answer.get("Failed", []),
            *(
                {
                    "Id": entry["Id"],
                    "SenderFault": fault.sender_fault,
                    "Code": fault.code,
                    "Message": f"injected by the test fault proxy ({operation})",
                }
                for entry in failed
            ),
        ]
        return _json_reply(200, answer)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle's algorithm on, each
            # reply would wait for the client's delayed ACK (about 40 ms a call).
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                body = self._read_body()
                reply = proxy._handle(self.command, self.path, list(self.headers.items()), body)
                self.send_response(reply.status)
                has_length = False
                for name, value in reply.headers:
                    self.send_header(name, value)
                    has_length = has_length or name.lower() == "content-length"
                if not has_length:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD" and reply.body:
                    self.wfile.write(reply.body)

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests assert on the proxy's counters instead."""

        return Handler


def _identify(headers: dict[str, str], method: str, path: str) -> tuple[str, str]:
    """(service, operation) of a request; S3 operations are named `METHOD path`."""
    target = headers.get("x-amz-target", "")
    for prefix, service in _TARGET_PREFIXES.items():
        if target.startswith(prefix):
            return service, target[len(prefix) :]
    scope = _CREDENTIAL_SCOPE.search(headers.get("authorization", ""))
    service = scope.group(1) if scope else "unknown"
    return service, f"{method} {urllib.parse.urlsplit(path).path}"
