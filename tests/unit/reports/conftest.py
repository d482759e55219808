"""The real run results and portfolio the report tests render (built once per module)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.reports.test_reports_render import make_portfolio, make_runs


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, Any]]:
    return make_runs()


@pytest.fixture(scope="module")
def portfolio() -> dict[str, Any]:
    return make_portfolio()
