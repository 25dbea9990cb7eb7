"""Creating what has a unique name while another request may be creating it at the same moment.

Each create action first looks for the row it would create and, if it is there, answers as AWS
answers a repeated call (the same ARN for an identical request; ExecutionAlreadyExists,
StateMachineAlreadyExists or ConflictException otherwise). Two requests that arrive together can
both look before either commits; the database's unique key then refuses the second insert. That
refusal is no error to show the caller: `answered_by_the_winner` runs the action once more, in a
new transaction, where the look finds the winner's committed row and the answer is AWS's.
(On SQLite every write transaction takes the lock up front, so the race cannot happen there.)
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def answered_by_the_winner(action: Callable[P, R]) -> Callable[P, R]:
    """``action``, run again once if a concurrent request took its unique key first.

    A second refusal is not a race any more (the winner's row is committed and the action looked
    for it): it propagates, as a bug would.
    """

    @functools.wraps(action)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return action(*args, **kwargs)
        except IntegrityError as exc:
            log.info("%s lost a race for a unique key (%s); answering from the row that won", action.__name__, exc.orig)
            return action(*args, **kwargs)

    return run
