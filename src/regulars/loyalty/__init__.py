"""The loyalty engine, by role (bottom up; a module imports only from the rows above it):

* :mod:`.tables`, :mod:`.errors`: the core tables and the errors callers see;
* :mod:`.program_types`: every program type as pure rules (configs, history to outcomes);
* :mod:`.program_cache`, :mod:`.catalogue`, :mod:`.webhooks`: the transaction's programs;
  program types, creating and finding programs; the events outbox and its delivery;
* :mod:`.accounting`: accounts (holders, enrolment, control groups) and the points ledger;
* :mod:`.program_store`: the program types on the store (their tables, the per-order
  dispatch, tier clubs, rewards, memberships, referrals, partners, charity, draws);
* :mod:`.merging`: a customer merge's loyalty part;
* :mod:`.points`: the points operations (earning on orders and actions, returns,
  redemptions and their cancellation, views and quotes, the nightly expiry);
* :mod:`.importing`, :mod:`.jobs`, :mod:`.economics`, :mod:`.simulation`: history import,
  the worker jobs, a program's economics and control-group effect, the what-if simulator.
"""
