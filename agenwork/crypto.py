"""Encryption at rest for secrets the app must read back (webhook signing secrets, client secrets).

The key is ENCRYPTION_KEY from settings (any string; stretched to a Fernet key). Rotating it makes
stored secrets unreadable, so they must be entered again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(f"agenwork-at-rest:{settings.ENCRYPTION_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    """Encrypt a secret for storage."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a stored secret; ValueError when the key changed or the value was altered."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the stored secret cannot be decrypted with this ENCRYPTION_KEY") from exc


def hash_token(token: str) -> str:
    """A SHA-256 hex digest: how random high-entropy tokens and keys are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    return hmac.compare_digest(hash_token(token), stored_hash)


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random token."""
    return secrets.token_urlsafe(nbytes)
