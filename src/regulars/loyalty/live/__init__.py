"""Program types of :mod:`regulars.loyalty.programs` run against the store: partner
(coalition) transactions and settlement, charity donations with the company's match, and
prize draws. The pure rules decide; these modules read their inputs from the store, apply
the outcomes through :mod:`regulars.loyalty.ledger` and record what happened (migration
0006)."""
