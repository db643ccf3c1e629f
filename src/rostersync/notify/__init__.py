"""Emails to districts and the vendor: context builders, template files, senders.

`Notifier.after_run(run_id)` sends the summary, held or failed email of a run (and the stale-data
email); senders are SMTP (`SmtpSender`), an outbox folder of .eml files (`OutboxSender`, the
embedded default) and an in-memory recorder (`MemorySender`).
"""

from rostersync.notify.csvfile import issues_csv, neutralise
from rostersync.notify.emails import Email, compose, render
from rostersync.notify.notifier import Notifier
from rostersync.notify.senders import (
    MemorySender,
    OutboxSender,
    Sender,
    SmtpSender,
    deliver,
    sender_for,
)

__all__ = [
    "Email",
    "MemorySender",
    "Notifier",
    "OutboxSender",
    "Sender",
    "SmtpSender",
    "compose",
    "deliver",
    "issues_csv",
    "neutralise",
    "render",
    "sender_for",
]
