"""`statement-pipeline upload FILE --month YYYY-MM`: drop a file into a month folder."""

import argparse
from pathlib import Path
from typing import Any

from statement_pipeline.cli.arguments import month_arg
from statement_pipeline.cli.progress import Bars
from statement_pipeline.rules.names import Names
from statement_pipeline.rules.progress import Tally

MB = 1024 * 1024


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.aws.s3_files import upload_path

    names = Names.from_env()
    path = Path(args.file)
    name = args.name or path.name
    size = path.stat().st_size
    sent = Tally()
    with Bars() as bars:

        def on_bytes(amount: int) -> None:
            sent.add(amount)
            text = f"uploading {name}: {sent.value / MB:,.1f}/{size / MB:,.1f} MB"
            bars.update(name, sent.value, size, text)

        key = upload_path(names, args.month, path, name, on_bytes)
    print(f"uploaded s3://{names.bucket}/{key}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("upload", help="put a statement file into a month folder in S3")
    p.add_argument("file")
    p.add_argument("--month", type=month_arg, required=True)
    p.add_argument("--name", default=None, help="object name in the month folder")
    p.set_defaults(func=run)
