"""A login state is taken once and a code claimed once, also by two requests at the same time,
on SQLite and PostgreSQL (one DELETE ... RETURNING, one INSERT ... ON CONFLICT DO NOTHING)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Connection, Engine

from rostersync.store import web as store
from rostersync.store.db import for_writing
from rostersync.store.web_tables import login_states, used_codes

Step = Callable[[Connection], object]


def _save_state(engine: Engine, state: str, *, expires_in: timedelta) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        store.save_login_state(
            conn, state=state, district_id=None, binding="b", issuer="https://sso.example",
            nonce="n", code_verifier="v", next_path="/", now=now, lifetime=expires_in,
        )  # fmt: skip


def _second_while_first_holds(engine: Engine, first: Step, second: Step) -> tuple[object, object]:
    """Run `first(conn)` in a transaction left open while `second(conn)` starts in another
    thread's transaction; commit the first, then let the second finish. Returns both results."""
    writer = for_writing(engine)
    results: dict[str, object] = {}
    started = threading.Event()

    def other() -> None:
        started.set()
        with writer.begin() as conn:
            results["second"] = second(conn)

    with writer.begin() as conn:
        results["first"] = first(conn)
        thread = threading.Thread(target=other)
        thread.start()
        started.wait(10)
    thread.join(30)
    assert not thread.is_alive()
    return results["first"], results["second"]


def test_a_state_is_taken_once_even_by_two_callbacks_at_once(engine: Engine) -> None:
    state = secrets.token_urlsafe(16)
    _save_state(engine, state, expires_in=timedelta(minutes=10))
    now = datetime.now(UTC)
    first, second = _second_while_first_holds(
        engine,
        lambda conn: store.take_login_state(conn, state, now=now),
        lambda conn: store.take_login_state(conn, state, now=now),
    )
    assert isinstance(first, store.LoginState) and first.nonce == "n" and first.next_path == "/"
    assert second is None
    with engine.connect() as conn:
        assert store.take_login_state(conn, state, now=now) is None


def test_an_expired_state_is_not_returned_and_is_gone(engine: Engine) -> None:
    state = secrets.token_urlsafe(16)
    _save_state(engine, state, expires_in=timedelta(seconds=-1))
    with engine.begin() as conn:
        assert store.take_login_state(conn, state, now=datetime.now(UTC)) is None
        assert conn.execute(
            delete(login_states).where(login_states.c.state_hash == store.digest(state))
        ).rowcount == 0  # fmt: skip


def test_a_code_is_claimed_once_even_by_two_callbacks_at_once(engine: Engine) -> None:
    code = secrets.token_urlsafe(16)
    now = datetime.now(UTC)
    try:
        first, second = _second_while_first_holds(
            engine,
            lambda conn: store.claim_code(conn, code, now=now),
            lambda conn: store.claim_code(conn, code, now=now),
        )
        assert (first, second) == (True, False)
        with engine.begin() as conn:
            assert store.claim_code(conn, code, now=now) is False
            assert store.claim_code(conn, code + "x", now=now) is True
    finally:
        with engine.begin() as conn:
            conn.execute(
                delete(used_codes).where(
                    used_codes.c.code_hash.in_([store.digest(code), store.digest(code + "x")])
                )
            )
