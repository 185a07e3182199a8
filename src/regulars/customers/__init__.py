"""Customers as one person: merge aliases and merging duplicates (``docs/api.md``).

* :mod:`~regulars.customers.aliases`: the id a merged-away customer id stands for now;
* :mod:`~regulars.customers.profile`: the plain profile fields;
* :mod:`~regulars.customers.merge`: merging a duplicate into a survivor with the merge
  rules every domain contributes (:class:`regulars.domain.MergeRule`).
"""
