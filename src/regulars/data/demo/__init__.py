"""A seeded synthetic shop that behaves like a real one, for demos, docs and tests.

``generate_demo`` simulates customers with a buy-till-you-die process (with a core of
near-periodic regulars), seasonal and weekly rhythms, Gamma-Gamma spend, baskets from a
200-product catalogue, refunds and till returns, and writes the canonical tables. The
model and its parameters are documented in ``docs/demo-data.md``.
"""

from regulars.data.demo.generate import DemoParameterError, DemoShop, generate_demo
from regulars.data.demo.params import DEFAULT_PARAMS, ChannelProfile, DemoParams

__all__ = [
    "DEFAULT_PARAMS",
    "ChannelProfile",
    "DemoParameterError",
    "DemoParams",
    "DemoShop",
    "generate_demo",
]
