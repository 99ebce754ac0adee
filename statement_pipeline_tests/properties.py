"""How many examples each property test tries: its own count, times `make properties`' scale."""

from __future__ import annotations

import os

# `make test` and CI: each test's own count, derandomized (conftest's "ci" profile).
# `make properties`: ten times as many, from a new random seed each run ("explore").
SCALE_VARIABLE = "STATEMENT_PROPERTY_SCALE"


def examples(count: int) -> int:
    """`count` scaled by STATEMENT_PROPERTY_SCALE (1 when unset)."""
    return count * int(os.environ.get(SCALE_VARIABLE, "1"))
