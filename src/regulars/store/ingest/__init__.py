"""Load an import (:class:`~regulars.data.importers.ImportResult`) into the store.

``ingest(engine, result)`` writes customers, products, orders and order lines in batches
(one transaction per batch), keyed on the natural keys. On PostgreSQL each batch is
``COPY``-ed into temporary staging tables (:mod:`regulars.store.staging`) and written with a
few set-based statements; on SQLite with SQLAlchemy Core bulk ``INSERT … ON CONFLICT`` of
the rows. It is idempotent: loading the same import twice changes nothing. See "Importing
exports" in ``docs/store.md``.

Rules:

* **customers** (key ``customer_id``): new ones are inserted from the import's customers
  table (else bare, from the orders' ``customer_id``); existing profiles are never touched —
  the store owns them (edits through the API, merges).
* **products** (key ``sku``): the distinct SKUs of the order lines; existing ones untouched.
* **orders** (key ``(shop_id, order_id)``): new ones inserted; an existing order whose
  :data:`ORDER_FACTS` differ from the import is updated (a later refund, a
  cancellation…); ``customer_id`` and ``created_at`` are never changed by an import.
* **order lines** have no natural key of their own: the lines of an order are replaced as a
  whole when the import's lines for that order differ from the stored ones. An order with no
  lines in the import keeps its stored lines.

Nothing customer-facing happens: no points, no messages.
"""

from regulars.store.ingest.counts import IngestCounts
from regulars.store.ingest.load import (
    DEFAULT_BATCH_SIZE,
    POSTGRES_BATCH_SIZE,
    count_batches,
    default_batch_size,
    ingest,
    require_head,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "POSTGRES_BATCH_SIZE",
    "IngestCounts",
    "count_batches",
    "default_batch_size",
    "ingest",
    "require_head",
]
