"""The "is it worth it?" simulator: replay the shop's own orders under a proposed program.

Every purchase (``analytics.transactions.purchases``) of an enrolled customer in the
replay window ``[start, end)`` is run through the program's rules, and the simulator
writes the ledger entries the live program would have written (earn, spend, expire; see
:mod:`regulars.loyalty.economics.measures` for their contract). Monthly points flows, liability
and breakage are then computed *from those entries* with the same functions that run on
the live ledger.

**Behavioural assumptions** (:class:`Assumptions`, all documented defaults):

* *enrolment*: a share of the customers joins (at their first purchase in the window);
  who joins is a salted hash of the customer id, so a rerun gives the same members;
* *redeemers*: a share of the members ever redeems; the others only earn (their points
  expire or stay outstanding — breakage);
* *timing*: a redeemer redeems at a purchase as soon as the points available before it
  are worth at least ``redeem_threshold_value``; they then redeem as much as the rules
  allow (``max_redeemable``: the balance, and ``max_redeem_share`` of the order);
* *expected breakage* of the points still outstanding at the end (for the cost of the
  liability); by default the breakage the simulation itself produced.

**Rules applied, per purchase of a member** (the program file's ``[rules]`` is a whole
``points`` program config, :class:`~regulars.loyalty.program_types.bonus.PointsProgramConfig`,
and its optional ``[tiers]`` a ``tiers`` program,
:class:`~regulars.loyalty.program_types.tiers.TierClubConfig`; definitions in
:mod:`regulars.loyalty.simulation.rules`):

1. tier = the member's tier in the ``[tiers]`` club at the order's instant, this order
   included (upgrades are immediate), from the club's own ``tiers.evaluate`` — upgrade at
   once, evaluation at each window's end, grace, downgrade — on the member's purchases
   (value = net amount at the order); only members whose window spend reaches the lowest
   threshold are evaluated. ``basis = "points"`` is refused (a points-based tier depends on
   the points it multiplies);
2. points = ``floor(B × earn_per_unit × tier multiplier × M)`` + the first-purchase fixed
   points, exactly ``earn_for_purchase`` (``B``: Σ lines × SKU/category multiplier when the
   shop has order lines, else the net amount; ``M``: the largest period or first-purchase
   multiplier that applies, non-stacking), computed columnar with exact integer fractions;
   points are earned on the net amount (what a return took back is already deducted, as
   the ledger's ``reverse_earn`` would; with lines, every line is scaled by the kept
   share);
3. the lot becomes spendable ``pending_days`` after the order's day and expires
   ``expiry_days`` after it (at the start of that day);
4. the ``discount_pct`` of the tier held *before* the order (the discount is granted at
   checkout; an upgrade the order brings gives its discount from the next order) of the
   net amount is a reward cost too.

**FIFO without a per-order loop.** All lots of a member have the same life, so the
oldest-expiring lot is the oldest lot, and FIFO spending and expiry consume one prefix
of the member's lots. Let ``L_i`` be the cumulative points of lots ``1..i`` and ``S(t)``
the points spent before ``t``. The points consumed (spent or expired) by ``t`` are

    D(t) = S(t) + max(0, max_{i : e_i ≤ t} (L_i − S(e_i)))

(the running maximum is the points that have expired: every expiry at ``e_i`` lifts the
consumed total to at least ``L_i``). So the expiry of each lot is a grouped running
maximum over sorted arrays (numpy), once the spends are known; the spends themselves
need the available balance ``matured points − D(t)`` at each order, which is computed
rank by rank (every member's 1st purchase at once, then every 2nd…): a loop of
max-orders-per-member numpy steps, vectorised over members — not a loop over orders.
Not simulated: action bonuses (not in an order history; the notes say so), household
accounts, paid-membership multipliers. A pure-Python replay, order by order and lot by
lot, built on ``earn_for_purchase``, ``tiers.evaluate`` and ``max_redeemable`` is the
test oracle.

The modules, in the order a simulation runs them: :mod:`.proposal` (the proposed program
and the assumptions, from TOML), :mod:`.history` (the members' purchases as arrays),
:mod:`.replay` and :mod:`.rules` (tiers, points and discounts per order, columnar),
:mod:`.lots` (redeeming and expiring, FIFO), :mod:`.entries` (the ledger entries),
:mod:`.totals` (monthly rows, totals, cost by part), :mod:`.result` (the simulation and its
verdict) and :mod:`.simulator` (:func:`~.simulator.simulate_program`, the whole run).
"""
