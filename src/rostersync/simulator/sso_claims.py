"""What the simulated ClassLink says about people: who may sign in, and the documents about them.

The people of a tenant who can sign in (`tenant_people`: students and staff, no guardians), the
OpenID discovery document (`discovery`), an ID token's claims (`id_token_claims`) and the
`/v2/my/info` answer (`my_info`), each shaped by the `SsoFault` in force.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from rostersync.simulator.district import EDUCATOR_ROLES, DistrictData
from rostersync.simulator.sso_keys import SsoFault

TOKEN_LIFETIME = 86400  # ClassLink's sample id_token: exp - iat = 24 h

# ClassLink's capitalised role and its role level, by OneRoster role (any other staff: Teacher).
_ROLES = {"student": ("Student", 4), "administrator": ("Tenant Administrator", 2)}


@dataclass(frozen=True, slots=True)
class SsoPerson:
    """One person who can sign in, as ClassLink describes them."""

    tenant_id: str
    user_id: int
    sourced_id: str
    given_name: str
    family_name: str
    email: str
    role: str  # ClassLink's capitalised role: "Student", "Teacher", "Tenant Administrator"

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


def tenant_people(tenant_id: str, data: DistrictData) -> dict[str, SsoPerson]:
    """Everyone in a tenant's district who can sign in (students and staff), by sourcedId."""
    people: dict[str, SsoPerson] = {}
    for position, user in enumerate(data.users):
        role = user.get("role")
        if role != "student" and role not in EDUCATOR_ROLES:
            continue
        label = _ROLES.get(role, ("Teacher", 3))[0]
        people[user["sourcedId"]] = SsoPerson(
            tenant_id=tenant_id,
            # ClassLink's own numeric id: deliberately not the sourcedId.
            user_id=int(tenant_id) * 1_000_000 + position + 1,
            sourced_id=user["sourcedId"],
            given_name=user.get("givenName", ""),
            family_name=user.get("familyName", ""),
            email=user.get("email", ""),
            role=label,
        )
    return people


def discovery(base: str, fault: SsoFault) -> dict[str, object]:
    """The OpenID discovery document of the server at `base`."""
    issuer = base + "/" if fault is SsoFault.DISCOVERY_ISSUER_MISMATCH else base
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/oauth2/v2/auth",
        "token_endpoint": f"{base}/oauth2/v2/token",
        "jwks_uri": f"{base}/oauth2/v2/jwks",
        "userinfo_endpoint": f"{base}/v2/my/info",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "client_secret_basic",
        ],
        "scopes_supported": ["openid", "profile", "email", "oneroster", "full"],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "azp",
            "nonce",
            "exp",
            "iat",
            "auth_time",
            "email",
            "name",
            "given_name",
            "family_name",
            "profile",
            "classLink_tenant_id",
            "classLink_role",
            "classLink_sourcedId",
        ],
    }


def id_token_claims(
    *,
    issuer: str,
    client_id: str,
    person: SsoPerson,
    nonce: str | None,
    now: float,
    fault: SsoFault,
) -> dict[str, object]:
    """The claims of the ID token issued to `client_id` for `person` at `now`."""
    iat = int(now)
    claims: dict[str, object] = {
        "iss": issuer,
        "sub": str(person.user_id),
        "aud": client_id,
        "azp": client_id,
        "exp": iat + TOKEN_LIFETIME,
        "iat": iat,
        "auth_time": iat,
        "email": person.email,
        "email_verified": True,
        "name": person.display_name,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "profile": person.role,
        "classLink_role": person.role,
        "classLink_tenant_id": person.tenant_id,
        "classLink_sourcedId": person.sourced_id,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    edits: dict[SsoFault, dict[str, object]] = {
        SsoFault.WRONG_ISSUER: {"iss": issuer + "/"},
        SsoFault.OTHER_ISSUER: {"iss": "https://launchpad.classlink.example"},
        SsoFault.WRONG_AUDIENCE: {"aud": "another-app", "azp": "another-app"},
        SsoFault.EXTRA_AUDIENCE: {"aud": [client_id, "unknown-app"]},
        SsoFault.WRONG_AZP: {"azp": "another-app"},
        SsoFault.EXPIRED: {"exp": iat - 600, "iat": iat - TOKEN_LIFETIME - 600},
        SsoFault.FUTURE_IAT: {"iat": iat + 3600},
        SsoFault.STALE_IAT: {"iat": iat - 3600, "auth_time": iat - 3600},
        SsoFault.WRONG_NONCE: {"nonce": secrets.token_urlsafe(16)},
        SsoFault.TENANT_MISMATCH: {"classLink_tenant_id": str(int(person.tenant_id) + 1)},
    }
    claims.update(edits.get(fault, {}))
    removals: dict[SsoFault, tuple[str, ...]] = {
        SsoFault.MISSING_AUDIENCE: ("aud", "azp"),
        SsoFault.MISSING_IAT: ("iat",),
        SsoFault.MISSING_SUB: ("sub",),
        SsoFault.MISSING_NONCE: ("nonce",),
        SsoFault.MISSING_SOURCED_ID: ("classLink_sourcedId",),
        SsoFault.USERINFO_ONLY: ("classLink_sourcedId", "classLink_tenant_id"),
        SsoFault.USERINFO_OTHER_USER: ("classLink_sourcedId", "classLink_tenant_id"),
    }
    for name in removals.get(fault, ()):
        claims.pop(name, None)
    return claims


def my_info(person: SsoPerson, tenant_name: str, fault: SsoFault) -> dict[str, object]:
    """The `/v2/my/info` answer for `person`, PascalCase as ClassLink sends it."""
    user_id = person.user_id + 7 if fault is SsoFault.USERINFO_OTHER_USER else person.user_id
    return {
        "UserId": user_id,
        "TenantId": int(person.tenant_id),
        "StateId": 14,
        "StateName": "Illinois",
        "BuildingId": 0,
        "AuthenticationType": 2,
        "DisplayName": person.display_name,
        "FirstName": person.given_name,
        "LastName": person.family_name,
        "Email": person.email,
        "LoginId": person.email.partition("@")[0],
        "ImagePath": "",
        "LanguageId": 1,
        "Language": "English",
        "DefaultTimeFormat": 0,
        "Profile": person.role,
        "ProfileId": 0,
        "Tenant": tenant_name,
        "Building": "",
        "Role": person.role,
        "Role_Level": 4 if person.role == "Student" else 3,
        "LastAccessTime": "",
        "OrgId": "",
        "SourcedId": "" if fault is SsoFault.MISSING_SOURCED_ID else person.sourced_id,
    }
