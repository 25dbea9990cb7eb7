"""The multi-host test: the orchestrator spread over network namespaces, a host cut off, a database restart.

`network` builds the hosts (namespaces, a bridge, veth pairs), `servers` starts PostgreSQL, Redis
and the orchestrator's processes on them, `deployment` puts the pieces together with their
cleanup, `workload` holds the workflow and the history checks, `scenario` drives the two runs.
Run it in the suite (``pytest tests/multihost``) or alone (``python -m tests.multihost``); it needs
root, as the CI does, and fails rather than skips without it.
"""
