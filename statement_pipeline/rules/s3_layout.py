"""Where things live in S3 (CONTRACT.md section 1): month folders, statement files, rejects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
REJECTS_ROOT = "rejects/"
REJECTS_SUFFIX = ".rejects.csv"


def is_month(text: str) -> bool:
    """True for a real statement month written as `YYYY-MM`."""
    return _MONTH.fullmatch(text) is not None and text[:4] != "0000"


def require_month(text: str) -> str:
    """Return `text` if it is a real `YYYY-MM` month, else raise ValueError."""
    if not is_month(text):
        raise ValueError(f"not a statement month (expected YYYY-MM): {text!r}")
    return text


def month_prefix(prefix: str, month: str) -> str:
    """The key prefix of one month's folder."""
    return f"{prefix}{require_month(month)}/"


def is_statement_file(key: str) -> bool:
    """True for the objects that make up a month: `.csv` files (folder markers are not)."""
    return key.lower().endswith(".csv") and not key.endswith("/")


@dataclass(frozen=True)
class KeyVerdict:
    """What a key under the statement prefix is: a month's file, or ignored and why."""

    month: str | None
    reason: str | None = None


def classify_key(prefix: str, key: str) -> KeyVerdict:
    """Decide whether `key` is a statement file of a real month folder under `prefix`."""
    if not key.startswith(prefix):
        return KeyVerdict(None, "outside the statement prefix")
    rest = key[len(prefix) :]
    folder, sep, name = rest.partition("/")
    if not sep:
        return KeyVerdict(None, "not inside a month folder")
    if not is_month(folder):
        return KeyVerdict(None, "folder is not a YYYY-MM month")
    if not name or not is_statement_file(name):
        return KeyVerdict(None, "not a .csv file")
    if any(part in ("", ".", "..") for part in name.split("/")):
        return KeyVerdict(None, "path has empty, '.' or '..' segments")
    return KeyVerdict(folder)


def relative_name(prefix: str, month: str, key: str) -> str:
    """The file's path inside its month folder (keys are checked by `classify_key` first)."""
    base = month_prefix(prefix, month)
    if not key.startswith(base):
        raise ValueError("key is not inside the month folder")
    return key[len(base) :]


def rejects_prefix(month: str) -> str:
    """Folder holding a month's rejects objects."""
    return f"{REJECTS_ROOT}{require_month(month)}/"


def rejects_key(prefix: str, month: str, key: str) -> str:
    """Rejects object of one input file: `rejects/<YYYY-MM>/<file without .csv>.rejects.csv`."""
    verdict = classify_key(prefix, key)
    if verdict.month != month:
        raise ValueError("rejects are only written for statement files of the month")
    name = relative_name(prefix, month, key)
    stem = name[: -len(".csv")]
    return f"{rejects_prefix(month)}{stem}{REJECTS_SUFFIX}"


def closed_month(moment: datetime) -> str:
    """The month before the one `moment` falls in (in UTC, like the partitions), as `YYYY-MM`."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    year, month = (moment.year, moment.month - 1) if moment.month > 1 else (moment.year - 1, 12)
    return f"{year:04d}-{month:02d}"
