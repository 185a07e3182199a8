"""The economics of a points program: what it owes and what it costs, and whether it
changes what customers do.

* :mod:`.measures`: liability, points flow, breakage, reward cost, ROI and break-even over
  ledger-shaped entries (the one definition for a simulated and a running program);
* :mod:`.results`: their result rows, apart so that the API can declare them without
  loading Ibis;
* :mod:`.ledger_mapping`: the live ledger mapped onto the entries contract, a running
  program's economics;
* :mod:`.holdout` and :mod:`.effect`: members against the control group
  (:mod:`regulars.loyalty.accounting.control` draws it), with Newcombe and Welch intervals.

Nothing here is imported by this package itself: the API reads the result rows and the
effect's types, and only the reports load the analytics stack.
"""
