"""Who acts on the operator API, and how much of it is known rather than claimed.

Two credentials reach the operator routes. A function key proves only that the caller holds
the key: the name it gives (the body's `by` / `requested_by`, or an `x-ms-client-principal-name`
header it set itself) is a claim. Where App Service authentication (Easy Auth, Entra ID) fronts
the app, Easy Auth validates the sign-in, strips client-sent `x-ms-client-principal*` headers and
sets its own: only then, said by the APP_SERVICE_AUTH_ENABLED setting, are they evidence.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from failover.domain.config import Approvers
from failover.domain.operator_bodies import BadRequest, clean_name

PRINCIPAL_NAME_HEADER = "x-ms-client-principal-name"
PRINCIPAL_ID_HEADER = "x-ms-client-principal-id"
PRINCIPAL_HEADER = "x-ms-client-principal"  # base64 JSON: {auth_typ, name_typ, role_typ, claims: [{typ, val}]}
FUNCTION_KEY_HOLDER = "function key holder"
VIA_EASY_AUTH = "app service authentication (Entra ID)"
VIA_FUNCTION_KEY = "function key"
MAX_LABEL = 200  # FailoverRequest.requested_by and the audit's actor hold this much
_MAX_PRINCIPAL_CHARS = 32 * 1024
_GROUP_CLAIMS = frozenset({"groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"})
_ROLE_CLAIMS = frozenset({"roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"})


@dataclass(frozen=True)
class Actor:
    name: str
    verified: bool
    claimed_in: str  # the header or body field the name came from
    principal_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        """What the audit, the report and the answer show: never an unverified name on its own."""
        if self.verified:
            return self.name
        prefix = f"{FUNCTION_KEY_HOLDER} (unverified: "
        return f"{prefix}{self.name[:MAX_LABEL - len(prefix) - 1]})"

    def audit(self) -> dict[str, Any]:
        return {"name": self.name, "verified": self.verified, "claimed_in": self.claimed_in,
                "credential": VIA_EASY_AUTH if self.verified else VIA_FUNCTION_KEY,
                "principal_id": self.principal_id}


class _Claim(BaseModel):
    model_config = ConfigDict(extra="ignore")

    typ: str
    val: str


class _ClientPrincipal(BaseModel):
    model_config = ConfigDict(extra="ignore")

    auth_typ: str | None = None
    name_typ: str | None = None
    role_typ: str | None = None
    claims: list[_Claim] = []


def identify(headers: Mapping[str, str], claimed: str | None, field: str, *, authenticated: bool) -> Actor:
    """The actor of a request. ``authenticated``: the app runs behind App Service authentication."""
    header = headers.get(PRINCIPAL_NAME_HEADER)
    if authenticated:
        if header is None:  # Easy Auth lets nothing unauthenticated through to these routes
            raise BadRequest(401, "App Service authentication is on, but no signed-in principal reached the "
                                  f"app ({PRINCIPAL_NAME_HEADER} is missing)", PRINCIPAL_NAME_HEADER)
        roles, groups = _claims(headers.get(PRINCIPAL_HEADER))
        principal_id = headers.get(PRINCIPAL_ID_HEADER)
        return Actor(_header_name(header, PRINCIPAL_NAME_HEADER), True, PRINCIPAL_NAME_HEADER,
                     _header_name(principal_id, PRINCIPAL_ID_HEADER) if principal_id else None, roles, groups)
    if header is not None:  # sent by the caller itself: a claim like any other
        return Actor(_header_name(header, PRINCIPAL_NAME_HEADER), False, PRINCIPAL_NAME_HEADER)
    if claimed is None:
        raise BadRequest(422, f"{field}: required (who is acting)", field)
    return Actor(claimed, False, field)


def approver_refusal(actor: Actor, approvers: Approvers | None, pair: str) -> str | None:
    """Why this actor may not approve or reject for the pair; None when it may."""
    if approvers is None:
        return None
    wanted = ", ".join([*(f"role {r}" for r in approvers.roles), *(f"group {g}" for g in approvers.groups)])
    if not actor.verified:
        return (f"approvals of pair {pair!r} are restricted to {wanted}: they need a caller signed in through "
                "App Service authentication, not a function key")
    if actor.roles & set(approvers.roles) or actor.groups & set(approvers.groups):
        return None
    return f"{actor.name} is not an approver of pair {pair!r} (needs {wanted})"


def _header_name(value: str, header: str) -> str:
    try:
        return clean_name(value)
    except ValueError as exc:
        raise BadRequest(400, f"{header}: {exc}", header) from None


def _claims(encoded: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """(roles, groups) of Easy Auth's client principal; none when the header is absent."""
    if encoded is None:
        return frozenset(), frozenset()
    try:
        if len(encoded) > _MAX_PRINCIPAL_CHARS:
            raise ValueError("too large")
        text = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        principal = _ClientPrincipal.model_validate(json.loads(text))
    except (binascii.Error, ValueError, ValidationError, RecursionError):
        raise BadRequest(400, f"{PRINCIPAL_HEADER}: not a base64-encoded client principal", PRINCIPAL_HEADER) from None
    role_types = _ROLE_CLAIMS | ({principal.role_typ} if principal.role_typ else set())
    roles = frozenset(c.val for c in principal.claims if c.typ in role_types)
    groups = frozenset(c.val.lower() for c in principal.claims if c.typ in _GROUP_CLAIMS)
    return roles, groups
