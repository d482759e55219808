"""Trading calendars for the synthetic price generator.

Two calendars are provided:

* ``"nyse"`` -- Monday to Friday minus the NYSE full-day holidays (New Year's Day,
  Martin Luther King Jr. Day, Washington's Birthday, Good Friday, Memorial Day,
  Juneteenth from 2022, Independence Day, Labor Day, Thanksgiving, Christmas) and a
  handful of historical unscheduled closures (9/11, Hurricane Sandy, national days of
  mourning).  Early closes are ordinary trading days.
* ``"weekdays"`` -- every Monday to Friday.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

Calendar = Literal["nyse", "weekdays"]

CALENDARS: Final[tuple[Calendar, ...]] = ("nyse", "weekdays")

#: Unscheduled full-day NYSE closures since 2000.
SPECIAL_CLOSURES: Final[tuple[date, ...]] = (
    date(2001, 9, 11),
    date(2001, 9, 12),
    date(2001, 9, 13),
    date(2001, 9, 14),
    date(2004, 6, 11),  # President Reagan, day of mourning
    date(2007, 1, 2),  # President Ford, day of mourning
    date(2012, 10, 29),  # Hurricane Sandy
    date(2012, 10, 30),  # Hurricane Sandy
    date(2018, 12, 5),  # President G. H. W. Bush, day of mourning
    date(2025, 1, 9),  # President Carter, day of mourning
)

_MONDAY: Final = 0
_THURSDAY: Final = 3
_SATURDAY: Final = 5
_SUNDAY: Final = 6


def easter_sunday(year: int) -> date:
    """Return the date of (Gregorian) Easter Sunday.

    Parameters
    ----------
    year : int
        Calendar year.

    Returns
    -------
    datetime.date
        Easter Sunday of ``year`` (anonymous Gregorian algorithm).
    """
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """Saturday holidays are observed on Friday, Sunday holidays on Monday."""
    if day.weekday() == _SATURDAY:
        return day - timedelta(days=1)
    if day.weekday() == _SUNDAY:
        return day + timedelta(days=1)
    return day


def nyse_holidays(year: int) -> list[date]:
    """Return the scheduled NYSE full-day holidays of a year (observed dates).

    Parameters
    ----------
    year : int
        Calendar year (the rules implemented are those in force since 1998).

    Returns
    -------
    list of datetime.date
        Observed holiday dates falling on weekdays, sorted.
    """
    days: list[date] = []
    new_year = date(year, 1, 1)
    # NYSE does not close on Friday 31 December when 1 January is a Saturday.
    if new_year.weekday() != _SATURDAY:
        days.append(_observed(new_year))
    days.append(_nth_weekday(year, 1, _MONDAY, 3))  # Martin Luther King Jr. Day
    days.append(_nth_weekday(year, 2, _MONDAY, 3))  # Washington's Birthday
    days.append(easter_sunday(year) - timedelta(days=2))  # Good Friday
    days.append(_last_weekday(year, 5, _MONDAY))  # Memorial Day
    if year >= 2022:
        days.append(_observed(date(year, 6, 19)))  # Juneteenth
    days.append(_observed(date(year, 7, 4)))  # Independence Day
    days.append(_nth_weekday(year, 9, _MONDAY, 1))  # Labor Day
    days.append(_nth_weekday(year, 11, _THURSDAY, 4))  # Thanksgiving
    days.append(_observed(date(year, 12, 25)))  # Christmas
    return sorted(days)


def trading_days(start: date, end: date, calendar: Calendar = "nyse") -> npt.NDArray[np.datetime64]:
    """Return the trading days between two dates (both inclusive).

    Parameters
    ----------
    start, end : datetime.date
        Inclusive bounds.
    calendar : {"nyse", "weekdays"}
        Which days are trading days (see the module docstring).

    Returns
    -------
    numpy.ndarray
        Sorted ``datetime64[D]`` array (empty when ``end < start``).
    """
    if calendar not in CALENDARS:
        raise ValueError(f"unknown calendar {calendar!r}; expected one of {CALENDARS}")
    if end < start:
        return np.empty(0, dtype="datetime64[D]")
    days = np.arange(
        np.datetime64(start, "D"), np.datetime64(end, "D") + np.timedelta64(1, "D")
    ).astype("datetime64[D]")
    # 1970-01-01 was a Thursday; shift so that Monday == 0.
    weekday = (days.astype(np.int64) + 3) % 7
    days = days[weekday < 5]
    if calendar == "nyse":
        closed = [d for y in range(start.year, end.year + 1) for d in nyse_holidays(y)]
        closed.extend(SPECIAL_CLOSURES)
        days = days[~np.isin(days, np.array(closed, dtype="datetime64[D]"))]
    return days
