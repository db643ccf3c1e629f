"""Pause points: where the crash-restart tests stop a real sync process before killing it.

A run passes a pause point as it enters each phase (pulling, validating, planning, writing). It
does nothing unless `ROSTERSYNC_PAUSE_AT` names that phase, which only the reliability tests set
(tests/integration/reliability): `ROSTERSYNC_PAUSE_AT=writing:/tmp/x/paused` makes the run
create the file `/tmp/x/paused` when it reaches writing and wait there until the file is
removed (or the process is killed), so the test kills it in exactly that phase without timing.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PAUSE_AT = "ROSTERSYNC_PAUSE_AT"
# How often a paused run looks whether its marker file is gone (seconds).
POLL = 0.05


def pause_point(phase: str) -> None:
    """Wait here while `ROSTERSYNC_PAUSE_AT` names `phase` and its marker file exists."""
    spec = os.environ.get(PAUSE_AT)
    if not spec:
        return
    name, _, marker = spec.partition(":")
    if name != phase or not marker:
        return
    path = Path(marker)
    path.write_text(str(os.getpid()))
    wake = threading.Event()
    while path.exists():
        wake.wait(POLL)
