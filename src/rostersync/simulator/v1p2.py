"""OneRoster 1.2 rostering under `/{tenant}/ims/oneroster/rostering/v1p2`, behind OAuth 2 bearers.

The tenant's generated 1.1 data is served in 1.2 shapes: users lose `role` and `orgs` and gain
`roles[]` (one primary entry per org) and `primaryOrg`; 1.1's `administrator` becomes
`districtAdministrator` at a district org and `siteAdministrator` at a school, since 1.2 has no
plain administrator. Every other resource is the same object in both versions, except that its
GUIDRef `href`s point at the 1.2 rostering paths rather than the 1.1 ones. Errors are the
bare 1.2 `imsx_StatusInfo` object. Paging, filters and sorting are the 1.1 router's own, so the two
versions page identically.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any
from urllib.parse import parse_qsl, unquote

from rostersync.simulator.district import DistrictData
from rostersync.simulator.endpoints import ENDPOINTS, FIELDS, Endpoint
from rostersync.simulator.oauth2 import ROSTER, ROSTER_CORE, TokenIssuer, imsx_failure
from rostersync.simulator.query import QueryError
from rostersync.simulator.relationships import ref_id, user_role
from rostersync.simulator.response import Response
from rostersync.simulator.router import Router
from rostersync.simulator.tenant import Tenant

BASE_PATH = ("ims", "oneroster", "rostering", "v1p2")

Record = dict[str, Any]

USER_FIELDS = (FIELDS["users"] - {"role", "orgs"}) | {
    "userMasterIdentifier",
    "preferredFirstName",
    "preferredMiddleName",
    "preferredLastName",
    "pronouns",
    "userProfiles",
    "primaryOrg",
    "roles",
    "resources",
}
FIELDS_V1P2: dict[str, frozenset[str]] = {**FIELDS, "users": frozenset(USER_FIELDS)}

_V1P1_PATH = "/ims/oneroster/v1p1/"
_V1P2_PATH = "/ims/oneroster/rostering/v1p2/"

# 1.1 codeMinor spellings that 1.2 renamed.
_CODE_MINOR = {"unauthorized": "unauthorisedrequest", "invalid data": "invaliddata"}


@dataclasses.dataclass(frozen=True, slots=True)
class _UserEndpoint(Endpoint):
    """A users endpoint of 1.2: fields without role/orgs, `/students` read from `roles[]`."""

    def admits(self, record: dict[str, Any]) -> bool:
        return self.where is None or user_role(record) == self.where[1]

    @property
    def fields(self) -> frozenset[str]:
        return FIELDS_V1P2["users"]


ENDPOINTS_V1P2: dict[str, Endpoint] = {
    **ENDPOINTS,
    "users": _UserEndpoint("users", "users", "users", "user"),
    "students": _UserEndpoint("students", "users", "users", "user", ("role", "student")),
    "teachers": _UserEndpoint("teachers", "users", "users", "user", ("role", "teacher")),
}


def _v1p2_role(role: str, org_type: str | None) -> str:
    if role == "administrator":
        return "districtAdministrator" if org_type == "district" else "siteAdministrator"
    return role


def to_v1p2_user(user: Record, org_types: dict[str, str]) -> Record:
    """A 1.1 user as a 1.2 `UserDType`: `roles[]` and `primaryOrg` instead of `role` and `orgs`.

    Args:
        user: The 1.1 user.
        org_types: Org type by sourcedId, to tell a district administrator from a school's.
    """
    converted = {k: v for k, v in user.items() if k not in ("role", "orgs")}
    orgs = [dict(o) for o in user.get("orgs") or []]
    role = str(user.get("role", ""))
    converted["roles"] = [
        {
            "roleType": "primary",
            "role": _v1p2_role(role, org_types.get(ref_id(org) or "")),
            "org": org,
        }
        for org in orgs
    ]
    if orgs:
        converted["primaryOrg"] = dict(orgs[0])
    return converted


def to_v1p2(data: DistrictData) -> DistrictData:
    """The district in 1.2 shapes; every collection but users is shared, not copied."""
    org_types = {str(o.get("sourcedId")): str(o.get("type")) for o in data.orgs}
    users = [to_v1p2_user(u, org_types) for u in data.users]
    return dataclasses.replace(data, users=users)


def with_v1p2_hrefs(value: Any) -> Any:
    """A copy of a JSON value whose GUIDRef `href`s point at the 1.2 rostering paths.

    The district is generated with 1.1 hrefs (`…/ims/oneroster/v1p1/orgs/org-1`); a 1.2 answer
    refers to the 1.2 resource (`…/ims/oneroster/rostering/v1p2/orgs/org-1`). Whatever host the
    href names (the district's own, or ClassLink's under quirks) is kept.
    """
    if isinstance(value, dict):
        copy = {key: with_v1p2_hrefs(item) for key, item in value.items()}
        href = copy.get("href")
        if isinstance(href, str) and _V1P1_PATH in href:
            copy["href"] = href.replace(_V1P1_PATH, _V1P2_PATH, 1)
        return copy
    if isinstance(value, list):
        return [with_v1p2_hrefs(item) for item in value]
    return value


def as_v1p2(response: Response) -> Response:
    """A 1.1 answer in 1.2 form: hrefs to 1.2 paths, and failures with the bare 1.2 body."""
    entries = response.body.get("statusInfoSet")
    if response.status < 400:
        return dataclasses.replace(response, body=with_v1p2_hrefs(response.body))
    if not entries:
        return response
    entry = dict(entries[0])
    fields = entry.get("imsx_CodeMinor", {}).get("imsx_codeMinorField", [])
    for field in fields:
        value = field.get("imsx_codeMinorFieldValue", "")
        field["imsx_codeMinorFieldValue"] = _CODE_MINOR.get(value, value)
    return Response(response.status, entry, response.headers)


class V1p2Service:
    """Answers 1.2 rostering requests for a router's tenants.

    Args:
        router: The tenants, and the 1.1 paging/filter code reused for 1.2.
        tokens: The issuer whose bearer tokens are accepted.
    """

    def __init__(self, router: Router, tokens: TokenIssuer) -> None:
        self._router = router
        self._tokens = tokens
        self._shadows: dict[str, tuple[DistrictData, list[Record], int, Tenant]] = {}
        self._lock = threading.Lock()

    def _shadow(self, tenant: Tenant) -> Tenant:
        # Converted once per data version: a new `data`, or users added/removed, rebuilds it.
        data = tenant.data
        with self._lock:
            cached = self._shadows.get(tenant.name)
            if (
                cached is None
                or cached[0] is not data
                or cached[1] is not data.users
                or cached[2] != len(data.users)
            ):
                shadow = Tenant(tenant.name, to_v1p2(data), tenant.key, tenant.secret)
                cached = (data, data.users, len(data.users), shadow)
                self._shadows[tenant.name] = cached
            return cached[3]

    def invalidate(self, tenant: str) -> None:
        """Reconvert the tenant's data on the next request, e.g. after editing users in place."""
        with self._lock:
            self._shadows.pop(tenant, None)

    def handle(
        self, method: str, target: str, host: str, authorization: str | None, body: bytes
    ) -> Response | None:
        """Answer a request under a tenant's 1.2 rostering base path; None for other paths."""
        if target.startswith(("http://", "https://")):
            return None
        raw_path, _, raw_query = target.partition("?")
        segments = raw_path.split("/")
        if len(segments) < 6 or tuple(segments[2:6]) != BASE_PATH:
            return None
        try:
            tenant = self._router.tenant(unquote(segments[1]))
        except KeyError:
            return imsx_failure(404, "unknownobject", "no OneRoster service at this path")
        rest = [unquote(s) for s in segments[6:]]
        # Relationship paths need roster.readonly; core reads take either rostering scope.
        accepted = {ROSTER} if len(rest) > 2 else {ROSTER_CORE, ROSTER}
        denial = self._tokens.check(authorization, tenant.name, accepted)
        if denial is not None:
            return denial
        if method != "GET":
            return imsx_failure(405, "invaliddata", "OneRoster rostering is read-only: use GET")
        url = f"http://{host}{target}"
        shadow = self._shadow(tenant)
        if len(rest) > 2:
            related = self._router.related(
                tenant, rest, url, raw_query, served=shadow, fields=FIELDS_V1P2, strict_fields=True
            )
            return as_v1p2(related)
        endpoint = ENDPOINTS_V1P2.get(rest[0]) if rest else None
        if endpoint is None:
            return imsx_failure(404, "unknownobject", "unknown OneRoster endpoint")
        pairs = parse_qsl(raw_query, keep_blank_values=True)
        try:
            # The 1.1 router's own paging, headers, faults and quirks, so both versions page and
            # misbehave the same way; the records are the 1.2 copy.
            answer = self._router.read(
                tenant, endpoint, rest, url, pairs, served=shadow, strict_fields=True
            )
        except QueryError as exc:
            return imsx_failure(400, exc.code_minor, exc.description)
        return as_v1p2(answer)
