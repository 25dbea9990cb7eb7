"""The labels of `orchestrator run`'s trace on nested histories (issue 16, item 12): histories made by
`run_local` (the in-memory driver, which writes AWS's events as the runtime does), printed by the
trace's `Printer`. The embedded runs in tests/test_cli_trace.py check the same on real output."""

from __future__ import annotations

import io
import json
from typing import Any

from orchestrator import run_local
from orchestrator.follow import Printer


def _trace(definition: dict[str, Any], execution_input: Any) -> list[str]:
    text = json.dumps(definition)
    result = run_local(text, execution_input)
    out = io.StringIO()
    printer = Printer(out, tokens=lambda: [], definition=text)
    for event in result.history:
        printer.event(event)
    return out.getvalue().splitlines()


def _nested(second_branch: dict[str, Any]) -> dict[str, Any]:
    inner = {"Type": "Map", "ItemsPath": "$.xs", "End": True}
    inner["ItemProcessor"] = {"StartAt": "Leaf", "States": {"Leaf": {"Type": "Pass", "End": True}}}
    both = {
        "Type": "Parallel",
        "Branches": [{"StartAt": "Inner", "States": {"Inner": inner}}, second_branch],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After"}],
        "Next": "After",
    }
    processor = {"StartAt": "Both", "States": {"Both": both, "After": {"Type": "Pass", "End": True}}}
    return {"StartAt": "Outer", "States": {"Outer": {"Type": "Map", "ItemProcessor": processor, "End": True}}}


def test_a_map_in_a_parallel_in_a_map() -> None:
    lines = _trace(_nested({"StartAt": "Hi", "States": {"Hi": {"Type": "Pass", "End": True}}}), [{"xs": [7, 8]}])
    # (branches and iterations interleave: their lines are compared as a set)
    assert sorted(line for line in lines if "Leaf" in line or "Hi" in line) == [
        "[Map Outer #0] [Parallel Both branch 1] [Map Inner #0] -> Leaf (Pass)",
        "[Map Outer #0] [Parallel Both branch 1] [Map Inner #0] <- Leaf",
        "[Map Outer #0] [Parallel Both branch 1] [Map Inner #1] -> Leaf (Pass)",
        "[Map Outer #0] [Parallel Both branch 1] [Map Inner #1] <- Leaf",
        "[Map Outer #0] [Parallel Both branch 2] -> Hi (Pass)",
        "[Map Outer #0] [Parallel Both branch 2] <- Hi",
    ]
    # what follows the Parallel, and the outer Map's end, are back outside the branches
    assert lines[-4:] == [
        "[Map Outer #0] <- Both",
        "[Map Outer #0] -> After (Pass)",
        "[Map Outer #0] <- After",
        "<- Outer",
    ]


def test_a_failed_branch_caught() -> None:
    lines = _trace(
        _nested({"StartAt": "Oops", "States": {"Oops": {"Type": "Fail", "Error": "E"}}}), [{"xs": []}, {"xs": []}]
    )
    assert "[Map Outer #1] [Parallel Both branch 2] -> Oops (Fail)" in lines
    # the Catch's next state runs in the iteration, outside the branch that failed
    assert lines.count("[Map Outer #0] -> After (Pass)") == 1
    assert lines.count("[Map Outer #1] -> After (Pass)") == 1
    assert lines[-1] == "<- Outer"
