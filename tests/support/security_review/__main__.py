"""``python -m tests.support.security_review``: the least-privilege table, then any finding."""

from __future__ import annotations

from .command import main

if __name__ == "__main__":
    raise SystemExit(main())
