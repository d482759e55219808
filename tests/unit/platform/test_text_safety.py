"""One formula-injection rule and one control-character rule for every export (core.text_safety)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pyarrow as pa
import pytest

from core.text_safety import TERMINAL_UNSAFE, spreadsheet_safe, starts_like_formula
from ingest.validation import RejectedRow, RejectReason, quarantine_csv
from local.sql import format_result

ROOT = Path(__file__).resolve().parents[3]

# OWASP's list, and what it misses when a cell is read the way a spreadsheet reads it.
FORMULAS = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",  # a leading line feed
    " =1+1",  # leading space
    "   @SUM(A1)",
    "\u3000=1+1",  # ideographic space
    "\u00a0+1",  # no-break space
    "\u200b=1+1",  # zero-width space
    "\ufeff=1+1",  # a BOM
    "\uff1d1+1",  # full-width =
    "\uff0b1",  # full-width +
    "\uff0d1",  # full-width -
    "\uff201",  # full-width @
    "\ufe661+1",  # small equals sign
    " \uff1dHYPERLINK(0)",
    "\n",
]
PLAIN = ["", "AAPL", "1.5", "a=b", "'=1+1", "x\n=1", "\u2212" + "1", "(1)", "SUM(1)"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_starts_are_recognised_after_trimming_and_nfkc(text: str) -> None:
    assert starts_like_formula(text)
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("text", PLAIN)
def test_other_text_is_left_alone(text: str) -> None:
    assert not starts_like_formula(text)
    assert spreadsheet_safe(text) == text


def _first_cells(exported: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(exported, newline="")))
    return [row[-1] for row in rows[1:]]


def test_the_quarantine_rows_csv_escapes_every_formula() -> None:
    rejected = [
        RejectedRow(i + 1, RejectReason.BAD_TICKER, "m", {"ticker": text})
        for i, text in enumerate(FORMULAS)
    ]
    exported = quarantine_csv(rejected, ["ticker"]).decode("utf-8")
    assert _first_cells(exported) == ["'" + text for text in FORMULAS]


def test_sql_csv_escapes_every_formula_text_cell_but_not_numbers() -> None:
    table = pa.table({"n": [-1.5] * len(FORMULAS), "v": FORMULAS})
    rows = list(csv.reader(io.StringIO(format_result(table, "csv"), newline="")))
    assert [row[1] for row in rows[1:]] == ["'" + text for text in FORMULAS]
    assert {row[0] for row in rows[1:]} == {"-1.5"}  # a number from a numeric column


def test_the_rules_are_written_once() -> None:
    """No module keeps its own copy of the formula prefixes or the control-character class."""
    formula_list = re.compile(r"""\(\s*["']=["'],\s*["']\+["'],\s*["']-["'],\s*["']@["']""")
    control_class = re.compile(r"\\x00-\\x1f\\x7f-\\x9f")
    offenders = []
    for room in ("core", "ingest", "local", "api", "compute", "reports"):
        for path in (ROOT / room).rglob("*.py"):
            if path.name == "text_safety.py":
                continue
            source = path.read_text()
            if formula_list.search(source) or control_class.search(source):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_terminal_rule_covers_controls_and_bidi_overrides() -> None:
    for char in ("\x00", "\x1b", "\t", "\n", "\r", "\x7f", "\x85", "\u202e", "\u2066"):
        assert TERMINAL_UNSAFE.search(f"a{char}b"), repr(char)
    assert not TERMINAL_UNSAFE.search("ÅÆ 東京 \u200d")
