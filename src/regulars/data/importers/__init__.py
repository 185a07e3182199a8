"""Importers: shop exports (CSV, Parquet, XLSX; Shopify, WooCommerce or canonical
columns) → the canonical ``orders``, ``order_lines`` and ``customers`` tables, with every
row that could not be imported listed in a rejects table.

    >>> from regulars.data.importers import read_orders
    >>> result = read_orders(["orders.csv"], timezone="Europe/Berlin")  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP

See ``docs/importing.md`` for the user guide and ``docs/data-model.md`` for the tables.
"""

from regulars.data.importers.mapping import (
    ColumnMapping,
    MappingError,
    load_mapping_file,
    parse_mapping,
)
from regulars.data.importers.order_lines import read_order_lines
from regulars.data.importers.pipeline import read_orders
from regulars.data.importers.result import ImportResult

__all__ = [
    "ColumnMapping",
    "ImportResult",
    "MappingError",
    "load_mapping_file",
    "parse_mapping",
    "read_order_lines",
    "read_orders",
]
