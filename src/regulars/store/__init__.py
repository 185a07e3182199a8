"""The operational store: SQLAlchemy models, engines and sessions, Alembic migrations.

See ``docs/store.md``. Quick start::

    from regulars.store import make_engine, session_scope, upgrade
    from regulars.store.tables import Customer

    engine = make_engine("sqlite:///regulars.db")
    upgrade(engine)
    with session_scope(engine) as session:
        session.add(Customer(customer_id="c1", email="ann@example.com"))
"""

from regulars.store.migrate import current_revision, downgrade, head_revision, upgrade
from regulars.store.session import make_engine, normalize_url, session_factory, session_scope

__all__ = [
    "current_revision",
    "downgrade",
    "head_revision",
    "make_engine",
    "normalize_url",
    "session_factory",
    "session_scope",
    "upgrade",
]
