"""api: API Gateway handlers and routes (CRUD routes never import numpy, pandas or pyarrow).

Each module is one Lambda entry point named by ``Handler:`` in template.yaml.
"""

from __future__ import annotations

__all__: list[str] = []
