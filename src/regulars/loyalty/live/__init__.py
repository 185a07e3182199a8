"""The program types of :mod:`regulars.loyalty.program_types`, live on the store. The pure rules
decide; these modules read their inputs from the store, apply the outcomes through
:mod:`regulars.loyalty.accounting.ledger` and record what happened (revisions 0005 and 0006).

* :mod:`.tables`: the state the rules need between orders (rewards, tier state, badges,
  partner transactions, donations, draws, memberships, referrals);
* :mod:`.apply`: applies a list of outcomes in the caller's transaction, idempotent by key;
* :mod:`.dispatch`: runs every active program over a customer's history on an order or a
  return (called from :mod:`regulars.loyalty.service`);
* :mod:`.quote`: what a cart gets from these programs at checkout (reads only);
* :mod:`.rewards`: listing and redeeming vouchers, badges and tier state;
* :mod:`.gifts`: the daily ``loyalty.gifts`` worker job;
* :mod:`.partners`, :mod:`.charity`, :mod:`.draws`, :mod:`.membership`, :mod:`.referrals`:
  coalition partners and their settlement, donations with the company's match, prize
  draws, paid memberships, referrals; :mod:`.jobs` their daily worker jobs.
"""
