"""`rostersync demo`: a simulated district rostered end to end on this machine, no servers needed.

It generates a district (with a few planted bad records), serves it from the ClassLink simulator on
a free loopback port, onboards it, syncs it, checks the counts against what was generated, shows
every planted bad record with its reason, then syncs again to show that nothing changes.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from rostersync.cli import render
from rostersync.cli.render import say
from rostersync.config import Settings
from rostersync.domain.records import EntityKind
from rostersync.logs import configure_logging
from rostersync.services import Questionnaire, Services
from rostersync.simulator import SimulatorServer, Tenant, generate_district
from rostersync.sync.pipeline import SyncReport

console = render.console

# What the generator's counts are called, per portal kind.
GENERATED = {
    EntityKind.STUDENT: "students",
    EntityKind.EDUCATOR: "educators",
    EntityKind.CLASS: "classes",
    EntityKind.ENROLLMENT: "enrollments",
}


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
    data = generate_district(students=students, seed=seed, bad_records=True, tenant="springfield")
    key, secret = f"demo-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    ok = True
    with SimulatorServer() as server:
        server.add_tenant(Tenant(name="springfield", data=data, key=key, secret=secret))
        base_url = server.base_url("springfield")
        say(f"ClassLink simulator serving OneRoster 1.1 at {base_url}")
        service = Services(settings)
        service.init_db()
        service.districts.add(
            Questionnaire(
                slug="springfield",
                name="Springfield Unified School District",
                display_name="Springfield USD – Springfield, IL",
                city="Springfield",
                state="IL",
                source_url=base_url,
                key=key,
                secret=secret,
                data_manager_emails=["data.manager@springfield.example"],
                eligibility_source="metadata",
                eligibility_field="eligibility",
            )
        )
        say(f"Portal database: {settings.resolved_database_url}")
        say()

        first = service.runs.sync("springfield", trigger="demo")
        render.print_report(first, title="First sync of Springfield USD", issue_limit=None)
        ok &= _check_counts(first, data.counts())
        ok &= _check_planted(first, data.planted)
        sent = service.runs.notify(first.run_id)
        outbox = settings.resolved_outbox_dir
        emails = sorted(outbox.glob("*.eml")) if outbox.exists() else []
        say()
        say(
            ("Summary email", "bold"),
            f" to the data manager ({', '.join(sent) or 'none'}): "
            f"{len(emails)} message(s) in {outbox}",
        )
        ok &= bool(emails)

        second = service.runs.sync("springfield", trigger="demo")
        render.print_report(second, title="Second sync (same roster)", issue_limit=0)
        changes = second.change_count
        say(
            f"Second sync changed {changes} records ",
            ("✓ nothing changed", "green") if changes == 0 else ("✗ expected no changes", "red"),
        )
        ok &= changes == 0 and second.status == "succeeded"
        service.close()
    console.rule(
        render.text("demo finished: every check held", "green")
        if ok
        else render.text("demo found a problem", "red")
    )
    return 0 if ok else 1


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
