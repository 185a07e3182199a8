"""The demo shop's assortment: about 200 products in 8 categories.

Model. Category c has a log-normal price distribution (median m_c, log-sd σ_c); each
price is rounded to a "charm" price (x.99, x.95 or x.49). Within a category, product
popularity follows Zipf weights 1/rank^0.9 over a random ranking. Categories themselves
have popularity weights (how often a basket line comes from them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from regulars.data.demo.money import money_array


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name: str
    median_price: float  # €
    price_sigma: float  # sd of log price
    popularity: float
    nouns: tuple[str, ...]


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "COF", "Coffee & Tea", 9.0, 0.45, 0.22,
        ("Espresso Beans", "Filter Coffee", "Green Tea", "Black Tea", "Herbal Tea",
         "Chai Blend", "Cold Brew", "Decaf Beans", "Matcha", "Rooibos"),
    ),
    CategorySpec(
        "PAN", "Pantry", 6.0, 0.5, 0.16,
        ("Olive Oil", "Pasta", "Honey", "Granola", "Chocolate Bar", "Spice Mix",
         "Jam", "Balsamic Vinegar", "Sea Salt", "Cookies"),
    ),
    CategorySpec(
        "KIT", "Kitchen", 28.0, 0.6, 0.12,
        ("Mug", "Teapot", "Pour-Over Set", "Chef Knife", "Cutting Board", "Grinder",
         "Storage Jar", "Milk Frother", "Tea Towel", "Bowl Set"),
    ),
    CategorySpec(
        "HOM", "Home & Living", 35.0, 0.7, 0.12,
        ("Candle", "Throw Blanket", "Cushion", "Vase", "Plant Pot", "Picture Frame",
         "Table Lamp", "Doormat", "Wall Hook", "Basket"),
    ),
    CategorySpec(
        "CAR", "Personal Care", 12.0, 0.5, 0.14,
        ("Hand Soap", "Body Lotion", "Shampoo Bar", "Lip Balm", "Face Cream",
         "Bath Salts", "Toothbrush", "Hand Cream", "Shower Gel", "Sunscreen"),
    ),
    CategorySpec(
        "STA", "Books & Stationery", 14.0, 0.5, 0.09,
        ("Notebook", "Cookbook", "Fountain Pen", "Planner", "Greeting Card",
         "Sketchbook", "Pencil Set", "Wrapping Paper", "Novel", "Calendar"),
    ),
    CategorySpec(
        "TOY", "Toys & Games", 25.0, 0.6, 0.07,
        ("Puzzle", "Board Game", "Card Game", "Wooden Toy", "Plush Bear", "Kite",
         "Building Blocks", "Marble Run", "Yo-Yo", "Memory Game"),
    ),
    CategorySpec(
        "ACC", "Bags & Accessories", 45.0, 0.6, 0.08,
        ("Tote Bag", "Backpack", "Wallet", "Scarf", "Umbrella", "Sunglasses",
         "Beanie", "Key Ring", "Water Bottle", "Lunch Box"),
    ),
)  # fmt: skip

_VARIANTS = (
    "Classic", "Organic", "Premium", "Everyday", "Nordic", "Vintage", "Mini", "Large",
    "Deluxe", "Eco", "Urban", "Heritage", "Travel", "Family", "Signature",
)  # fmt: skip
_PRODUCTS_PER_CATEGORY = 25
_CHARM_CENTS = np.array([99, 95, 49])
_CHARM_PROBS = np.array([0.7, 0.15, 0.15])
_ZIPF_EXPONENT = 0.9
# Nearest-price lookups use a table over price steps instead of a binary search per line.
_PRICE_STEP_CENTS = 10
_PRICE_STEPS = 10_000  # up to €1,000


def _price_step(target_cents: NDArray[np.float64]) -> NDArray[np.int64]:
    steps = np.rint(target_cents / _PRICE_STEP_CENTS).astype(np.int64)
    return np.clip(steps, 0, _PRICE_STEPS - 1)


def _nearest_by_step(prices: NDArray[np.int64], products: NDArray[np.int64]) -> NDArray[np.int16]:
    """For each price step, the product (of ``products``, sorted by price) closest to it."""
    targets = np.arange(_PRICE_STEPS) * _PRICE_STEP_CENTS
    above = np.clip(np.searchsorted(prices, targets), 0, len(prices) - 1)
    below = np.maximum(above - 1, 0)
    closer_below = np.abs(prices[below] - targets) < np.abs(prices[above] - targets)
    return products[np.where(closer_below, below, above)].astype(np.int16)


def _nearest_table(category: NDArray[np.int64], prices: NDArray[np.int64]) -> NDArray[np.int16]:
    """Rows per category, then one over the whole catalogue (products sorted by category,
    then price)."""
    numbers = np.arange(len(prices), dtype=np.int64)
    rows = [
        _nearest_by_step(prices[category == c], numbers[category == c])
        for c in range(len(CATEGORIES))
    ]
    by_price = np.argsort(prices, kind="stable")
    rows.append(_nearest_by_step(prices[by_price], by_price))
    return np.vstack(rows)


@dataclass(frozen=True)
class Catalog:
    """Products sorted by (category, price); arrays are indexed by product number."""

    sku: pa.StringArray
    name: pa.StringArray
    category_name: pa.StringArray  # per product
    category: NDArray[np.int64]
    price_cents: NDArray[np.int64]  # current list price
    category_weights: NDArray[np.float64]
    # category + cumulative within-category popularity, strictly increasing, in (c, c+1].
    popularity_key: NDArray[np.float64]
    # Row c < 8: nearest product of category c for each price step; last row: any category.
    nearest_table: NDArray[np.int16]

    def __len__(self) -> int:
        return len(self.price_cents)

    def by_popularity(
        self, category: NDArray[np.int64], u: NDArray[np.float64]
    ) -> NDArray[np.int64]:
        """Inverse-CDF draw of a product from ``category`` with uniforms ``u`` ∈ [0, 1)."""
        return np.searchsorted(self.popularity_key, category + u, side="right")

    def nearest_price(
        self, category: NDArray[np.int64], target_cents: NDArray[np.float64]
    ) -> NDArray[np.int64]:
        """The product of ``category`` whose list price is closest to the target (to within
        half a price step; targets beyond the table get the dearest product)."""
        return np.asarray(self.nearest_table[category, _price_step(target_cents)], dtype=np.int64)

    def nearest_price_any(self, target_cents: NDArray[np.float64]) -> NDArray[np.int64]:
        """The product of any category whose list price is closest to the target."""
        return np.asarray(self.nearest_table[-1, _price_step(target_cents)], dtype=np.int64)

    def to_arrow(self) -> pa.Table:
        """The ``products`` table."""
        return pa.table(
            {
                "sku": self.sku,
                "name": self.name,
                "category": self.category_name,
                "price": money_array(self.price_cents),
            }
        )


def _charm_prices(rng: np.random.Generator, spec: CategorySpec, n: int) -> NDArray[np.int64]:
    euros = np.exp(np.log(spec.median_price) + spec.price_sigma * rng.standard_normal(n))
    whole = np.maximum(np.round(euros), 2).astype(np.int64)
    cents = rng.choice(_CHARM_CENTS, size=n, p=_CHARM_PROBS)
    return np.asarray(whole * 100 - 100 + cents, dtype=np.int64)


def _names(rng: np.random.Generator, spec: CategorySpec, n: int) -> list[str]:
    pairs = rng.choice(len(_VARIANTS) * len(spec.nouns), size=n, replace=False)
    return [f"{_VARIANTS[i // len(spec.nouns)]} {spec.nouns[i % len(spec.nouns)]}" for i in pairs]


def build_catalog(rng: np.random.Generator) -> Catalog:
    """Draw the assortment; sorted by category, then price, for fast nearest-price search."""
    k = _PRODUCTS_PER_CATEGORY
    prices = np.concatenate([_charm_prices(rng, spec, k) for spec in CATEGORIES])
    names = [name for spec in CATEGORIES for name in _names(rng, spec, k)]
    category = np.repeat(np.arange(len(CATEGORIES), dtype=np.int64), k)
    sku_numbers = np.concatenate([rng.permutation(k) + 101 for _ in CATEGORIES])
    skus = [f"{CATEGORIES[c].code}-{num}" for c, num in zip(category, sku_numbers, strict=True)]
    ranks = np.concatenate([rng.permutation(k) + 1 for _ in CATEGORIES])
    weight = ranks.astype(np.float64) ** -_ZIPF_EXPONENT

    order = np.lexsort((prices, category))
    category, prices, weight = category[order], prices[order], weight[order]
    within = np.cumsum(weight.reshape(len(CATEGORIES), k), axis=1)
    within = (within / within[:, -1:]).ravel()
    weights = np.array([spec.popularity for spec in CATEGORIES])
    return Catalog(
        sku=pa.array([skus[i] for i in order], pa.string()),
        name=pa.array([names[i] for i in order], pa.string()),
        category_name=pa.array([CATEGORIES[c].name for c in category], pa.string()),
        category=category,
        price_cents=prices,
        category_weights=weights / weights.sum(),
        popularity_key=category + within,
        nearest_table=_nearest_table(category, prices),
    )
