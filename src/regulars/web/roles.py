"""What each role of the web app may do: one permission per kind of page or change.

``owner`` may do everything (users, API keys); ``marketer`` reads everything and changes
segments, loyalty programs and campaigns and exports customer lists; ``agent`` works with
customers (and later conversations, feedback); ``viewer`` only reads.
"""

from __future__ import annotations

from enum import StrEnum

from regulars.store.tables import USER_ROLES


class Permission(StrEnum):
    DASHBOARD = "dashboard:read"
    DASHBOARD_REFRESH = "dashboard:refresh"
    CUSTOMERS = "customers:read"
    CUSTOMERS_EXPORT = "customers:export"
    LOYALTY = "loyalty:read"
    LOYALTY_WRITE = "loyalty:write"
    SETTINGS = "settings:admin"
    IMPORT = "data:import"


_READ = frozenset({Permission.DASHBOARD, Permission.CUSTOMERS, Permission.LOYALTY})

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "owner": frozenset(Permission),
    "marketer": _READ
    | {
        Permission.CUSTOMERS_EXPORT,
        Permission.LOYALTY_WRITE,
        Permission.DASHBOARD_REFRESH,
        Permission.IMPORT,
    },
    "agent": _READ,
    "viewer": _READ,
}
assert set(ROLE_PERMISSIONS) == set(USER_ROLES)  # one list of roles: the table's CHECK


def allows(role: str, permission: Permission) -> bool:
    """Whether ``role`` has ``permission`` (an unknown role has none)."""
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
