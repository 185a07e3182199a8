"""regulars: turn one-time buyers into regulars.

Measure retention, predict who is leaving, act, listen and prove what worked.
The notebook entry point is :class:`regulars.Shop` (``from regulars import Shop``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Shop", "__version__"]

if TYPE_CHECKING:
    from regulars.shop import Shop


def __getattr__(name: str) -> Any:
    # Imported on first use: the analytics stack (Ibis, DuckDB) is heavy, and the CLI's
    # quick commands should not pay for it.
    if name == "Shop":
        from regulars.shop import Shop

        return Shop
    raise AttributeError(f"module 'regulars' has no attribute {name!r}")
