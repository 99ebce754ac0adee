"""The test and benchmark harness: a model of DynamoDB's capacity, the proxies, the scenarios.

- `capacity_model`: DynamoDB's published capacity limits (burst, partitions, keys, on demand).
- `capacity_proxy`: an HTTP proxy that puts the model in front of moto.
- `faultproxy`: an HTTP proxy that injects AWS faults (errors, partial batches) on the wire.
- `scenarios`: the shared steps of the end-to-end tests (set up AWS, run imports, read back).

Not part of the product: `pip install` leaves it out (`[tool.setuptools.packages.find]`), and
import-linter checks that `statement_pipeline` never imports it. Tests import it from the
repository root (pytest's `pythonpath`); the benchmark scripts put the root on `sys.path`.
"""
