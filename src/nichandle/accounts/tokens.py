"""API token secrets: high-entropy, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "nh_"  # noqa: S105 - a public prefix, not a secret


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    # A fast hash is right here: the secret has 256 bits of entropy, nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[:10]
