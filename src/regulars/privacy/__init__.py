"""Privacy of the operational store: the customer's data export and erasure (GDPR articles 15
and 17), pseudonyms keyed with the server secret, and reading the audit log.

See ``docs/privacy.md``. From a notebook::

    from regulars.privacy import erase_customer, export_customer, server_secret
    from regulars.store import make_engine, session_scope

    url = "sqlite:///regulars.db"
    with session_scope(make_engine(url)) as session:
        document = export_customer(session, "C000042", actor="notebook",
                                   secret=server_secret(url))
"""

from regulars.privacy.audit_log import AuditFilter, AuditPage, audit_page
from regulars.privacy.plan import NOT_CUSTOMER_DATA, CustomerPlan, customer_plan
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
    "NOT_CUSTOMER_DATA",
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
