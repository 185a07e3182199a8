"""Per-customer scores: the analytics plane's answers written back to the store.

* :mod:`~regulars.scoring.refresh`: store → engine → ``customer_scores`` (the nightly
  ``scores.refresh`` job and ``regulars scores refresh``);
* :mod:`~regulars.scoring.contribution`: the job, the merge rule and the Customer 360
  section this domain adds to the others.

Nothing is imported here: the refresh needs the analytics stack (Ibis, NumPy), which the
API must not load at start.
"""
