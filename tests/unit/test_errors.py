"""The exception tree in `rostersync.errors`' docstring is the whole tree: every class that
derives from `RosterSyncError`, wherever it is defined, is drawn there under its parent."""

from __future__ import annotations

import importlib
import pkgutil
import re

import rostersync
from rostersync import errors


def every_error() -> set[type[errors.RosterSyncError]]:
    for module in pkgutil.walk_packages(rostersync.__path__, "rostersync."):
        if ".migrations." not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: set[type[errors.RosterSyncError]] = set()
    todo: list[type[errors.RosterSyncError]] = [errors.RosterSyncError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def drawn() -> dict[str, int]:
    """Each class name drawn in the tree, with its depth."""
    assert errors.__doc__ is not None
    depths: dict[str, int] = {}
    lines = errors.__doc__.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("RosterSyncError"))
    for line in lines[start:]:
        match = re.match(r"^([│ ]*(?:[├└]── )?)([A-Z][A-Za-z]+)\*?\s", line)
        if match:
            depths[match.group(2)] = len(match.group(1)) // 4
    return depths


def test_every_error_class_is_drawn_under_its_parent() -> None:
    tree = drawn()
    for cls in every_error():
        assert cls.__name__ in tree, f"{cls.__module__}.{cls.__name__} is not drawn in errors.py"
        parent = cls.__mro__[1]
        if cls is not errors.RosterSyncError:
            assert tree[cls.__name__] == tree[parent.__name__] + 1, cls.__name__


def test_nothing_is_drawn_that_does_not_exist() -> None:
    names = {cls.__name__ for cls in every_error()}
    assert set(drawn()) <= names
