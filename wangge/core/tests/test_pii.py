import base64
import json

import pytest
from cryptography.exceptions import InvalidTag

from wangge.core import pii


@pytest.fixture
def two_keys(monkeypatch):
    keys = {"k1": base64.b64encode(b"1" * 32).decode(), "k2": base64.b64encode(b"2" * 32).decode(),
            "index": base64.b64encode(b"i" * 32).decode()}
    monkeypatch.setenv("WANGGE_PII_KEYS", json.dumps(keys))
    monkeypatch.setenv("WANGGE_PII_KEY_ID", "k1")
    pii.reset_keyring()
    yield keys
    pii.reset_keyring()


def test_values_round_trip_and_are_not_stored_in_plain_text(two_keys):
    token = pii.encrypt("360426199101010071", purpose="person.id_number")
    assert "360426199101010071" not in token and token.startswith("k1:")
    assert pii.decrypt(token, purpose="person.id_number") == "360426199101010071"
    # A fresh nonce each time: the same value never seals to the same text.
    assert token != pii.encrypt("360426199101010071", purpose="person.id_number")


def test_a_value_sealed_for_one_field_cannot_be_opened_as_another(two_keys):
    token = pii.encrypt("13800138000", purpose="person.phone")
    with pytest.raises(InvalidTag):
        pii.decrypt(token, purpose="person.id_number")


def test_rotation_keeps_old_values_readable_and_the_index_stable(two_keys, monkeypatch):
    old = pii.encrypt("13800138000", purpose="person.phone")
    index_before = pii.blind_index("13800138000", purpose="person.phone")
    monkeypatch.setenv("WANGGE_PII_KEY_ID", "k2")
    pii.reset_keyring()
    new = pii.encrypt("13800138000", purpose="person.phone")
    assert new.startswith("k2:") and old.startswith("k1:")
    assert pii.decrypt(old, purpose="person.phone") == pii.decrypt(new, purpose="person.phone") == "13800138000"
    assert pii.blind_index("13800138000", purpose="person.phone") == index_before


def test_masks_follow_the_common_formats():
    assert pii.mask_id_number("110105194912310021") == "110105********0021"
    assert pii.mask_phone("13800138000") == "138****8000"


def test_a_fresh_install_generates_its_keys_once(tmp_path, settings, monkeypatch):
    monkeypatch.delenv("WANGGE_PII_KEYS", raising=False)
    monkeypatch.delenv("WANGGE_PII_KEY_ID", raising=False)
    settings.VAR_DIR = tmp_path
    pii.reset_keyring()
    try:
        token = pii.encrypt("x", purpose="t")
        path = tmp_path / "pii_keys.json"
        assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
        pii.reset_keyring()
        assert pii.decrypt(token, purpose="t") == "x"  # the same keys are read back
    finally:
        pii.reset_keyring()
