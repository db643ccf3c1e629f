"""Source credentials sealed to the source they were entered for.

A district's OneRoster key and secret are encrypted together with the identity of the source a
person typed them for: the source kind and the URL's scheme, host, port and path (with its
query). Fernet authenticates the whole, so the binding cannot be edited in the database without
the encryption key. `open_credential` is the one gate every read goes through: it returns the
secret only when the district's source is still exactly the one it was sealed for, so a changed
URL can never receive a stored secret (decision 0018).

Credentials stored before sealing existed (plain Fernet tokens) are read as they are; any change
of source since then has had to retype them, because changing the source is refused without them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from rostersync.errors import CredentialNotForSource
from rostersync.store.secrets import SecretBox

_SEAL = "rostersync-sealed:1\n"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class SourceIdentity:
    """Where a credential may be sent: kind, scheme, host, port and path (with any query)."""

    kind: str
    scheme: str
    host: str
    port: int | None
    path: str

    @classmethod
    def of(cls, kind: str, url: str) -> SourceIdentity:
        """The identity of a source kind at a URL ("" for kinds that have none).

        Host names compare case-insensitively and a default port equals no port; a trailing
        slash on the path is not significant. Everything else must match exactly.
        """
        parts = _split(url.strip())
        if parts is None:
            return cls(kind=kind, scheme="", host="", port=None, path=url.strip())
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = None
        path = parts.path.rstrip("/")
        if parts.query:
            path = f"{path}?{parts.query}"
        return cls(
            kind=kind,
            scheme=scheme,
            host=(parts.hostname or "").lower(),
            port=port if port is not None else _DEFAULT_PORTS.get(scheme),
            path=path,
        )

    def describe(self) -> str:
        """The source in words, for a message (never the credential)."""
        if not self.host:
            return self.kind
        port = "" if self.port == _DEFAULT_PORTS.get(self.scheme) else f":{self.port}"
        return f"{self.kind} at {self.scheme}://{self.host}{port}{self.path}"

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "scheme": self.scheme,
            "host": self.host,
            "port": self.port,
            "path": self.path,
        }


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts if parts.scheme and parts.netloc else None


def seal_credential(box: SecretBox, value: str, source: SourceIdentity) -> str:
    """Encrypt `value` bound to `source`; only `open_credential` for that source reads it."""
    envelope = json.dumps({"source": source.as_json(), "value": value}, sort_keys=True)
    return box.encrypt(_SEAL + envelope)


def open_credential(box: SecretBox, token: str, source: SourceIdentity) -> str:
    """Decrypt a credential, refusing it for any source but the one it was sealed for.

    Raises:
        CredentialNotForSource: It was entered for another source (kind, scheme, host, port or
            path differ). The message names both sources, never the credential.
        ConfigError: The configured keys cannot decrypt it.
    """
    plaintext = box.decrypt(token)
    if not plaintext.startswith(_SEAL):
        return plaintext
    envelope = json.loads(plaintext[len(_SEAL) :])
    sealed_for = SourceIdentity(**envelope["source"])
    if sealed_for != source:
        raise CredentialNotForSource(
            f"the stored key and secret were entered for {sealed_for.describe()}, not "
            f"{source.describe()}; a stored secret is only sent to the source it was entered "
            "for: type the key and secret again for the new source"
        )
    return str(envelope["value"])
