"""What a sync's status means for the person at the terminal: the next command, the exit code.

A failed sync exits 1. A held sync exits 3 (`failures.EXIT_HELD`) after saying why it was held
and the two commands that decide it; a script can tell a hold from a failure without parsing.
"""

from __future__ import annotations

import typer

from rostersync.cli import render
from rostersync.cli.failures import EXIT_FAILED, EXIT_HELD
from rostersync.sync.pipeline import SyncReport

NO_REASON = "the planned changes exceeded the district's safeguards"


def held_reason(report: SyncReport) -> None:
    """The line saying why the run was held."""
    render.say(("Held:", "bold yellow"), f" {report.reason or NO_REASON}")


def next_commands(report: SyncReport) -> None:
    """The commands that approve or discard a held run."""
    render.say("Nothing was written. Review the changes above, then either")
    render.say(f"  rostersync approve {report.run_id}    to write them, or")
    render.say(f"  rostersync discard {report.run_id}    to drop them and fix the source.")


def finish(report: SyncReport) -> None:
    """Exit with the status's code: 1 for a failed run, 3 for a held one; otherwise return."""
    if report.status == "failed":
        raise typer.Exit(EXIT_FAILED)
    if report.status == "held":
        raise typer.Exit(EXIT_HELD)


def emailed(sent: list[str]) -> None:
    """Which emails about the run went to the district's data managers."""
    if sent:
        render.say(f"Emailed the district's data managers: {', '.join(sent)}.")
    else:
        render.say(
            "No email sent: the district has no data manager address "
            "(district add --data-manager), or the mail server refused it (see the log)."
        )
