"""The local AWS's sixth fix: a received SQS message goes to one receiver, as on SQS.

moto's `ReceiveMessage` checks that a message is visible, then marks it received, with no lock
between the two. Its server answers each request on a thread of its own, so two loaders that
receive at the same instant can both be handed the same message: the month's records are
written twice and the loaders' figures count them twice. SQS hides a received message from
every other receiver for its visibility timeout, which is what the loaders are built on. Each
attempt (moto's own code, with no wait) now runs under one lock; the long poll waits between
attempts outside it, so one receiver waiting on an empty queue never holds back the others.

Standard library only at import: the moto server script imports this file as a sibling.
"""

from __future__ import annotations

import inspect
import threading
import time
from typing import Any

# The fix's name in `moto_speedups.install`. It corrects what moto gets wrong rather than what
# it does slowly, so a server run without the speed-ups has it too (`server.LocalAws`).
NAME = "receive"
# Set on the wrapped method: installing again is then a no-op.
_MARK = "_statement_pipeline_receive"
_RECEIVE_PARAMETERS = (
    "self",
    "queue_name",
    "count",
    "wait_seconds_timeout",
    "visibility_timeout",
    "message_attribute_names",
)
# moto's own long poll looks for new messages once a second; so does this one.
POLL_SECONDS = 1.0


def fix_sqs_receive() -> bool:
    from moto.sqs import models

    moto_receive = models.SQSBackend.receive_message
    if getattr(moto_receive, _MARK, False):
        return True
    if tuple(inspect.signature(moto_receive).parameters) != _RECEIVE_PARAMETERS:
        return False
    attempt = threading.Lock()

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        deadline = time.monotonic() + wait_seconds_timeout
        while True:
            with attempt:
                got = moto_receive(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            left = deadline - time.monotonic()
            if got or left <= 0:
                return list(got)
            self.get_queue(queue_name).wait_for_messages(min(POLL_SECONDS, left))

    setattr(receive_message, _MARK, True)
    models.SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    return True
