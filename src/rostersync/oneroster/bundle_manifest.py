"""A bundle's manifest.csv: its version, and the mode of every file (absent, bulk or delta).

Every refusal names manifest.csv and the line of the setting at fault (a setting that is missing
altogether has no line, and the message says which row to add), as every other refusal of a
bundle does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from rostersync.oneroster.bundle_limits import BundleError, where
from rostersync.oneroster.bundle_schema import FILES, MANIFEST_VERSION, READ_ORDER, VERSIONS

__all__ = ["MODES", "Manifest", "read_manifest"]

MODES = ("absent", "bulk", "delta")
_FILE = "manifest.csv"


@dataclass(slots=True)
class Manifest:
    """What manifest.csv says: every property, the version, and the mode of each file read."""

    properties: dict[str, str]
    version: str
    modes: dict[str, str]
    notices: list[str] = field(default_factory=list)


def _refuse(message: str, line: int | None, *, data_file: str | None = None) -> BundleError:
    # A setting at odds with a data file is refused as that file's problem (`file`, with no
    # line of its own); the message still names the manifest line that says otherwise.
    if data_file is not None:
        return BundleError(f"{where(_FILE, line)}: {message}", file=data_file)
    return BundleError(f"{where(_FILE, line)}: {message}", file=_FILE, line=line)


def read_manifest(rows: Iterable[tuple[int, list[str]]], members: Collection[str]) -> Manifest:
    """Read manifest.csv's (line, [propertyName, value]) rows against the zip's member names.

    Raises:
        BundleError: A setting is repeated, unknown or at odds with the zip; it names the line.
    """
    props: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line, row in rows:
        key, value = row[0].strip(), row[1].strip()
        if key in props:
            raise _refuse(f"{key} is listed twice (first on line {lines[key]}); keep one", line)
        props[key] = value
        lines[key] = line
    manifest_version = props.get("manifest.version")
    if manifest_version != MANIFEST_VERSION:
        if manifest_version is None:
            raise _refuse(
                f"there is no manifest.version row; add manifest.version,{MANIFEST_VERSION}", None
            )
        raise _refuse(
            f"unknown manifest.version {manifest_version!r}; expected {MANIFEST_VERSION!r} "
            "(a OneRoster 1.1 or 1.2 bundle)",
            lines["manifest.version"],
        )
    version = props.get("oneroster.version", "")
    if version not in VERSIONS:
        raise _refuse(
            f"oneroster.version is {version!r}; rostersync reads OneRoster "
            f"{' and '.join(VERSIONS)} bundles: set it to the version the files follow"
            + ("" if "oneroster.version" in props else " (add a oneroster.version row)"),
            lines.get("oneroster.version"),
        )
    for key, value in props.items():
        if key.startswith("file.") and value not in MODES:
            raise _refuse(f"{key} is {value!r}; it must be one of {', '.join(MODES)}", lines[key])
    modes: dict[str, str] = {}
    for name in sorted({*FILES[version], *(k[5:] for k in props if k.startswith("file."))}):
        key = f"file.{name}"
        mode = props.get(key, "absent")
        present = f"{name}.csv" in members
        if mode != "absent" and not present:
            raise _refuse(
                f"the manifest declares {key} as {mode}, but {name}.csv is not in the zip "
                "(names are case-sensitive); "
                f"add the file or set {key} to absent",
                lines[key],
                data_file=f"{name}.csv",
            )
        if name in READ_ORDER[version]:
            if present and mode == "absent":
                raise _refuse(
                    f"{name}.csv is in the zip but the manifest declares {key} as absent"
                    + ("" if key in props else " (it does not list it)")
                    + f"; set {key} to bulk or delta",
                    lines.get(key),
                    data_file=f"{name}.csv",
                )
            modes[name] = mode
    known = {f"{n}.csv" for n in FILES[version]} | {_FILE}
    notices = [
        f"ignored {member!r}: not a OneRoster {version} file"
        for member in members
        if member not in known
    ]
    return Manifest(properties=props, version=version, modes=modes, notices=notices)
