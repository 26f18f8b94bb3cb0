"""Encryption at rest of raw messages and attachments: AES-256-GCM (``cryptography``).

The key is 32 random bytes, given base64-encoded in the environment variable the
configuration names (``storage.key_env``); ``mappa-intake keys new`` prints a fresh one. Each
sealed blob is a 12-byte random nonce followed by the ciphertext and tag, and is stored beside
the id of the key that sealed it, so that a later key rotation knows what to re-seal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from records.errors import SealError

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce; random nonces are safe far beyond our volume
# Bound into every tag: a blob from another program (or another format version) never opens.
_CONTEXT = b"mappa-intake stored blob v1"


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SealError(f"storage key must be {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"key-id:" + key).hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str) -> Sealer:
        try:
            # Standard or URL-safe alphabet, whichever the operator's tool printed.
            plain = text.strip().replace("-", "+").replace("_", "/")
            key = base64.b64decode(plain, validate=True)
        except (binascii.Error, ValueError) as err:
            raise SealError("storage key is not valid base64") from err
        return cls(key)

    def seal(self, data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data, _CONTEXT)

    def open(self, sealed: bytes, key_id: str) -> bytes:
        if key_id != self.key_id:
            raise SealError(f"blob was sealed with key {key_id}, not the key in force")
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _CONTEXT)
        except InvalidTag as err:
            raise SealError("stored blob failed its integrity check") from err


def new_key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")
