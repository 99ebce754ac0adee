"""`statement-pipeline local-aws`: the embedded local AWS (moto server) in the foreground."""

import argparse
from typing import Any

from statement_pipeline.local_aws.server import DEFAULT_HOST, DEFAULT_PORT


def run(args: argparse.Namespace) -> int:
    from statement_pipeline.local_aws.server import serve

    print(f"local AWS on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    print(f"  export AWS_ENDPOINT_URL=http://{args.host}:{args.port}", flush=True)
    serve(args.host, args.port)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("local-aws", help="run the embedded local AWS in the foreground")
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.set_defaults(func=run)
