"""`rostersync demo`: two simulated districts rostered end to end on this machine, no servers.

It generates Springfield (with a few planted bad records) and serves it from the ClassLink
simulator, and Shelbyville (another generated district) from the Clever simulator, each on a free
loopback port; onboards both (Shelbyville as a Clever district, found by its Clever district id
with the demo's own Clever app), syncs them, checks the counts against what was generated, shows
every planted bad record with its reason, emails each district's summary, then syncs each again to
show that nothing changes.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from rostersync.cli import render
from rostersync.cli.render import say
from rostersync.config import Settings
from rostersync.domain.records import EntityKind
from rostersync.logs import configure_logging
from rostersync.providers import clever as clever_provider
from rostersync.services import Questionnaire, Services
from rostersync.simulator import DistrictData, SimulatorServer, Tenant, generate_district
from rostersync.simulator.clever import CleverSimulator
from rostersync.sync.pipeline import SyncReport

console = render.console

# What the generator's counts are called, per portal kind.
GENERATED = {
    EntityKind.STUDENT: "students",
    EntityKind.EDUCATOR: "educators",
    EntityKind.CLASS: "classes",
    EntityKind.ENROLLMENT: "enrollments",
}


@dataclass(frozen=True, slots=True)
class DemoDistrict:
    """One district of the demo: who it is, what was generated for it, and where it is read."""

    slug: str
    display_name: str
    data: DistrictData
    source: str  # "ClassLink" or "Clever", as the summaries say it


def run_demo(*, students: int, seed: int, data_dir: Path = Path("var/demo")) -> int:
    """Run the demo; returns the process exit code (0 when every check held)."""
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'rostersync.db'}",
        log_format="json",
        log_level="WARNING",
    )
    configure_logging(settings)
    console.rule(render.text("rostersync demo", "bold"))
    springfield = DemoDistrict(
        "springfield",
        "Springfield USD – Springfield, IL",
        generate_district(students=students, seed=seed, bad_records=True, tenant="springfield"),
        "ClassLink",
    )
    shelbyville = DemoDistrict(
        "shelbyville",
        "Shelbyville SD – Shelbyville, IL",
        generate_district(students=max(students // 2, 20), seed=seed + 1, tenant="shelbyville"),
        "Clever",
    )
    key, secret = f"demo-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    ok = True
    with (
        SimulatorServer() as server,
        CleverSimulator(client_secret=secrets.token_urlsafe(24)) as clever,
    ):
        server.add_tenant(Tenant(name="springfield", data=springfield.data, key=key, secret=secret))
        base_url = server.base_url("springfield")
        clever_district = clever.add_district(shelbyville.data)
        say(f"ClassLink simulator serving OneRoster 1.1 at {base_url}")
        say(
            f"Clever simulator serving the Data API v3.1 at {clever.url} "
            f"(Shelbyville shares the demo's Clever app as district {clever_district})"
        )
        # The vendor's Clever app is the simulator's: one client id and secret for every district.
        settings = settings.model_copy(
            update={
                "clever_client_id": clever.client_id,
                "clever_client_secret": clever.client_secret,
                "clever_api_url": clever.url,
                "clever_oauth_url": clever.url,
            }
        )
        service = Services(settings)
        service.init_db()
        service.districts.add(
            _questionnaire(springfield, source_url=base_url, key=key, secret=secret)
        )
        service.districts.add(
            _questionnaire(shelbyville, source_kind=clever_provider.KIND, key=clever_district)
        )
        say(f"Portal database: {settings.resolved_database_url}")
        for district in (springfield, shelbyville):
            say()
            console.rule(render.text(f"{district.display_name}, from {district.source}", "bold"))
            ok &= _roster(service, settings, district)
        service.close()
    console.rule(
        render.text("demo finished: every check held", "green")
        if ok
        else render.text("demo found a problem", "red")
    )
    return 0 if ok else 1


def _questionnaire(
    district: DemoDistrict,
    *,
    source_kind: str = "oneroster-1.1",
    source_url: str = "",
    key: str,
    secret: str = "",
) -> Questionnaire:
    """The district's onboarding answers: eligibility from its roster (ClassLink metadata, or
    Clever's `ext`), its data manager's address, and its source."""
    return Questionnaire(
        slug=district.slug,
        name=district.display_name.split(" – ")[0],
        display_name=district.display_name,
        city=district.slug.title(),
        state="IL",
        source_kind=source_kind,
        source_url=source_url,
        key=key,
        secret=secret,
        data_manager_emails=[f"data.manager@{district.slug}.example"],
        eligibility_source="metadata",
        eligibility_field="eligibility",
    )


def _roster(service: Services, settings: Settings, district: DemoDistrict) -> bool:
    """Sync the district, check it against what was generated, email its summary, sync again."""
    audience = service.districts.audience(district.slug)
    first = service.runs.sync(district.slug, trigger="demo")
    render.print_report(
        first,
        title=f"First sync of {district.display_name} (from {district.source})",
        issue_limit=None,
        audience=audience,
    )
    ok = _check_counts(first, district.data.counts())
    if district.data.planted:
        ok &= _check_planted(first, district.data.planted)
    outbox = settings.resolved_outbox_dir
    before = set(outbox.glob("*.eml")) if outbox.exists() else set()
    sent = service.runs.notify(first.run_id)
    emails = sorted(set(outbox.glob("*.eml")) - before) if outbox.exists() else []
    say()
    say(
        ("Summary email", "bold"),
        f" to the data manager ({', '.join(sent) or 'none'}): {len(emails)} message(s) in {outbox}",
    )
    ok &= bool(emails)

    second = service.runs.sync(district.slug, trigger="demo")
    render.print_report(second, title="Second sync (same roster)", issue_limit=0, audience=audience)
    changes = second.change_count
    say(
        f"Second sync changed {changes} records ",
        ("✓ nothing changed", "green") if changes == 0 else ("✗ expected no changes", "red"),
    )
    return ok and changes == 0 and second.status == "succeeded"


def _check_counts(report: SyncReport, generated: dict[str, int]) -> bool:
    """Every generated record is either provisioned or held for review, none lost."""
    if report.status != "succeeded":
        return False
    ok = True
    say()
    say(("Reconciliation with the generated district", "bold"))
    for kind, name in GENERATED.items():
        row = report.counts[kind.value]
        provisioned, held = row["created"] + row["unchanged"], row["held"]
        expected = generated[name]
        good = provisioned + held == expected
        ok &= good
        say(
            "  ",
            ("✓", "green") if good else ("✗", "red"),
            f" {name}: generated {expected} = provisioned {provisioned} + held {held}",
        )
    return ok


def _check_planted(report: SyncReport, planted: list) -> bool:  # type: ignore[type-arg]
    """Every planted bad record has a validation issue with a reason."""
    by_record = {(i.sourced_id, i.code) for i in report.issues}
    flagged = {sid for sid, _ in by_record}
    missing = [p for p in planted if p.sourced_id not in flagged]
    say()
    say(
        ("Planted bad records", "bold"),
        f": {len(planted)} planted, {len(planted) - len(missing)} reported with a reason",
    )
    for problem in missing:
        say("  ", ("✗ not reported:", "red"), f" {problem.entity} {problem.sourced_id}")
    return not missing
