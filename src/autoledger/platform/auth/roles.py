"""Roles and scopes: keys hold roles, routes need scopes, ROLE_SCOPES joins the two.

One table decides every authorization; tests/security/test_authorization_matrix.py checks
every route against it.
"""

from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    """What a route needs. Keys never hold scopes directly: they hold roles (below)."""

    PROFILE_READ = "profile:read"
    LEDGER_READ = "ledger:read"
    LEDGER_WRITE = "ledger:write"
    ENTRIES_APPROVE = "entries:approve"
    PERIODS_CLOSE = "periods:close"
    KEYS_MANAGE = "keys:manage"
    AUDIT_READ = "audit:read"
    EVENTS_READ = "events:read"
    EVENTS_REPLAY = "events:replay"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_MANAGE = "webhooks:manage"
    BANKING_READ = "banking:read"
    BANKING_WRITE = "banking:write"
    BOOKKEEPING_READ = "bookkeeping:read"
    BOOKKEEPING_REVIEW = "bookkeeping:review"
    BOOKKEEPING_MANAGE = "bookkeeping:manage"
    RECONCILE_READ = "reconcile:read"
    RECONCILE_WRITE = "reconcile:write"
    RECONCILE_MANAGE = "reconcile:manage"
    REPORTS_READ = "reports:read"
    PII_REVEAL = "pii:reveal"


class Role(StrEnum):
    """What a key is for; each role grants a fixed set of scopes (ROLE_SCOPES)."""

    ADMIN = "admin"
    ACCOUNTANT = "accountant"
    APPROVER = "approver"
    VIEWER = "viewer"
    AUDITOR = "auditor"
    AGENT = "agent"


_READ = {
    Scope.PROFILE_READ,
    Scope.LEDGER_READ,
    Scope.BANKING_READ,
    Scope.BOOKKEEPING_READ,
    Scope.RECONCILE_READ,
    Scope.REPORTS_READ,
}
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    # books entries and keeps the books; approves holds; no keys, no audit, no period close
    Role.ACCOUNTANT: frozenset(
        _READ
        | {
            Scope.LEDGER_WRITE,
            Scope.BANKING_WRITE,
            Scope.BOOKKEEPING_REVIEW,
            Scope.RECONCILE_WRITE,
            Scope.ENTRIES_APPROVE,
            Scope.EVENTS_READ,
            Scope.WEBHOOKS_READ,
        }
    ),
    # posts or voids pending entries others created (two-person rule for holds)
    Role.APPROVER: frozenset(_READ | {Scope.ENTRIES_APPROVE}),
    Role.VIEWER: frozenset(_READ | {Scope.EVENTS_READ, Scope.WEBHOOKS_READ}),
    # reads everything, including the audit log and sensitive fields; changes nothing
    Role.AUDITOR: frozenset(
        _READ | {Scope.AUDIT_READ, Scope.EVENTS_READ, Scope.WEBHOOKS_READ, Scope.PII_REVEAL}
    ),
    # an automation: books entries (as proposals later), nothing administrative
    Role.AGENT: frozenset(_READ | {Scope.LEDGER_WRITE, Scope.BANKING_WRITE}),
}


def scopes_of(roles: Iterable[Role | str]) -> frozenset[Scope]:
    return frozenset(scope for role in roles for scope in ROLE_SCOPES[Role(role)])
