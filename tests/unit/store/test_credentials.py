"""Credentials sealed to their source: the same source in other spelling opens them, any other
source (kind, scheme, host, port, path, query) does not."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from rostersync.errors import CredentialNotForSource
from rostersync.store.credentials import (
    SourceIdentity,
    open_credential,
    seal_credential,
)
from rostersync.store.secrets import SecretBox

URL = "https://springfield-il-v2.rosterserver.com/ims/oneroster/v1p1"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([Fernet.generate_key().decode()])


def test_the_same_source_in_other_spelling_is_the_same_identity() -> None:
    one = SourceIdentity.of("oneroster-1.1", URL)
    assert SourceIdentity.of("oneroster-1.1", URL + "/") == one
    assert SourceIdentity.of("oneroster-1.1", URL.replace("springfield", "SPRINGFIELD", 1)) == one
    assert SourceIdentity.of("oneroster-1.1", URL.replace(".com/", ".com:443/")) == one
    assert SourceIdentity.of("oneroster-1.1", "  " + URL.replace("https", "HTTPS")) == one


@pytest.mark.parametrize(
    "other",
    [
        ("oneroster-1.2", URL),
        ("oneroster-1.1", URL.replace("https://", "http://")),
        ("oneroster-1.1", URL.replace("springfield-il-v2", "evil")),
        ("oneroster-1.1", URL.replace(".com/", ".com:8443/")),
        ("oneroster-1.1", URL.replace("/v1p1", "/v1p2")),
        ("oneroster-1.1", URL + "?tenant=other"),
    ],
)
def test_a_sealed_secret_opens_only_for_its_own_source(
    box: SecretBox, other: tuple[str, str]
) -> None:
    token = seal_credential(box, "s3cret", SourceIdentity.of("oneroster-1.1", URL))
    assert open_credential(box, token, SourceIdentity.of("oneroster-1.1", URL)) == "s3cret"
    with pytest.raises(CredentialNotForSource) as refused:
        open_credential(box, token, SourceIdentity.of(*other))
    assert "s3cret" not in str(refused.value)
    assert "springfield-il-v2.rosterserver.com" in str(refused.value)


def test_the_seal_is_inside_the_encryption(box: SecretBox) -> None:
    token = seal_credential(box, "s3cret", SourceIdentity.of("oneroster-1.1", URL))
    assert "s3cret" not in token and "rosterserver" not in token
    seal, envelope = box.decrypt(token).split("\n", 1)
    assert seal == "rostersync-sealed:1"
    assert SourceIdentity(**json.loads(envelope)["source"]) == SourceIdentity.of(
        "oneroster-1.1", URL
    )


def test_a_credential_stored_before_sealing_is_still_read(box: SecretBox) -> None:
    legacy = box.encrypt("old-secret")
    assert open_credential(box, legacy, SourceIdentity.of("oneroster-1.1", URL)) == "old-secret"
    # It carries no source, so no source refuses it.
    assert open_credential(box, legacy, SourceIdentity.of("oneroster-1.2", "")) == "old-secret"
