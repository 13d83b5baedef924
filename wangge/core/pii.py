"""Personal data at rest (ARCHITECTURE.md, "PII fields"; DOMAIN.md §10).

ID numbers and phone numbers are stored three ways, never in plain text:
- encrypted with AES-256-GCM under a key id (so keys can be rotated: old rows keep naming the key that sealed them);
- an HMAC-SHA256 blind index, so an exact value can still be found and de-duplicated without decrypting anything;
- the masked form shown by default (`370103********1234`, `138****5678`), so lists never decrypt.

Keys come from WANGGE_PII_KEYS (JSON {"key id": "base64 of 32 bytes", …}) with WANGGE_PII_KEY_ID naming the one that
seals new values, or on a fresh install from var/pii_keys.json, generated once (mode 600). The blind-index key is a
separate secret of the same file/variable ("index"), so that rotating encryption keys never changes the index.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from wangge.core.errors import DomainError

INDEX_KEY_ID = "index"
# The purposes (bound into ciphertexts and blind indexes) of a person's numbers, wherever they are stored — the
# registry, a screening's proposals, a pushed list's rows — so one number has one blind index everywhere.
ID_NUMBER = "person.id_number"
PHONE = "person.phone"


@lru_cache(maxsize=1)
def _keyring():
    raw = os.environ.get("WANGGE_PII_KEYS")
    if raw:
        keys = json.loads(raw)
    else:
        path = settings.VAR_DIR / "pii_keys.json"
        if not path.exists():
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            fresh = {"k1": base64.b64encode(secrets.token_bytes(32)).decode(),
                     INDEX_KEY_ID: base64.b64encode(secrets.token_bytes(32)).decode()}
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    json.dump(fresh, handle)
            except FileExistsError:  # another process made it first: use theirs
                pass
        keys = json.loads(path.read_text())
    decoded = {key_id: base64.b64decode(value) for key_id, value in keys.items()}
    if INDEX_KEY_ID not in decoded or any(len(k) != 32 for k in decoded.values()):
        raise RuntimeError("PII keys must be 32 bytes each and include an 'index' key")
    current = os.environ.get("WANGGE_PII_KEY_ID") or sorted(k for k in decoded if k != INDEX_KEY_ID)[-1]
    return decoded, current


def reset_keyring():
    _keyring.cache_clear()


def encrypt(value: str, *, purpose: str) -> str:
    """`key id:base64(nonce + ciphertext)`; `purpose` (the field) is bound in as associated data, so a value
    sealed for one field cannot be moved into another."""
    keys, current = _keyring()
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(keys[current]).encrypt(nonce, value.encode(), purpose.encode())
    return f"{current}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(token: str, *, purpose: str) -> str:
    keys, _current = _keyring()
    key_id, _, payload = token.partition(":")
    blob = base64.b64decode(payload)
    return AESGCM(keys[key_id]).decrypt(blob[:12], blob[12:], purpose.encode()).decode()


def blind_index(value: str, *, purpose: str) -> str:
    keys, _current = _keyring()
    return hmac.new(keys[INDEX_KEY_ID], f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_phone(value: str) -> str:
    if len(value) >= 11:
        return value[:3] + "****" + value[-4:]
    return value[:2] + "*" * max(len(value) - 4, 0) + value[-2:]


class Sealed:
    """The three stored forms of one personal value: (encrypted, blind index, masked)."""

    __slots__ = ("encrypted", "index", "masked")

    def __init__(self, value: str, *, purpose: str, mask):
        if not value:
            raise DomainError("empty personal value", field=purpose)
        self.encrypted = encrypt(value, purpose=purpose)
        self.index = blind_index(value, purpose=purpose)
        self.masked = mask(value)


def seal_many(values, *, purpose: str, mask):
    """Sealed forms of many values at once (bulk imports): three lists (encrypted, blind index, masked), the same
    formats as encrypt(), blind_index() and `mask`, with one cipher object and one draw of nonces for the batch."""
    keys, current = _keyring()
    cipher = AESGCM(keys[current])
    index_key = keys[INDEX_KEY_ID]
    aad = purpose.encode()
    nonces = secrets.token_bytes(12 * len(values))
    prefix = f"{current}:"
    encrypted, indexes, masked = [], [], []
    b64 = base64.b64encode
    digest = hmac.digest
    for i, value in enumerate(values):
        raw = value.encode()
        nonce = nonces[12 * i:12 * i + 12]
        encrypted.append(prefix + b64(nonce + cipher.encrypt(nonce, raw, aad)).decode())
        indexes.append(digest(index_key, aad + b":" + raw, "sha256").hex())
        masked.append(mask(value))
    return encrypted, indexes, masked
