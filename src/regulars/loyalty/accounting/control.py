"""Control groups: which customers a program holds out (no account, no points), drawn so
that the draw needs no state.

**Assignment.** ``in_control_group(customer_id, program_code, share)`` is a salted hash:

    u = int(SHA-256("holdout:" + program_code + ":" + customer_id)[0:8], big-endian) / 2^64
    in control  ⇔  u < share

``u`` is uniform on [0, 1) for any set of distinct ids (SHA-256 output bits are, for all
practical purposes, independent of the input), so a share ``s`` holds out ≈ ``s`` of the
customers; the same customer and program always give the same answer (no state, no
random seed, stable across processes, machines and Python versions — Python's own
``hash()`` is salted per process and would not be); a different ``program_code`` gives
an independent draw, so one customer is not held out of every program. Raising the share
only adds customers to the control group, it never moves one out.

**Control unit.** In a ``shared_household`` program the draw is made for
``household:<household_id>`` for every customer of a household, so a household is wholly in
or out; otherwise for the customer id (:func:`control_unit`). What the program then changed
is measured against this group by :mod:`regulars.loyalty.economics.effect`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.analytics.validation import AnalysisArgumentError
from regulars.loyalty.catalogue import points_config
from regulars.loyalty.tables import LoyaltyProgram
from regulars.store.tables import Customer

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def assignment_unit(customer_id: str, salt: str) -> float:
    """The uniform number ``u`` in [0, 1) of the module docstring for one customer."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assignment_units(customer_ids: Sequence[str], salt: str) -> npt.NDArray[np.float64]:
    """``u`` for many customers at once, shape (n, 4): column 0 is :func:`assignment_unit`
    (bytes 0–7 of the digest), columns 1–3 the next three 8-byte words — independent
    uniform draws from the same hash, for callers that need several per customer."""
    # NumPy is imported here, not at the top: the API imports this module (through the
    # enrolment) and needs only in_control_group; NumPy, Ibis and the analytics cost
    # ~0.8–1.7 s at every server and worker start.
    import numpy as np

    digests = b"".join(hashlib.sha256(f"{salt}:{c}".encode()).digest() for c in customer_ids)
    words = np.frombuffer(digests, dtype=">u8").reshape(-1, 4)
    return words.astype(np.float64) / 2.0**64


def control_mask(
    customer_ids: Sequence[str], program_code: str, share: float
) -> npt.NDArray[np.bool_]:
    """:func:`in_control_group` for many customers at once."""
    _require_share(share)
    return assignment_units(customer_ids, f"holdout:{program_code}")[:, 0] < share


def in_control_group(customer_id: str, program_code: str, share: float) -> bool:
    """Whether ``customer_id`` is held out of ``program_code`` at a control ``share`` in
    [0, 1] (see the module docstring)."""
    _require_share(share)
    return assignment_unit(customer_id, f"holdout:{program_code}") < share


def _require_share(share: float) -> None:
    if not 0.0 <= share <= 1.0:
        raise AnalysisArgumentError(f"control share must be within [0, 1]; got {share!r}")


def control_share(program: LoyaltyProgram) -> float:
    """The program's control share (0 for program types without one)."""
    if program.type != "points":
        return 0.0
    return float(points_config(program).control_share)


def unit_of(shared_household: bool, customer_id: str, household_id: str | None) -> str:
    """What the control-group draw is made for: ``household:<household_id>`` for a customer
    of a household in a ``shared_household`` program, else the customer id."""
    if shared_household and household_id:
        return f"household:{household_id}"
    return customer_id


def control_unit(session: Session, program: LoyaltyProgram, customer_id: str) -> str:
    """:func:`unit_of` the customer in ``program``."""
    household = None
    if program.shared_household:
        household = session.scalar(
            select(Customer.household_id).where(Customer.customer_id == customer_id)
        )
    return unit_of(program.shared_household, customer_id, household)
