"""Import first (before numpy) to run the bench as the functions run: template.yaml's Globals
set ``OPENBLAS_NUM_THREADS=1``, so this sets it unless the environment says otherwise;
``OPENBLAS_NUM_THREADS=default`` leaves OpenBLAS its own choice (a thread per core). The
scripts' headers print which was used.
"""

from __future__ import annotations

import os

__all__: list[str] = []

if os.environ.get("OPENBLAS_NUM_THREADS") == "default":
    del os.environ["OPENBLAS_NUM_THREADS"]
else:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
