"""Signed access tokens (JWT, EdDSA by default): the accounts service signs with its private key,
every other service verifies with the public key alone, without calling accounts."""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ISSUER = "adopte-accounts"
AUDIENCE = "adopte"


@dataclass(frozen=True, slots=True)
class Principal:
    """The person behind a verified token."""

    user_id: UUID
    email: str
    name: str
    roles: frozenset[str]

    @property
    def is_platform_admin(self) -> bool:
        return "platform_admin" in self.roles


class InvalidToken(Exception):
    pass


class TokenVerifier:
    def __init__(self, public_key_pem: str, *, algorithm: str = "EdDSA") -> None:
        self._key = public_key_pem
        self._algorithm = algorithm

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(token, self._key, algorithms=[self._algorithm], audience=AUDIENCE,
                                issuer=ISSUER, options={"require": ["exp", "sub", "iat"]})
            return Principal(UUID(claims["sub"]), claims["email"], claims.get("name", ""),
                             frozenset(claims.get("roles", [])))
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise InvalidToken(str(exc)) from None


class TokenIssuer:
    def __init__(self, private_key_pem: str, *, algorithm: str = "EdDSA",
                 ttl: timedelta = timedelta(hours=12)) -> None:
        self._key = private_key_pem
        self._algorithm = algorithm
        self.ttl = ttl

    def issue(self, principal: Principal) -> str:
        now = datetime.now(UTC)
        claims = {"sub": str(principal.user_id), "email": principal.email, "name": principal.name,
                  "roles": sorted(principal.roles), "iat": now, "exp": now + self.ttl,
                  "iss": ISSUER, "aud": AUDIENCE}
        return jwt.encode(claims, self._key, algorithm=self._algorithm)


def generate_keypair() -> tuple[str, str]:
    """A new Ed25519 key pair as (private PEM, public PEM)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


def ensure_keypair(folder: Path) -> tuple[Path, Path]:
    """The key pair kept in ``folder`` (made on first use): the embedded runtime's keys."""
    private_path, public_path = folder / "jwt-private.pem", folder / "jwt-public.pem"
    folder.mkdir(parents=True, exist_ok=True)
    # Every service process of one host may start at once: one makes the pair, the rest wait.
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not public_path.exists():
            private_pem, public_pem = generate_keypair()
            private_path.touch(mode=0o600)
            private_path.write_text(private_pem)
            public_path.write_text(public_pem)
    return private_path, public_path
