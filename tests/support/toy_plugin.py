"""The toy analysis, registered on import: what a layer shipping a plugin does.

The toy stack's execution environments import this before their handler
(``LocalStackOptions.preload``), so its functions, each in a process of its own, know the
toy as the test process does.
"""

from __future__ import annotations

import analyses  # noqa: F401 - the built-in ones first, as every Lambda entry has them
from core.analysis import analyses as registered
from core.analysis import register
from tests.support.toy_analysis import TOY

if TOY.name not in {analysis.name for analysis in registered()}:
    register(TOY)
