"""Encryption at rest for secrets the app must read back (webhook signing secrets, client secrets).

- The key is ENCRYPTION_KEY from settings (any string; stretched to a Fernet key). Keys of earlier
  rotations, ENCRYPTION_OLD_KEYS, still decrypt (MultiFernet); only ENCRYPTION_KEY encrypts.
- A stored value lives in a model field named `*_encrypted`: `manage.py reencrypt_secrets` finds
  them by that name and moves each to the current key (`reencrypt`), after which the old keys
  can go.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

UNREADABLE = "the stored secret cannot be decrypted with ENCRYPTION_KEY or ENCRYPTION_OLD_KEYS"


@functools.lru_cache(maxsize=16)
def _fernet_of(key: str) -> Fernet:
    """The Fernet key stretched from a key string (the same for current and old keys)."""
    digest = hashlib.sha256(f"agenwork-at-rest:{key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _current() -> Fernet:
    return _fernet_of(settings.ENCRYPTION_KEY)


def _any_key() -> MultiFernet:
    """The current key first (it encrypts), then the old ones (they only decrypt)."""
    old = [_fernet_of(key) for key in settings.ENCRYPTION_OLD_KEYS]
    return MultiFernet([_current(), *old])


def encrypt(plaintext: str) -> str:
    """Encrypt a secret for storage, with the current key."""
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a stored secret; ValueError when no key decrypts it or the value was altered."""
    try:
        return _any_key().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(UNREADABLE) from exc


def reencrypt(token: str) -> str:
    """The stored secret under the current key: `token` itself when it already is.

    - ValueError when no key decrypts it (its key is not in ENCRYPTION_OLD_KEYS, or it was altered).
    """
    try:
        _current().decrypt(token.encode())
    except InvalidToken:
        pass
    else:
        return token
    try:
        return _any_key().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(UNREADABLE) from exc


def hash_token(token: str) -> str:
    """A SHA-256 hex digest: how random high-entropy tokens and keys are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    return hmac.compare_digest(hash_token(token), stored_hash)


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random token."""
    return secrets.token_urlsafe(nbytes)
