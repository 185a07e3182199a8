"""The points operations on the accounts of :mod:`regulars.loyalty.accounting`: earning
on orders (:mod:`.earning`) and on actions (:mod:`.action_bonuses`), reversing on returns
(:mod:`.returns`), redeeming and adjusting (:mod:`.redemption`), cancelling redemptions
(:mod:`.cancellation`), what an account and a cart show (:mod:`.views`) and the nightly
expiry (:mod:`.expiry`).

Each function works in the caller's session (one transaction) and raises the errors of
:mod:`regulars.loyalty.errors` for outcomes a caller must see. An order earns at the tier
the customer reaches in the running tier clubs and at their paid-membership multiplier, and
is then run through the other program types (:mod:`regulars.loyalty.program_store`): this
package sits above those, which never call back into it.
"""
