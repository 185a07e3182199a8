"""The program types of :mod:`regulars.loyalty.programs`, live on the store.

* :mod:`.types`: registers the program types below with :mod:`regulars.loyalty.accounts`;
* :mod:`.models`: the state the rules need between orders (rewards, tier state, badges);
* :mod:`.apply`: applies a list of outcomes in the caller's transaction, idempotent by key;
* :mod:`.dispatch`: runs every active program over a customer's history on an order or a
  return (called from :mod:`regulars.loyalty.service`);
* :mod:`.quote`: what a cart gets from these programs at checkout (reads only);
* :mod:`.rewards`: listing and redeeming vouchers, badges and tier state;
* :mod:`.gifts`: the daily ``loyalty.gifts`` worker job.
"""
