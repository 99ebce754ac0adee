"""Sample statement months for the demo, `make dev`, benchmarks and tests (not the runtime)."""

from statement_samples.bad_rows import bad_rows_corpus
from statement_samples.generator import (
    BOM,
    COLUMNS,
    EXTRA_COLUMN,
    csv_line,
    generate_rows,
    render_csv,
    statement_id,
    write_month,
)

__all__ = [
    "BOM",
    "COLUMNS",
    "EXTRA_COLUMN",
    "bad_rows_corpus",
    "csv_line",
    "generate_rows",
    "render_csv",
    "statement_id",
    "write_month",
]
