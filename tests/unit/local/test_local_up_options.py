"""``stratigos local up --concurrency N``: environments per function, a whole number ≥ 1."""

from __future__ import annotations

import pytest

from local.cli import main


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "١"])
def test_a_concurrency_that_is_not_a_whole_number_of_at_least_one_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["local", "up", "--concurrency", value])
    assert stopped.value.code == 2
    assert "is not a whole number of at least 1" in capsys.readouterr().err
