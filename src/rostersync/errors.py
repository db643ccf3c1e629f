"""The one exception tree of rostersync. Each name says what the caller does next.

RosterSyncError                  root; every message says how to fix the problem
├── ConfigError                  settings or district configuration is wrong: fix it and retry
│   ├── ManualRosteringDisabled  the district is rostered from ClassLink: add people there instead
│   ├── CredentialNotForSource   a stored secret was entered for another source: type it again
│   ├── FullSyncRequired         a delta has nothing to build on: run a full sync first
│   ├── DiscoveryError*          ClassLink's discovery document is unreadable or names another
│   │                            issuer (signin.oidc)
│   └── SealedBundleError*       a sealed pushed bundle cannot be read back (store.bundle_vault)
├── SourceError                  talking to the roster source (ClassLink, OneRoster, a bundle)
│   ├── SourceAuthError          credentials refused: `.credential` names what to check
│   ├── RetriableSourceError     429/5xx/timeouts: try again later (already retried with backoff)
│   │   └── RosterBudgetExhausted*  no turn in the shared request budget in time (oneroster.budget)
│   ├── FatalSourceError         the source answered something we cannot use: fix the source
│   │   ├── BundleError*         a bundle refused; `.file`, `.line`, `.column` locate it
│   │   │                        (oneroster.bundle_limits)
│   │   └── OutboundRefused*     the outbound policy refuses that address or scheme
│   │                            (oneroster.outbound)
│   └── IncompleteSourceError    a collection did not arrive whole: nothing is deactivated
│       └── CountMismatch*       its count changed mid-pull or disagrees (oneroster.paging)
├── NotFoundError                a district, run or record that does not exist
├── SyncInProgress               another sync of the same district holds the lock
├── DatabaseUnavailable          the portal database went away mid-run: nothing written, retry
├── SourceChanged                the roster changed since the preview: preview again
├── RunNotPending                the run is not waiting for a decision (or was decided already)
├── BundlePushRefused            a pushed bundle cannot be taken now: push again later
├── SpreadsheetRejected          an import file's structure is unusable: fix the file, upload again
├── AccountRejected              a hand-made account's details are invalid: correct them
├── SignInRefused*               a ClassLink sign-in that must not complete (signin.oidc)
├── StaffSignInRefused*          a staff sign-in refused, one message for every cause
│   │                            (staff.errors)
│   └── StaffCodeRefused*        the two-step code was wrong, used already or expired
├── InvitationRefused*           an invitation link that cannot be used (staff.errors)
├── TotpRefused*                 a two-step enrolment that cannot be confirmed (staff.errors)
├── ApiTokenRefused*             a bearer token that signs no one in (staff.api_tokens)
└── RateLimited*                 too many failed tries: refused until `.retry_at` (staff.limits)

* defined beside the code that raises it, in the module named; every other class is below.
"""

from __future__ import annotations


class RosterSyncError(Exception):
    """Root of every error rostersync raises on purpose."""


class ConfigError(RosterSyncError):
    """Settings or a district's configuration is wrong or missing."""


class NotFoundError(RosterSyncError):
    """A district, run or record that the caller named does not exist."""


class SourceError(RosterSyncError):
    """Something went wrong talking to the roster source."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class SourceAuthError(SourceError):
    """The source refused our credentials; `credential` says which one to check."""

    def __init__(
        self, message: str, *, credential: str, url: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.credential = credential


class RetriableSourceError(SourceError):
    """A transient failure (429, 5xx, timeout) that outlived our retries; retry the sync later."""


class FatalSourceError(SourceError):
    """The source answered with something unusable (4xx, malformed body); retrying will not help."""


class IncompleteSourceError(SourceError):
    """A collection did not arrive whole, so it must not be used to infer who left."""


class SyncInProgress(RosterSyncError):
    """Another sync of this district is running; wait for it to finish."""


class DatabaseUnavailable(RosterSyncError):
    """The portal database stopped answering mid-run; nothing was written: check it, then retry."""


class ManualRosteringDisabled(ConfigError):
    """The district is rostered from its SIS/ClassLink, so accounts may not be made by hand."""


class CredentialNotForSource(ConfigError):
    """A stored secret was entered for another source than the one named: type it again."""


class FullSyncRequired(ConfigError):
    """A delta sync needs a watermark from a successful full sync, and there is none yet."""


class SpreadsheetRejected(RosterSyncError):
    """An import file cannot be read as a staff list at all (columns, sheet, encoding, size).

    Nothing in it was imported; `filename` names the file the message is about.
    """

    def __init__(self, message: str, *, filename: str) -> None:
        super().__init__(message)
        self.filename = filename


class AccountRejected(RosterSyncError):
    """The details given for a hand-made account are invalid; `problems` lists each one."""

    def __init__(self, message: str, *, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class SourceChanged(RosterSyncError):
    """The roster changed between a preview and its approval; `differences` says how much."""

    def __init__(self, message: str, *, differences: int) -> None:
        super().__init__(message)
        self.differences = differences


class RunNotPending(RosterSyncError):
    """The run is not a preview or held run waiting for a decision (or was decided already)."""


class BundlePushRefused(RosterSyncError):
    """A pushed bundle cannot be taken now: one is still queued or running, or the queue is
    unreachable. Push again later; `bundle_id` names the bundle the message is about, and
    `busy` is True when the district's previous bundle is still waiting (False: the queue)."""

    def __init__(self, message: str, *, bundle_id: str, busy: bool) -> None:
        super().__init__(message)
        self.bundle_id = bundle_id
        self.busy = busy
