"""The embedded local AWS: a moto server for `make demo`, `make dev`, tests and benchmarks."""
