"""Privacy of the operational store: the customer's data export and erasure (GDPR articles 15
and 17), pseudonyms keyed with the server secret, and reading the audit log.

See ``docs/privacy.md``. From a notebook::

    from regulars.privacy import erase_customer, export_customer, server_secret
    from regulars.store import make_engine, session_scope
    from regulars.wiring import customer_plan

    url = "sqlite:///regulars.db"
    with session_scope(make_engine(url)) as session:
        document = export_customer(session, "C000042", actor="notebook",
                                   secret=server_secret(url), plan=customer_plan())

The plan covers every installed domain's tables (:func:`regulars.wiring.customer_plan`);
export and erasure take it explicitly, so neither can run over part of the store.
"""

from regulars.privacy.audit_log import AuditFilter, AuditPage, audit_page
from regulars.privacy.plan import CustomerPlan, customer_plan
from regulars.privacy.rights import (
    EXPORT_FORMAT,
    Erasure,
    UnknownCustomerError,
    erase_customer,
    export_customer,
)
from regulars.privacy.secret import pseudonym, server_secret

__all__ = [
    "EXPORT_FORMAT",
    "AuditFilter",
    "AuditPage",
    "CustomerPlan",
    "Erasure",
    "UnknownCustomerError",
    "audit_page",
    "customer_plan",
    "erase_customer",
    "export_customer",
    "pseudonym",
    "server_secret",
]
