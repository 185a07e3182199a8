"""What the endpoints do, independent of HTTP routing: one module per domain, one function
per use case, each a function of ``(session, body)``.

Every function works inside the caller's session (one transaction per request: the
routers' ``SessionDep``) and raises :class:`~regulars.api.problems.ApiProblemError` for
outcomes the client must see, so the same calls work from a notebook or a worker inside
:func:`regulars.store.session.session_scope`. Reactions to new orders and returns hook
in through :mod:`regulars.api.services.hooks`.
"""

from regulars.api.services.customer360 import customer_360
from regulars.api.services.customers import create_customer
from regulars.api.services.orders import load_orders, post_order, record_return

__all__ = ["create_customer", "customer_360", "load_orders", "post_order", "record_return"]
