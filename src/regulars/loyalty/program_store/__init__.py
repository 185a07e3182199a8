"""The program types of :mod:`regulars.loyalty.program_types` on the store. The pure rules
decide; these modules read their inputs from the store, apply the outcomes through
:mod:`regulars.loyalty.accounting.ledger` and record what happened (revisions 0005 and
0006). The ``points`` type is the ledger's own (:mod:`regulars.loyalty.points`), which
calls into this package and is never called back.

* :mod:`.tables`: the state the rules need between orders (rewards, tier state, badges,
  partner transactions, donations, draws, memberships, referrals);
* :mod:`.history`: a customer's history from the store, as the rules read it;
* :mod:`.apply`: applies a list of outcomes in the caller's transaction, idempotent by key;
* :mod:`.dispatch`: runs every active program over a customer's history on an order, a
  return or a review (called from :mod:`regulars.loyalty.points`);
* :mod:`.tier_clubs`: a customer's tier in the tier clubs, evaluated from the stored state,
  and the tier an order earns its points at;
* :mod:`.quote`: what a cart gets from these programs at checkout (reads only);
* :mod:`.rewards`: listing and redeeming vouchers, badges and tier state;
* :mod:`.gifts`: birthday and holiday gifts due on a day (the daily job ``loyalty.gifts``);
* :mod:`.partners`, :mod:`.charity`, :mod:`.draws`, :mod:`.membership`, :mod:`.referrals`:
  coalition partners and their settlement, donations with the company's match, prize
  draws, paid memberships, referrals.

Their worker jobs are in :mod:`regulars.loyalty.jobs`.
"""
