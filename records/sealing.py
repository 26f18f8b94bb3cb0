"""Encryption at rest of raw messages and attachments: AES-256-GCM (``cryptography``).

The key is 32 random bytes, given base64-encoded in the environment variable the
configuration names (``storage.key_env``); ``mappa-intake keys new`` prints a fresh one. Each
sealed blob is a 12-byte random nonce followed by the ciphertext and tag, and is stored beside
the id of the key that sealed it, so that a key rotation knows what to re-seal.

A ``Sealer`` is a keyring: the key in force seals, and it and any previous keys (the
variable ``storage.previous_keys_env`` names) open. During a rotation the daemon and the
console run with both, and ``mappa-intake keys rotate`` (``records/keys.py``) re-seals what
the previous keys sealed; then the previous keys are dropped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from records.errors import SealError

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce; random nonces are safe far beyond our volume
# Bound into every tag: a blob from another program (or another format version) never opens.
_CONTEXT = b"mappa-intake stored blob v1"


def key_id_of(key: bytes) -> str:
    """A key's public name (stored beside each blob): not a secret, and says nothing of it."""
    return hashlib.sha256(b"key-id:" + key).hexdigest()[:16]


def key_from_text(text: str) -> bytes:
    try:
        # Standard or URL-safe alphabet, whichever the operator's tool printed.
        plain = text.strip().replace("-", "+").replace("_", "/")
        key = base64.b64decode(plain, validate=True)
    except (binascii.Error, ValueError) as err:
        raise SealError("storage key is not valid base64") from err
    if len(key) != KEY_BYTES:
        raise SealError(f"storage key must be {KEY_BYTES} bytes, got {len(key)}")
    return key


def keys_from_text(text: str) -> list[bytes]:
    """One or more keys separated by commas or white space (the previous keys)."""
    keys = []
    for number, item in enumerate((t for t in re.split(r"[\s,]+", text) if t), start=1):
        try:
            keys.append(key_from_text(item))
        except SealError as err:
            raise SealError(f"key {number}: {err}") from err
    return keys


class Sealer:
    def __init__(self, key: bytes, previous: Iterable[bytes] = ()) -> None:
        if len(key) != KEY_BYTES:
            raise SealError(f"storage key must be {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)
        self.key_id = key_id_of(key)
        self._openers = {self.key_id: self._aead}
        for old in previous:
            if len(old) != KEY_BYTES:
                raise SealError(f"storage key must be {KEY_BYTES} bytes, got {len(old)}")
            self._openers.setdefault(key_id_of(old), AESGCM(old))

    @classmethod
    def from_text(cls, text: str, previous: str = "") -> Sealer:
        """``previous``: the previous keys, separated by commas or spaces (may be empty)."""
        return cls(key_from_text(text), keys_from_text(previous))

    @property
    def previous_ids(self) -> tuple[str, ...]:
        return tuple(k for k in self._openers if k != self.key_id)

    def opens(self, key_id: str) -> bool:
        return key_id in self._openers

    def seal(self, data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data, _CONTEXT)

    def open(self, sealed: bytes, key_id: str) -> bytes:
        aead = self._openers.get(key_id)
        if aead is None:
            others = " or a previous key" if len(self._openers) > 1 else ""
            raise SealError(f"blob was sealed with key {key_id}, not the key in force{others}")
        try:
            return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _CONTEXT)
        except InvalidTag as err:
            raise SealError("stored blob failed its integrity check") from err


def new_key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")
