"""SecretBox encrypts with the newest key, decrypts with any, and explains a wrong key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from rostersync.errors import ConfigError
from rostersync.store.secrets import SecretBox


def key() -> str:
    return Fernet.generate_key().decode()


class TestSecretBox:
    """Encryption of stored source credentials."""

    def test_round_trip_and_no_plaintext_in_the_token(self) -> None:
        box = SecretBox([key()])
        token = box.encrypt("s3cret-value")
        assert "s3cret-value" not in token
        assert box.decrypt(token) == "s3cret-value"

    def test_tokens_differ_each_time(self) -> None:
        box = SecretBox([key()])
        assert box.encrypt("x") != box.encrypt("x")

    def test_a_wrong_key_is_a_config_error_naming_the_setting(self) -> None:
        token = SecretBox([key()]).encrypt("x")
        with pytest.raises(ConfigError) as caught:
            SecretBox([key()]).decrypt(token)
        assert str(caught.value) == (
            "the encryption key cannot decrypt stored credentials; "
            "set ROSTERSYNC_SECRET_KEYS to the key they were stored with"
        )

    def test_a_garbled_token_is_the_same_config_error(self) -> None:
        with pytest.raises(ConfigError, match="ROSTERSYNC_SECRET_KEYS"):
            SecretBox([key()]).decrypt("not-a-token-é")

    def test_rotation_re_encrypts_with_the_newest_key(self) -> None:
        old, new = key(), key()
        token = SecretBox([old]).encrypt("x")
        rotated = SecretBox([new, old]).rotate(token)
        assert SecretBox([new]).decrypt(rotated) == "x"
        with pytest.raises(ConfigError):
            SecretBox([old]).decrypt(rotated)

    def test_rotating_a_token_no_key_opens_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError):
            SecretBox([key()]).rotate(SecretBox([key()]).encrypt("x"))

    def test_a_malformed_key_is_refused_without_echoing_it(self) -> None:
        with pytest.raises(ConfigError, match="key #2") as caught:
            SecretBox([key(), "hunter2-not-a-fernet-key"])
        assert "hunter2" not in str(caught.value)

    def test_no_keys_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="ROSTERSYNC_SECRET_KEYS"):
            SecretBox([])

    def test_the_repr_hides_the_keys(self) -> None:
        secret = key()
        assert secret not in repr(SecretBox([secret]))
