"""Executions survive a worker host cut off the network and a PostgreSQL restart (issue 6, item 3).

Hosts are network namespaces on this machine (see `tests.multihost.network`): PostgreSQL and Redis
on one, the API on one, a worker on each of two, the scheduler on one, the test on a client host.
Run 1 cuts worker1's link for longer than the lease mid-run and plugs it back; run 2 stops
PostgreSQL for ten seconds mid-run. Both run with the default settings. Every execution must
succeed with a sound history (no transition recorded twice), the executions worker1 held must move
on within 30 s of the cut, and the runs' figures (executions run, hosts cut, time to recover,
executions lost) are printed in the terminal summary. Set ORCHESTRATOR_MULTIHOST_KEEP_LOGS=DIR to
keep the processes' logs.
"""

from __future__ import annotations

import os
import sys
import time

from tests.multihost.conftest import FIGURES
from tests.multihost.deployment import Options, deploy
from tests.multihost.scenario import run_all


def test_executions_survive_a_worker_host_cut_off_and_a_database_restart() -> None:
    assert os.geteuid() == 0, "the multi-host test builds network namespaces: run it as root"
    began = time.monotonic()
    with deploy(Options()) as deployment:
        set_up = time.monotonic() - began
        outcomes = run_all(deployment)
        failures = [failure for outcome in outcomes for failure in outcome.failures]
        if failures:
            print(deployment.log_tails(), file=sys.stderr)
    for outcome in outcomes:
        FIGURES.extend(outcome.lines())
    FIGURES.append(f"took {time.monotonic() - began:.0f}s (hosts and processes up in {set_up:.0f}s)")
    print("\n".join(FIGURES))
    assert not failures, "\n".join(failures)
