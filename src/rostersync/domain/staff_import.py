"""Staff accounts made outside ClassLink: the roster import spreadsheet and accounts made by hand.

Pure rules, no I/O. The readers in `rostersync.importing` turn a CSV or XLSX file into `SheetRow`s
(cell text keyed by column name, with the row number a person sees in Excel: the header is row 1);
`validate_staff_rows` checks every row against the district's schools and the emails already in
use and returns either accounts to create or every row error, never a mix applied halfway
(docs/decisions/0006-manual-accounts.md).

A district is *rostered* when its integration names a roster source: every `source_kind` except
`"none"`. Unknown kinds count as rostered, so a new source type fails closed (no hand-made
accounts that a later sync would collide with).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from rostersync.domain.emails import normal_email as normal_email

NOT_ROSTERED = "none"

REQUIRED_COLUMNS = ("first_name", "last_name", "email", "role", "school_identifier_or_sourced_id")
OPTIONAL_COLUMNS = ("staff_id",)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# The non-teaching roles the spreadsheet takes; teachers come from ClassLink in a rostered district.
STAFF_ROLES = (
    "librarian",
    "paraprofessional",
    "coach",
    "counselor",
    "aide",
    "administrator",
    "other",
)
TEACHER = "teacher"

MAX_NAME = 255
MAX_EMAIL = 320
MAX_STAFF_ID = 255
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_GRADE = re.compile(r"IT|PR|PK|TK|KG|PS|UG|Other|0[1-9]|1[0-3]")


def is_rostered(source_kind: str) -> bool:
    """Whether accounts in a district with this integration come from a roster source."""
    return source_kind.strip().lower() != NOT_ROSTERED


def normal_header(cell: str) -> str:
    """A header cell as a column name: trimmed, lower-case, spaces and dashes as underscores."""
    return re.sub(r"[\s\-]+", "_", cell.strip().lstrip("\ufeff").strip().lower())


@dataclass(frozen=True, slots=True, kw_only=True)
class SheetRow:
    """One data row of a spreadsheet, as text keyed by column name.

    `row` is the row number a person sees in Excel (the header is row 1). `formulas` names the
    columns whose cell held a formula with no saved value: the reader cannot know what it shows.
    """

    row: int
    cells: Mapping[str, str]
    formulas: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RowError:
    """One problem in one cell of the file: where, what is wrong, and how to fix it."""

    row: int
    column: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.problem} — {self.fix}"


@dataclass(frozen=True, slots=True, kw_only=True)
class School:
    """A school a row may name: its portal id and sourcedId."""

    id: str
    sourced_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NewEducator:
    """A valid row: an educator account to create."""

    row: int
    given_name: str
    family_name: str
    email: str
    role: str
    school: School | None
    staff_id: str = ""


@dataclass(slots=True, kw_only=True)
class ImportReport:
    """What an import did (or, on a dry run or with errors, would do)."""

    filename: str
    rows: int = 0
    # Rows that passed every check (on a dry run: how many would be created).
    valid: int = 0
    created: int = 0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)
    account_ids: list[str] = field(default_factory=list, repr=False)

    @property
    def applied(self) -> bool:
        """True when the accounts were written: no row errors and not a dry run."""
        return not self.errors and not self.dry_run

    @property
    def status(self) -> str:
        if self.errors:
            return "rejected"
        return "dry_run" if self.dry_run else "imported"


def check_columns(header: Sequence[str]) -> list[str]:
    """The problems with a header row, each naming the column and the fix (empty when usable).

    Columns may come in any order; every required column must be there once, and no column may be
    one the template does not have (a misspelt column would otherwise be ignored silently).
    """
    names = [normal_header(h) for h in header]
    while names and not names[-1]:
        names.pop()  # trailing empty header cells are Excel's, not the person's
    problems: list[str] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        problems.append(
            f"the header row has no {', '.join(missing)} column"
            f"{'s' if len(missing) > 1 else ''}: the first row must name the columns "
            f"{', '.join(REQUIRED_COLUMNS)} (any order; {', '.join(OPTIONAL_COLUMNS)} optional), "
            "as in the template"
        )
    unknown = [n or f"(blank, column {i + 1})" for i, n in enumerate(names) if n not in COLUMNS]
    if unknown:
        problems.append(
            f"the header row has column{'s' if len(unknown) > 1 else ''} the template does not: "
            f"{', '.join(unknown)}; rename or delete "
            f"{'them' if len(unknown) > 1 else 'it'} (allowed: {', '.join(COLUMNS)})"
        )
    repeated = sorted(n for n, c in Counter(n for n in names if n).items() if c > 1)
    if repeated:
        problems.append(
            f"the header row names {', '.join(repeated)} more than once; keep one of each column"
        )
    return problems


def school_lookup(schools: Sequence[tuple[str, str, str]]) -> dict[str, School | None]:
    """A key → school map from (portal id, sourcedId, identifier) triples.

    A sourcedId always wins; an identifier shared by two schools maps to None (ambiguous), so a
    row naming it is told to use the sourcedId instead.
    """
    lookup: dict[str, School | None] = {}
    by_identifier: dict[str, list[School]] = {}
    for portal_id, sourced_id, identifier in schools:
        school = School(id=portal_id, sourced_id=sourced_id)
        lookup[sourced_id.strip().lower()] = school
        if identifier.strip():
            by_identifier.setdefault(identifier.strip().lower(), []).append(school)
    for key, found in by_identifier.items():
        if key not in lookup:
            lookup[key] = found[0] if len({s.id for s in found}) == 1 else None
    return lookup


def validate_staff_rows(
    rows: Sequence[SheetRow],
    *,
    schools: Mapping[str, School | None],
    emails_in_use: Collection[str],
    allow_teachers: bool = False,
) -> tuple[list[NewEducator], list[RowError]]:
    """Check every row; the accounts to create, and every error found (by row, then column).

    Args:
        rows: The data rows, in file order.
        schools: `school_lookup` of the district's schools (empty when it has none, in which
            case the school cell may be left blank).
        emails_in_use: Normalized emails of the district's existing accounts.
        allow_teachers: Accept the role "teacher" (only in districts that are not rostered).

    Returns:
        (accounts, errors). Callers must write nothing when `errors` is not empty.
    """
    first_row_of: dict[str, int] = {}
    for r in rows:
        email = normal_email(r.cells.get("email", ""))
        if email:
            first_row_of.setdefault(email, r.row)
    accounts: list[NewEducator] = []
    errors: list[RowError] = []
    roles = (*STAFF_ROLES, TEACHER) if allow_teachers else STAFF_ROLES
    for r in rows:
        row_errors = _row_errors(r, schools, emails_in_use, first_row_of, roles, allow_teachers)
        errors.extend(row_errors)
        if row_errors:
            continue
        key = r.cells.get("school_identifier_or_sourced_id", "").strip().lower()
        accounts.append(
            NewEducator(
                row=r.row,
                given_name=r.cells["first_name"].strip(),
                family_name=r.cells["last_name"].strip(),
                email=r.cells["email"].strip(),
                role=r.cells["role"].strip().lower(),
                school=schools.get(key) if key else None,
                staff_id=r.cells.get("staff_id", "").strip(),
            )
        )
    return accounts, errors


def _row_errors(
    r: SheetRow,
    schools: Mapping[str, School | None],
    emails_in_use: Collection[str],
    first_row_of: Mapping[str, int],
    roles: Sequence[str],
    allow_teachers: bool,
) -> list[RowError]:
    errors: list[RowError] = []

    def error(column: str, problem: str, fix: str) -> None:
        errors.append(RowError(row=r.row, column=column, problem=problem, fix=fix))

    for column in r.formulas:
        error(
            column,
            "the cell holds a formula whose value was never saved",
            "type the value itself, or open the file in Excel and save it so values are stored",
        )
    for column, label in (("first_name", "first name"), ("last_name", "last name")):
        if column in r.formulas:
            continue
        value = r.cells.get(column, "").strip()
        if not value:
            error(column, f"the {label} is missing", f"fill in the person's {label}")
        elif len(value) > MAX_NAME:
            error(column, f"the {label} is longer than {MAX_NAME} characters", "shorten it")
    errors.extend(_email_errors(r, emails_in_use, first_row_of))
    role = r.cells.get("role", "").strip().lower()
    if "role" not in r.formulas:
        if not role:
            error("role", "the role is missing", f"use one of: {', '.join(roles)}")
        elif role == TEACHER and not allow_teachers:
            error(
                "role",
                "teachers are not imported: this district's teachers come from ClassLink",
                "add the teacher in your SIS/ClassLink; for other staff use one of: "
                + ", ".join(roles),
            )
        elif role not in roles:
            error(
                "role",
                f"{role!r} is not a role the portal knows",
                f"use one of: {', '.join(roles)}",
            )
    key = r.cells.get("school_identifier_or_sourced_id", "").strip()
    column = "school_identifier_or_sourced_id"
    if column not in r.formulas:
        if not key and schools:
            error(
                column,
                "the school is missing",
                "give the school's identifier or ClassLink sourcedId (see the school list)",
            )
        elif key and key.lower() not in schools:
            error(
                column,
                f"no school in this district has the identifier or sourcedId {key!r}",
                "copy the school's identifier or sourcedId from the portal's school list",
            )
        elif key and schools.get(key.lower()) is None:
            error(
                column,
                f"more than one school has the identifier {key!r}",
                "give the school's ClassLink sourcedId instead",
            )
    staff_id = r.cells.get("staff_id", "").strip()
    if len(staff_id) > MAX_STAFF_ID:
        error("staff_id", f"the staff ID is longer than {MAX_STAFF_ID} characters", "shorten it")
    return errors


def _email_errors(
    r: SheetRow, emails_in_use: Collection[str], first_row_of: Mapping[str, int]
) -> list[RowError]:
    if "email" in r.formulas:
        return []
    raw = r.cells.get("email", "").strip()
    email = normal_email(raw)

    def error(problem: str, fix: str) -> list[RowError]:
        return [RowError(row=r.row, column="email", problem=problem, fix=fix)]

    if not email:
        return error("the email is missing", "fill in the person's work email address")
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
        # The value itself is not repeated: the row and column say where to look.
        return error(
            "the email is not a valid address", "write it as name@district.org, with no spaces"
        )
    if first_row_of[email] != r.row:
        return error(
            f"the same email is already on row {first_row_of[email]}",
            "each person once: delete the repeated row or correct one of the emails",
        )
    if email in emails_in_use:
        return error(
            "another account in this district already uses this email",
            "leave this person out (they already have an account) or correct the email",
        )
    return []


def check_person(
    *,
    given_name: str,
    family_name: str,
    email: str,
    email_required: bool,
    emails_in_use: Collection[str],
) -> list[str]:
    """The problems with the details of one account made by hand (empty when it is valid)."""
    problems: list[str] = []
    for value, label in ((given_name, "first name"), (family_name, "last name")):
        if not value.strip():
            problems.append(f"the {label} is missing: give the person's {label}")
        elif len(value.strip()) > MAX_NAME:
            problems.append(f"the {label} is longer than {MAX_NAME} characters: shorten it")
    normal = normal_email(email)
    if not normal:
        if email_required:
            problems.append("the email is missing: give the person's work email address")
    elif len(normal) > MAX_EMAIL or not _EMAIL.fullmatch(normal):
        problems.append("the email is not a valid address: write it as name@district.org")
    elif normal in emails_in_use:
        problems.append(
            "another account in this district already uses this email: the person may already "
            "have an account, or correct the email"
        )
    return problems


def check_grade(grade: str) -> list[str]:
    """The problem with a hand-entered grade (blank is allowed), as a list like `check_person`."""
    if grade and not _GRADE.fullmatch(grade):
        return [
            f"grade {grade!r} is not a CEDS grade code: use KG, 01–13, PK, TK, IT, PR, PS, UG "
            "or Other"
        ]
    return []
