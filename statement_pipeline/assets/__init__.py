"""The import's assets, one module per stage."""

from statement_pipeline.assets.loading import loaded_statements
from statement_pipeline.assets.scheduling import scheduled_statements

__all__ = ["loaded_statements", "scheduled_statements"]
