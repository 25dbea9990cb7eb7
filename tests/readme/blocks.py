"""The fenced code blocks of a Markdown file, with where they are and whether they are to be run.

A block that cannot run as a test says so in the README, in a comment just above its fence that a
reader sees in the source: ``<!-- not run: installs the package -->``.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*$")
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(?P<why>.+?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, counted from 1
    lang: str
    text: str
    not_run: str | None = None  # why not, as the README says

    @property
    def first_line(self) -> str:
        return next((line for line in self.text.splitlines() if line.strip()), "")

    def label(self) -> str:
        return f"README.md:{self.line} ({self.lang or 'no language'}): {self.first_line.strip()[:70]}"


def read_blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in order; an unclosed fence is an error naming its line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = _closing(lines, index, opening["indent"])
        if end is None:
            raise ValueError(f"{path.name}:{index + 1}: a code block that is never closed")
        body = textwrap.dedent("\n".join(lines[index + 1 : end])) + "\n"
        blocks.append(Block(index + 1, opening["lang"], body, _not_run_reason(lines, index)))
        index = end + 1
    return blocks


def _closing(lines: list[str], start: int, indent: str) -> int | None:
    for index in range(start + 1, len(lines)):
        if lines[index].strip() == "```" and lines[index].startswith(indent):
            return index
    return None


def _not_run_reason(lines: list[str], fence: int) -> str | None:
    """The ``not run`` comment on the line above the fence (blank lines between are allowed)."""
    index = fence - 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    marked = NOT_RUN.match(lines[index]) if index >= 0 else None
    return marked["why"] if marked else None
