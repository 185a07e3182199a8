"""Accounts and their ledger, shared by every program type: whose account a customer's
points go to, opening it and opting it out (:mod:`.enrolment`), who is held out in a
control group (:mod:`.control`) and the append-only ledger of entries over earn lots
(:mod:`.ledger`).

The points program earns into these accounts, a coalition program keeps its partners'
points in its own, a draw program counts an account as opting in, and charity, referral,
gift and stamp card points are credited or debited through the same ledger.
"""
