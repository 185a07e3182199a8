"""What the customers domain adds to the others: the merge rules of the store's own
customer-keyed tables (orders, returns, events, aliases, consents)."""

from __future__ import annotations

from regulars.customers.merge import CORE_MERGE_RULES
from regulars.domain import Contribution

CONTRIBUTION = Contribution("customers", merge_rules=CORE_MERGE_RULES)
