"""Long-running processes for `dev`, `prod-local` and the tests: start, watch, restart, stop.

`service.Service` is one command in a process group of its own, its output in a log file;
`supervisor.Supervisor` restarts a service that exits, with backoff, and gives up on one that
keeps dying. No Dagster and no AWS here: only processes.
"""
