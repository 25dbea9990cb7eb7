"""How tests/test_readme.py reads a Markdown file's code blocks (tests/readme/blocks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.readme.blocks import read_blocks
from tests.readme.newcomer import with_servers_in_background

MARKDOWN = """# Title

```sh
echo one
```

- A list item with an indented block:

  ```python
  if True:
      print("two")
  ```

<!-- not run: installs something -->

```sh
pip install something
```

```text
a/b/   a path
```
"""


def test_blocks_are_read_with_their_line_language_and_text(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(MARKDOWN)

    blocks = read_blocks(readme)

    assert [(b.line, b.lang, b.not_run) for b in blocks] == [
        (3, "sh", None),
        (9, "python", None),
        (16, "sh", "installs something"),
        (20, "text", None),
    ]
    assert blocks[1].text == 'if True:\n    print("two")\n'  # the list item's indentation taken off
    assert blocks[2].label() == "README.md:16 (sh): pip install something"


def test_an_unclosed_block_names_its_line(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("text\n\n```sh\necho never closed\n")

    with pytest.raises(ValueError, match=r"README.md:3: a code block that is never closed"):
        read_blocks(readme)


def test_servers_run_in_the_background_then_are_stopped_and_checked() -> None:
    script = with_servers_in_background(
        "export X=1\norchestrator worker --concurrency 4     # a comment\necho done\n", "orchestrator run flow.json"
    )

    lines = script.splitlines()
    assert lines[:4] == [
        "export X=1",
        'orchestrator worker --concurrency 4 > "$READMELOGS/server-0.log" 2>&1 &',
        "readme_server_0=$!",
        "echo done",
    ]
    assert "orchestrator run flow.json" in lines
    assert 'kill -TERM "$readme_server_0"' in lines
    assert lines[-1].startswith('readme_status=0; wait "$readme_server_0" || readme_status=$?;')
