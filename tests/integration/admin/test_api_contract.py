"""The admin API against its own OpenAPI document, with schemathesis, over loopback HTTP.

Every operation in `/api/openapi.json` is called with generated parameters and bodies, as vendor
staff and as Springfield's data manager, each signed in with a real session and CSRF token.
Path parameters are drawn from the real districts and runs as well as generated ones, so the
calls reach real data. What must hold for every call:

- no 500 (`not_a_server_error`);
- the status code, content type and body are the ones the document declares for it;
- a data manager never gets another district's data: a call aimed at Shelbyville (by slug or by
  one of its runs) is refused, and no successful answer mentions Shelbyville or its runs.

Bounded for CI: a few examples per operation (`EXAMPLES`), no deadline per example, no
shrinking. (Schemathesis's own pytest plugin does not run under pytest 9, so each operation's
cases are drawn with `APIOperation.as_strategy` under Hypothesis's `given`.)
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.integration.admin.conftest import AdminWorld, Staff, api_csrf, staff_sign_in

EXAMPLES = 4  # per operation and per real path parameter (plus as many generated)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class Caller:
    """A signed-in staff member as the API sees them."""

    cookies: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class Known:
    """The real identifiers path parameters are drawn from, and Shelbyville's (the district
    Springfield's data manager must never reach)."""

    slugs: tuple[str, ...]
    run_ids: tuple[str, ...]
    push_auth: str  # Springfield's push key, as an HTTP Basic `Authorization` value
    other_slug: str
    other_district_id: str
    other_run_ids: frozenset[str]


def _caller(world: AdminWorld, staff: Staff) -> Caller:
    with httpx.Client(base_url=world.url, timeout=30) as browser:
        assert staff_sign_in(browser, staff.email).status_code == 303
        return Caller(
            cookies={"rostersync_session": browser.cookies["rostersync_session"]},
            headers={"X-CSRF-Token": api_csrf(browser)},
        )


@pytest.fixture(scope="module")
def known(world: AdminWorld) -> Known:
    service = world.service
    ids = {slug: service.districts.get(slug)[0].id for slug in ("springfield", "shelbyville")}
    # A preview waiting for a decision, so approve and discard reach a pending run too.
    service.runs.preview(ids["springfield"])
    runs = {slug: tuple(r.id for r in service.runs.recent(ids[slug], limit=5)) for slug in ids}
    assert runs["springfield"] and runs["shelbyville"]
    key_id, secret = service.push.issue_credentials("springfield", actor="test")
    basic = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    return Known(
        slugs=("springfield", "shelbyville"),
        run_ids=runs["springfield"] + runs["shelbyville"],
        push_auth=f"Basic {basic}",
        other_slug="shelbyville",
        other_district_id=ids["shelbyville"],
        other_run_ids=frozenset(runs["shelbyville"]),
    )


@pytest.fixture(scope="module")
def vendor_caller(world: AdminWorld) -> Caller:
    return _caller(world, world.vendor)


@pytest.fixture(scope="module")
def manager_caller(world: AdminWorld) -> Caller:
    return _caller(world, world.dm_springfield)


@pytest.fixture(scope="module")
def api_schema(world: AdminWorld) -> Any:
    """The portal's own document, as it serves it."""
    return schemathesis.openapi.from_url(f"{world.url}/api/openapi.json")


def strategies(operation: Any, known: Known) -> list[Any]:
    """Generated cases, then cases whose path parameters are each real slug and run."""
    names = {p.name for p in operation.path_parameters}
    fixed: list[dict[str, str]] = []
    if "slug" in names:
        fixed += [{"slug": slug} for slug in known.slugs]
    if "run_id" in names:
        fixed += [{"run_id": run_id} for run_id in known.run_ids]
    return [operation.as_strategy(), *(operation.as_strategy(path_parameters=f) for f in fixed)]


BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the failure is reported as found
)


def _test(strategy: Any, check: Callable[[Any], Any], seen: set[int]) -> Callable[[], None]:
    @BOUNDED
    @given(case=strategy)
    def run(case: Any) -> None:
        seen.add(check(case).status_code)

    return run  # type: ignore[no-any-return]


def exercise(schema: Any, known: Known, check: Callable[[Any], None]) -> list[str]:
    """Run `check` over generated cases of every operation; returns the operations' labels.

    Raises:
        AssertionError: Listing every operation that failed, each with its first failure.
    """
    statuses: dict[str, set[int]] = {}
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen = statuses.setdefault(operation.label, set())
        for strategy in strategies(operation, known):
            try:
                _test(strategy, check, seen)()
            except Exception as exc:  # every operation runs; all failures are reported together
                failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    return statuses


def report(statuses: dict[str, set[int]]) -> str:
    return "statuses by operation:\n" + "\n".join(
        f"  {label}: {sorted(codes)}" for label, codes in sorted(statuses.items())
    )


def call(case: Any, world: AdminWorld, caller: Caller, known: Known) -> Any:
    # The push routes take Springfield's push key; the others the staff session.
    push = {"Authorization": known.push_auth} if "/bundles" in case.path else {}
    return case.call_and_validate(
        base_url=f"{world.url}/api",
        headers={**caller.headers, **push},
        cookies=caller.cookies,
        checks=CHECKS,
        timeout=30,
    )


def test_as_vendor_staff(
    world: AdminWorld, api_schema: Any, known: Known, vendor_caller: Caller
) -> None:
    statuses = exercise(api_schema, known, lambda case: call(case, world, vendor_caller, known))
    # Every route of the API was exercised, the push endpoint and the import included, and
    # the calls reached real data: most operations answered with success at least once.
    assert "POST /v1/districts/{slug}/bundles" in statuses
    assert "POST /v1/districts/{slug}/imports" in statuses
    assert len(statuses) >= 15
    succeeded = {label for label, codes in statuses.items() if any(c < 300 for c in codes)}
    assert len(succeeded) >= 10, report(statuses)


def test_as_a_data_manager(
    world: AdminWorld, api_schema: Any, known: Known, manager_caller: Caller
) -> None:
    def check(case: Any) -> Any:
        response = call(case, world, manager_caller, known)
        path = case.path_parameters or {}
        aimed_elsewhere = (
            path.get("slug") == known.other_slug or path.get("run_id") in known.other_run_ids
        )
        if aimed_elsewhere:
            assert response.status_code in (401, 403, 404, 422), (case.formatted_path, path)
        if response.status_code < 400:
            markers = (
                known.other_district_id,
                known.other_slug,
                "Shelbyville",
                *known.other_run_ids,
            )
            leaked = [m for m in markers if m in response.text]
            assert not leaked, (case.method, case.formatted_path, leaked)
        return response

    statuses = exercise(api_schema, known, check)
    succeeded = {label for label, codes in statuses.items() if any(c < 300 for c in codes)}
    assert len(succeeded) >= 8, report(statuses)
