"""``python -m layers``: see :mod:`layers.cli`."""

from __future__ import annotations

from layers.cli import main

raise SystemExit(main())
