"""`python -m statement_pipeline.cli`: the same as the `statement-pipeline` command."""

import sys

from statement_pipeline.cli import main

sys.exit(main())
