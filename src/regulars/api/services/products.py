"""Products: the catalogue, its price history and stock levels."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from regulars.api.schemas import (
    Page,
    PriceOut,
    ProductIn,
    ProductOut,
    ProductSummary,
    StockIn,
    StockOut,
)
from regulars.api.services.common import TABLES, conflict, icontains, not_found, paginate
from regulars.clock import utcnow
from regulars.store.tables import Product, ProductPrice, ProductStock
from regulars.store.upsert import dialect_insert, insert_ignoring_conflicts

PRODUCTS = TABLES["products"]
PRICES = TABLES["product_price_history"]
STOCK = TABLES["product_stock_history"]


def put_product(session: Session, sku: str, body: ProductIn) -> tuple[ProductOut, bool]:
    """Create or replace product ``sku``; returns it and whether it was created.

    A price that differs from the current one (or the first price) is appended to
    ``product_price_history``, valid from ``price_valid_from`` or now; a second change at
    the same instant overwrites that row. The same ``PUT`` again changes nothing.
    """
    conn = session.connection()
    now = utcnow()
    values = {"name": body.name, "category": body.category, "price": body.price}
    inserted = conn.execute(
        insert_ignoring_conflicts(conn, PRODUCTS).returning(PRODUCTS.c.id),
        {"sku": sku, **values, "created_at": now, "updated_at": now},
    ).first()
    created = inserted is not None
    price_changed = body.price is not None
    if not created:
        current = conn.execute(
            select(PRODUCTS.c.name, PRODUCTS.c.category, PRODUCTS.c.price).where(
                PRODUCTS.c.sku == sku
            )
        ).one()
        price_changed = price_changed and current.price != body.price
        if tuple(current) != (body.name, body.category, body.price):
            conn.execute(update(PRODUCTS).where(PRODUCTS.c.sku == sku).values(**values))
    if price_changed:
        insert = dialect_insert(conn, PRICES)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["sku", "valid_from"], set_={"price": insert.excluded.price}
            ),
            {"sku": sku, "price": body.price, "valid_from": body.price_valid_from or now},
        )
    return get_product(session, sku), created


def _summary(product: Product) -> ProductSummary:
    return ProductSummary.model_validate(product, from_attributes=True)


def get_product(session: Session, sku: str) -> ProductOut:
    """A product with its price history and latest stock level; 404 when unknown."""
    product = session.scalars(select(Product).where(Product.sku == sku)).one_or_none()
    if product is None:
        raise not_found(f"product '{sku}'")
    prices = session.scalars(
        select(ProductPrice).where(ProductPrice.sku == sku).order_by(ProductPrice.valid_from)
    ).all()
    stock = session.scalars(
        select(ProductStock)
        .where(ProductStock.sku == sku)
        .order_by(ProductStock.recorded_at.desc())
        .limit(1)
    ).one_or_none()
    return ProductOut(
        **dict(_summary(product)),
        price_history=[PriceOut.model_validate(p, from_attributes=True) for p in prices],
        stock=None if stock is None else StockOut.model_validate(stock, from_attributes=True),
    )


def list_products(
    session: Session,
    *,
    category: str | None = None,
    q: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> Page[ProductSummary]:
    """Products in the order they were created; ``q``: case-insensitive substring of the
    SKU or name."""
    query = select(Product)
    if category is not None:
        query = query.where(Product.category == category)
    if q:
        query = query.where(or_(icontains(Product.sku, q), icontains(Product.name, q)))
    return paginate(
        session,
        query,
        Product.id,
        limit=limit,
        cursor=cursor,
        render=lambda rows: [_summary(p) for p in rows],
    )


def record_stock(session: Session, sku: str, body: StockIn) -> tuple[StockOut, bool]:
    """Record the stock level of ``sku`` at ``recorded_at`` once; returns it and whether
    this call created it. The same level again is a replay; another quantity for the same
    instant is a 409; an unknown product a 404."""
    if session.scalar(select(Product.id).where(Product.sku == sku)) is None:
        raise not_found(f"product '{sku}'")
    conn = session.connection()
    inserted = conn.execute(
        insert_ignoring_conflicts(conn, STOCK).returning(STOCK.c.id),
        {"sku": sku, "quantity": body.quantity, "recorded_at": body.recorded_at},
    ).first()
    stored = conn.execute(
        select(STOCK.c.quantity).where(STOCK.c.sku == sku, STOCK.c.recorded_at == body.recorded_at)
    ).scalar_one()
    if stored != body.quantity:
        raise conflict(
            f"stock of '{sku}' at {body.recorded_at.isoformat()} is recorded as {stored}"
        )
    return StockOut(sku=sku, quantity=stored, recorded_at=body.recorded_at), inserted is not None
