"""``python -m local.sql "SELECT …"``: ``stratigos sql`` on its own."""

from __future__ import annotations

from local.sql._cli import main

raise SystemExit(main())
