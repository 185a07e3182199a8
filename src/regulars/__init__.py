"""regulars: turn one-time buyers into regulars.

Measure retention, predict who is leaving, act, listen and prove what worked.
The notebook entry points live in :mod:`regulars.api`.
"""

__version__ = "0.1.0"
