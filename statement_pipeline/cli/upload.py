"""`statement-pipeline upload FILE --month YYYY-MM`: drop a file into a month folder."""

import argparse
from pathlib import Path
from typing import Any

from statement_pipeline.cli.arguments import month_arg
from statement_pipeline.rules.names import Names


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.aws.s3_files import upload_files

    names = Names.from_env()
    path = Path(args.file)
    keys = upload_files(names, args.month, [(args.name or path.name, path.read_bytes())])
    for key in keys:
        print(f"uploaded s3://{names.bucket}/{key}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("upload", help="put a statement file into a month folder in S3")
    p.add_argument("file")
    p.add_argument("--month", type=month_arg, required=True)
    p.add_argument("--name", default=None, help="object name in the month folder")
    p.set_defaults(func=run)
