"""``python -m tests.readme.ready URL``: wait until a server answers at URL (exit 0), or fail after a minute."""

from __future__ import annotations

import sys

from tests.readme.newcomer import wait_for_http

if __name__ == "__main__":
    answer = wait_for_http(sys.argv[1])
    print(f"{sys.argv[1]}: {answer.status_code}")
    sys.exit(0 if answer.status_code < 500 else 1)
