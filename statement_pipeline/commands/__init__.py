"""Subcommands of `statement-pipeline`: each module here defines `register(subparsers)`.

`cli.py` discovers the modules, so a command is added by adding its module.
"""
