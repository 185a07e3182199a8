"""Starting the API loads no analytics stack: Ibis, NumPy and PyArrow cost ~0.8–1.7 s at
every server and worker start and no request path needs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("ibis", "numpy", "pyarrow", "regulars.analytics.transactions", "regulars.engine")

PROBE = """
import json, sys
from regulars.api.app import create_app
create_app()
print(json.dumps({name: name in sys.modules for name in %r}))
"""


def test_importing_and_creating_the_app_loads_no_ibis(tmp_path: Path) -> None:
    """A fresh interpreter imports ``regulars.api.app`` and builds the app on its own
    (SQLite) store; none of the heavy modules is in ``sys.modules`` afterwards."""
    env = {**os.environ, "REGULARS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == dict.fromkeys(HEAVY, False)


def test_the_lazy_modules_still_load_on_use() -> None:
    """The deferred imports resolve: the package exports and the report functions work."""
    from regulars import analytics
    from regulars.loyalty.accounting import control

    assert callable(analytics.purchases)
    assert control.control_mask(["a", "b"], "p", 1.0).tolist() == [True, True]
