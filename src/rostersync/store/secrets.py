"""Encryption of stored source credentials (a district's OneRoster key and secret).

Keys are Fernet keys, newest first: the first encrypts, every one decrypts, so keys can be rotated
by prepending a new key, re-encrypting (`rotate`), then dropping the old one.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from rostersync.errors import ConfigError

WRONG_KEY = (
    "the encryption key cannot decrypt stored credentials; "
    "set ROSTERSYNC_SECRET_KEYS to the key they were stored with"
)


class SecretBox:
    """Encrypts and decrypts short secrets with a list of Fernet keys (newest first)."""

    __slots__ = ("_fernet",)

    def __init__(self, keys: list[str]) -> None:
        """Build the box.

        Args:
            keys: URL-safe base64 Fernet keys, newest first.

        Raises:
            ConfigError: No key, or a key that is not a Fernet key.
        """
        if not keys:
            raise ConfigError(
                "no encryption key: set ROSTERSYNC_SECRET_KEYS (generate one with "
                "`rostersync keys generate`)"
            )
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                # The key itself must never appear in the message.
                raise ConfigError(
                    f"encryption key #{position} in ROSTERSYNC_SECRET_KEYS is not a Fernet key "
                    "(32 url-safe base64-encoded bytes); generate one with "
                    "`rostersync keys generate`"
                ) from None
        self._fernet = MultiFernet(fernets)

    def __repr__(self) -> str:
        return "SecretBox(keys=<hidden>)"

    def encrypt(self, plaintext: str) -> str:
        """Encrypt with the newest key; returns a Fernet token (ASCII text)."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a token made with any of the keys.

        Raises:
            ConfigError: None of the keys can decrypt it.
        """
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError):
            raise ConfigError(WRONG_KEY) from None

    def encrypt_bytes(self, plaintext: bytes) -> bytes:
        """Encrypt bytes with the newest key; returns a Fernet token (ASCII bytes)."""
        return self._fernet.encrypt(plaintext)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """Decrypt a token from `encrypt_bytes` made with any of the keys.

        Raises:
            ConfigError: None of the keys can decrypt it (or it was altered).
        """
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise ConfigError(WRONG_KEY) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt a token with the newest key (for key rotation).

        Raises:
            ConfigError: None of the keys can decrypt it.
        """
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise ConfigError(WRONG_KEY) from None
