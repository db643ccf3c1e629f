"""`rostersync`: onboard districts, sync their rosters, read the results.

Each command parses its options, calls one service method, and renders the answer as a table or,
with `--json`, as JSON for scripts. Errors are not caught here: every command's failure goes
through the one error path in `cli/failures.py` (one line or JSON, an exit code, no traceback).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from rostersync.cli import (
    commands_admin,
    commands_delta,
    commands_import,
    commands_jobs,
    commands_privacy,
    commands_push,
    commands_web,
    commands_workflow,
    listing,
    outcome,
    render,
)
from rostersync.cli.common import service as _service
from rostersync.cli.failures import CommandGroup, Debug, Json
from rostersync.providers import PROVIDERS, oneroster_v1p1
from rostersync.services import Questionnaire

app = typer.Typer(
    cls=CommandGroup,
    help="Roster and provision school districts from ClassLink into the Educator Portal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
district_app = typer.Typer(help="Onboard and inspect districts.", no_args_is_help=True)
db_app = typer.Typer(help="The portal database.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys for stored credentials.", no_args_is_help=True)
app.add_typer(district_app, name="district")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


@app.callback()
def _options(debug: Debug = False) -> None:
    """Roster and provision school districts from ClassLink into the Educator Portal."""


@db_app.command("init")
def db_init() -> None:
    """Create the database, or upgrade it to the newest schema."""
    service = _service()
    service.init_db()
    render.say(f"Database ready: {service.engine.url.render_as_string()}")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new key for ROSTERSYNC_SECRET_KEYS (put the newest first to rotate)."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())


@district_app.command("add")
def district_add(
    slug: Annotated[str, typer.Argument(help="Short id used in commands, e.g. springfield")],
    name: Annotated[str, typer.Option(help="The district's name")],
    display_name: Annotated[
        str, typer.Option(help='Login drop-down name, e.g. "Springfield USD – Springfield, IL"')
    ],
    city: Annotated[str, typer.Option()],
    state: Annotated[str, typer.Option(help="Two-letter state code")],
    source_url: Annotated[
        str, typer.Option(help="OneRoster base URL, e.g. https://…/ims/oneroster/v1p1")
    ] = "",
    key: Annotated[str, typer.Option(help="ClassLink key / client id (proxy: tenant id)")] = "",
    secret: Annotated[
        str,
        typer.Option(
            help="ClassLink secret (asked if omitted; none for the proxy, whose partner "
            "key is the vendor's ROSTERSYNC_CLASSLINK_PARTNER_KEY)"
        ),
    ] = "",
    source_kind: Annotated[
        str, typer.Option(help=f"{', '.join(PROVIDERS.pulling_kinds())}, or none")
    ] = oneroster_v1p1.KIND,
    data_manager: Annotated[
        list[str], typer.Option(help="Data manager email for sync summaries (repeatable)")
    ] = [],  # noqa: B006 - Typer reads the default, it is never mutated
    grades_provided: Annotated[
        bool, typer.Option(help="Does the district send grade levels?")
    ] = True,
    unique_emails: Annotated[bool, typer.Option(help="Is every account's email unique?")] = True,
    student_id_field: Annotated[
        str, typer.Option(help="identifier, sourcedId, userIds:<type> or metadata.<name>")
    ] = "identifier",
    eligibility_source: Annotated[str, typer.Option(help="portal or metadata")] = "portal",
    eligibility_field: Annotated[str | None, typer.Option(help="Metadata field name")] = None,
    sync_frequency: Annotated[str, typer.Option(help="daily, weekdays, weekly, every_n_days")] = (
        "daily"
    ),
    sync_day: Annotated[list[str], typer.Option(help="Day for weekly syncs (repeatable)")] = [],  # noqa: B006
    sync_interval_days: Annotated[int | None, typer.Option(help="For every_n_days (1–29)")] = None,
    sync_time: Annotated[str, typer.Option(help="HH:MM in the district's time zone")] = "05:00",
    time_zone: Annotated[str, typer.Option()] = "America/Chicago",
    tenant_id: Annotated[str | None, typer.Option(help="ClassLink tenant id")] = None,
    go_live: Annotated[str | None, typer.Option(help="Go-live date, YYYY-MM-DD")] = None,
    as_json: Json = False,
) -> None:
    """Onboard a district: its questionnaire answers and ClassLink credentials."""
    asks_secret = source_kind not in PROVIDERS or PROVIDERS.get(source_kind).asks_secret
    if asks_secret and not secret:
        # Asked rather than typed on the command line, so it stays out of shell history.
        secret = typer.prompt("ClassLink secret", hide_input=True)
    setup = Questionnaire(
        slug=slug,
        name=name,
        display_name=display_name,
        city=city,
        state=state,
        source_url=source_url,
        key=key,
        secret=secret,
        source_kind=source_kind,
        data_manager_emails=list(data_manager),
        grades_provided=grades_provided,
        unique_emails_provided=unique_emails,
        student_id_field=student_id_field,
        eligibility_source=eligibility_source,
        eligibility_field=eligibility_field,
        sync_frequency=sync_frequency,
        sync_days=list(sync_day),
        sync_interval_days=sync_interval_days,
        sync_time=sync_time,
        time_zone=time_zone,
        tenant_id=tenant_id,
        go_live_date=date.fromisoformat(go_live) if go_live else None,
    )
    district = _service().districts.add(setup)
    if as_json:
        render.print_json(district)
    else:
        render.say(f"Added district {district.slug} ({district.display_name}).")


@district_app.command("list")
def district_list(
    limit: listing.Limit = 50, every: listing.All = False, as_json: Json = False
) -> None:
    """List districts with their status."""
    districts = _service().districts.list_all()
    if as_json:
        render.print_json(districts)
        return
    render.console.print(
        render.rows_table(
            "Districts",
            districts[:limit],
            ["slug", "display_name", "status", "go_live_date", "time_zone"],
        )
    )
    _say_showing(len(districts[:limit]), len(districts))


@district_app.command("show")
def district_show(slug: str, as_json: Json = False) -> None:
    """Show a district's questionnaire answers (credentials are never shown)."""
    district, integration = _service().districts.get(slug)
    data = {
        "district": render.to_jsonable(district),
        "integration": render.to_jsonable(integration),
    }
    if as_json:
        render.print_json(data)
        return
    for section, values in data.items():
        render.console.print(render.facts_table(section.capitalize(), values))


@app.command("sync")
def sync(
    district: str,
    as_json: Json = False,
    from_bundle: Annotated[
        str | None,
        typer.Option("--from", help="Read a OneRoster 1.1/1.2 CSV bundle (.zip) instead"),
    ] = None,
    email: Annotated[
        bool,
        typer.Option(
            "--email/--no-email",
            help="Email the district's data managers how the run ended, as a scheduled sync does.",
        ),
    ] = True,
) -> None:
    """Pull a district's roster from ClassLink, validate it and provision what passes."""
    from rostersync.sync.bundle_source import BundleSource

    service = _service()
    source = BundleSource(from_bundle) if from_bundle else None
    if as_json:
        report = service.runs.sync(district, source=source)
    else:
        with render.sync_progress() as bar:
            report = service.runs.sync(district, source=source, observers=[bar])
    if as_json:
        render.print_json(render.report_json(report))
    else:
        render.print_report(
            report, title=f"Sync of {district}", audience=service.districts.audience(district)
        )
    if email:
        sent = service.runs.notify(report.run_id)
        if not as_json:
            outcome.emailed(sent)
    if report.status == "held" and not as_json:
        outcome.held_reason(report)
        outcome.next_commands(report)
    outcome.finish(report)


@app.command("people")
def people(
    district: str,
    educators: Annotated[bool, typer.Option("--educators", help="Educators, not students")] = False,
    limit: listing.Limit = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    every: listing.All = False,
    as_json: Json = False,
) -> None:
    """List a district's students (or educators)."""
    kind = "educators" if educators else "students"
    rows = _service().districts.people(district, kind=kind, limit=limit, offset=offset)
    if as_json:
        render.print_json(rows)
        return
    columns = (
        ["sourced_id", "role", "given_name", "family_name", "email", "active"]
        if educators
        else ["sourced_id", "student_id", "grade", "given_name", "family_name", "email", "active"]
    )
    render.console.print(render.rows_table(kind.capitalize(), rows, columns))
    if offset or len(rows) >= limit:
        stored = _service().districts.counts(district)[kind]
        _say_showing(len(rows), stored["active"] + stored["inactive"], offset=offset)


@app.command("runs")
def runs(
    district: str, limit: listing.Limit = 20, every: listing.All = False, as_json: Json = False
) -> None:
    """List a district's recent sync runs."""
    rows = _service().runs.recent(district, limit=limit)
    if as_json:
        render.print_json(rows)
        return
    render.console.print(
        render.rows_table(
            "Sync runs", rows, ["id", "trigger", "status", "started_at", "finished_at", "error"]
        )
    )
    if len(rows) >= limit:
        _say_showing(len(rows), _run_total(district))


@app.command("issues")
def issues(
    run_id: str, limit: listing.Limit = 50, every: listing.All = False, as_json: Json = False
) -> None:
    """Show a run's validation issues: the record, the field, the problem and the fix."""
    service = _service()
    rows = service.runs.issues(run_id)
    if as_json:
        render.print_json(rows)
        return
    audience = service.districts.audience(service.runs.get(run_id).district_id)
    render.console.print(
        render.issues_table(
            rows, limit=limit, title=f"Validation issues of run {run_id}", audience=audience
        )
    )
    _say_showing(len(rows[:limit]), len(rows))


def _say_showing(shown: int, total: int, *, offset: int = 0) -> None:
    """Under a table: how many rows it shows of how many, when it left some out."""
    footer = listing.showing(shown, total, offset=offset)
    if footer:
        render.say(footer)


def _run_total(district: str) -> int:
    """How many runs a district has had."""
    return len(_service().runs.recent(district, limit=listing.EVERY))


@app.command("simulate")
def simulate(
    students: Annotated[int, typer.Option(help="Students in the generated district")] = 2000,
    seed: Annotated[int, typer.Option(help="Same seed, same district")] = 7,
    bad_records: Annotated[bool, typer.Option(help="Plant realistic bad records")] = False,
    port: Annotated[int, typer.Option(help="0 picks a free port")] = 0,
    tenant: Annotated[str, typer.Option()] = "springfield",
    key: Annotated[str, typer.Option(help="Consumer key the simulator accepts")] = "demo-key",
    # A loopback stand-in's well-known demo secret, not a credential of anything real.
    secret: Annotated[str, typer.Option(help="Consumer secret")] = "demo-secret",  # noqa: S107
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="Misbehave: KIND[:key=value,…], e.g. 429-burst:times=5,retry_after=2, "
            "503:collection=users,nth=2, slow:delay=45, cut, truncate, wrong-total, "
            "expired-token. Repeatable"
        ),
    ] = None,
    quirks: Annotated[
        bool, typer.Option(help="Answer the way ClassLink's servers (or real Clever data) do")
    ] = False,
    write_bundle: Annotated[
        str | None,
        typer.Option(
            help="Instead of serving, stream the district (any size, bounded memory) into this "
            "OneRoster 1.1 CSV bundle and exit"
        ),
    ] = None,
    provider: Annotated[
        str,
        typer.Option(
            help="classlink (OneRoster 1.1) or clever (Data API v3.1, Events, SSO; --key and "
            "--secret are then the app's client id and secret)"
        ),
    ] = "classlink",
    redirect_uri: Annotated[
        str, typer.Option(help="With --provider clever: the app's registered redirect URI")
    ] = "http://127.0.0.1:8000/oauth/clever/callback",
) -> None:
    """Serve a simulated ClassLink OneRoster server (or Clever) on loopback until Ctrl-C."""
    from rostersync.simulator.faults import parse_fault
    from rostersync.simulator.runner import run_forever

    if write_bundle is not None and provider != "classlink":
        # A bundle is what a ClassLink district pushes; Clever hands over its roster by API only.
        raise typer.BadParameter(
            "a OneRoster bundle is written for --provider classlink only",
            param_hint="--write-bundle",
        )
    if write_bundle is not None:
        from rostersync.simulator import bundle_writer
        from rostersync.simulator.stream import StreamingDistrict

        # The streamed district plants no bad records; say so rather than silently drop them.
        if bad_records:
            raise typer.BadParameter(
                "cannot be combined with --write-bundle", param_hint="--bad-records"
            )
        district = StreamingDistrict(students=students, seed=seed, tenant=tenant)
        bundle_writer.write_bundle(district, write_bundle)
        render.say(f"Wrote {students:,} students to {write_bundle}")
        raise typer.Exit(0)

    try:
        faults = [parse_fault(spec) for spec in fault or []]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--fault") from exc
    if provider not in ("classlink", "clever"):
        raise typer.BadParameter("use classlink or clever", param_hint="--provider")
    if provider == "clever":
        from rostersync.simulator.clever.runner import run_forever as run_clever

        run_clever(
            host="127.0.0.1",
            port=port,
            students=students,
            seed=seed,
            bad_records=bad_records,
            tenant=tenant,
            client_id=key,
            client_secret=secret,
            redirect_uri=redirect_uri,
            faults=faults,
            quirks=quirks,
        )
        return
    run_forever(
        host="127.0.0.1",
        port=port,
        students=students,
        seed=seed,
        bad_records=bad_records,
        tenant=tenant,
        key=key,
        secret=secret,
        faults=faults,
        quirks=quirks,
    )


@app.command("demo")
def demo(
    students: Annotated[int, typer.Option(help="Students in the generated district")] = 3000,
    seed: Annotated[int, typer.Option()] = 7,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="Afterwards, leave the portal running to sign in as a simulated person"
        ),
    ] = False,
    port: Annotated[int, typer.Option(help="Portal port for --serve")] = 8000,
) -> None:
    """Roster two simulated districts (one from ClassLink, one from Clever) end to end, then sync
    them again to show nothing changes."""
    from rostersync.cli.demo import run_demo

    code = run_demo(students=students, seed=seed)
    if code == 0 and serve:
        commands_web.serve_sign_in_sandbox(seed=seed, port=port)
    raise typer.Exit(code)


# Each feature registers its own commands; main.py stays a thin table of contents.
for _feature in (
    commands_workflow,
    commands_import,
    commands_jobs,
    commands_push,
    commands_web,
    commands_admin,
    commands_delta,
    commands_privacy,
):
    _feature.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
