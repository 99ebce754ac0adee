"""Domain logic of the statement import: plain Python, no Dagster import, testable on its own."""
