"""Text handed to other programs: spreadsheets (formula injection) and terminals.

Two rules every room that exports or prints untrusted text follows, written once:

* :func:`spreadsheet_safe` — a CSV cell a spreadsheet would evaluate as a formula gets a
  leading ``'`` (OWASP, "CSV Injection"): every CSV we export (the quarantine's
  ``rows.csv``, ``stratigos sql --format csv``) passes its text cells through it.
* :data:`TERMINAL_UNSAFE` — control characters and bidi overrides, which a terminal acts
  on (escape sequences, reordered lines) or which break one-line-per-record output: never
  copied into object keys or lineage (ingest), shown escaped in ``stratigos sql``'s table.

Stdlib only: it ships in every Lambda through the core layer.

Examples
--------
>>> spreadsheet_safe("=1+1"), spreadsheet_safe(" =1+1"), spreadsheet_safe("\\uff1d1+1")
("'=1+1", "' =1+1", "'\\uff1d1+1")
>>> spreadsheet_safe("AAPL"), spreadsheet_safe("")
('AAPL', '')
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = [
    "FORMULA_ESCAPE",
    "FORMULA_TRIGGERS",
    "LEADING_CELL_BREAKS",
    "TERMINAL_UNSAFE",
    "TYPED_TEXT_UNSAFE_CLASS",
    "spreadsheet_safe",
    "starts_like_formula",
]

#: What a spreadsheet evaluates a cell starting with (OWASP's list, after normalisation).
FORMULA_TRIGGERS: Final = frozenset("=+-@")
#: Characters that must not open a cell at all: tab and the line breaks (OWASP names tab
#: and CR; a leading LF hides what follows the same way in a cell shown on one line).
LEADING_CELL_BREAKS: Final = frozenset("\t\r\n")
#: The prefix that makes a spreadsheet show the cell as text.
FORMULA_ESCAPE: Final = "'"

#: Text a person typed may not hold these (a regex class, ``\uXXXX`` escapes that Python
#: and ECMA regexes both read, so an OpenAPI pattern can carry it): C0 controls but tab, LF
#: and CR, DEL, C1 controls and the bidi embeddings, overrides and isolates
#: (U+202A-U+202E, U+2066-U+2069), which reorder what a reader sees ("Trojan Source").
TYPED_TEXT_UNSAFE_CLASS: Final = (
    r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
)
#: The same, tab, LF and CR included: what a terminal acts on or a one-line record breaks on.
TERMINAL_UNSAFE: Final = re.compile(f"[\\t\\n\\r{TYPED_TEXT_UNSAFE_CLASS}]")

# Unicode categories skipped before the first meaningful character: controls and
# invisible format characters (zero-width space, BOM, bidi marks).
_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf"})


def _first_visible(text: str) -> str:
    """The first character of ``text`` after whitespace and invisible characters ("" if none)."""
    for char in text:
        if char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            continue
        return char
    return ""


def starts_like_formula(text: str) -> bool:
    """Whether a spreadsheet could take the cell ``text`` for a formula.

    Parameters
    ----------
    text : str
        The cell as it will be written.

    Returns
    -------
    bool
        True when the cell starts with tab, CR or LF, or when its first character after
        whitespace and invisible characters, NFKC-normalised (so full-width ``＝``, small
        ``﹢`` and similar forms count as ``=`` and ``+``), is one of ``= + - @``.
    """
    if not text:
        return False
    if text[0] in LEADING_CELL_BREAKS:
        return True
    first = _first_visible(text)
    # NFKC can expand one character into several (e.g. U+2474 "⑴" → "(1)"): its first.
    return unicodedata.normalize("NFKC", first)[:1] in FORMULA_TRIGGERS


def spreadsheet_safe(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text, never runs.

    Parameters
    ----------
    text : str
        A text cell (the caller decides which cells are text: a number a program wrote
        from a numeric column, such as ``-1.5``, is not a formula and need not pass here).

    Returns
    -------
    str
        ``text`` unchanged, or with a leading ``'`` when :func:`starts_like_formula`. The
        CSV writer still quotes the cell as RFC 4180 requires.
    """
    return FORMULA_ESCAPE + text if starts_like_formula(text) else text
