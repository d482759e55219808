"""`stratigos local tick NAME`: schedule names in any case, and errors that list the names."""

from __future__ import annotations

import pytest

from local.dispatcher import find_schedule
from stack import RuleSpec, Template


def _schedule(function: str, event: str) -> RuleSpec:
    return RuleSpec(
        function=function,
        event=event,
        kind="Schedule",
        bus_name="default",
        pattern=None,
        schedule="rate(1 day)",
        retry_attempts=0,
        max_event_age_seconds=60,
        dead_letter_arn=None,
    )


@pytest.mark.parametrize("name", ["Nightly", "nightly", "NIGHTLY", "fanoutfunction-nightly"])
def test_the_templates_schedule_is_found_in_any_case(name: str) -> None:
    assert find_schedule(Template.load().rules(), name).event == "Nightly"


def test_an_unknown_name_lists_the_schedules() -> None:
    rules = [_schedule("FanOutFunction", "Nightly"), _schedule("ReportFunction", "Weekly")]
    with pytest.raises(KeyError) as error:
        find_schedule(rules, "Hourly")
    assert error.value.args[0] == (
        "no schedule named 'Hourly'; the template's schedules: Nightly, Weekly"
    )


def test_names_equal_but_for_case_are_ambiguous_unless_spelled_exactly() -> None:
    rules = [_schedule("FanOutFunction", "Nightly"), _schedule("ReportFunction", "NIGHTLY")]
    assert find_schedule(rules, "NIGHTLY").function == "ReportFunction"
    assert find_schedule(rules, "Nightly").function == "FanOutFunction"
    with pytest.raises(KeyError) as error:
        find_schedule(rules, "nightly")
    assert error.value.args[0] == (
        "schedule name 'nightly' is ambiguous: it matches NIGHTLY, Nightly"
    )
