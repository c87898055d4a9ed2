"""The accounts service's token signer: the one place that holds the private key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from libs.auth.tokens import Principal, TokenIssuer


class TokenSigner:
    """Signs access tokens; reads its private key when the service starts, not before."""

    def __init__(self, key_files: Callable[[], tuple[Path | None, Path]], ttl: timedelta) -> None:
        self._key_files = key_files
        self.ttl = ttl
        self._issuer: TokenIssuer | None = None

    async def start(self) -> None:
        private_path, _ = self._key_files()
        if private_path is None:
            raise RuntimeError("the accounts service signs access tokens: set "
                               "ADOPTE_ACCOUNTS_JWT_PRIVATE_KEY_FILE beside the public key file")
        self._issuer = TokenIssuer(private_path.read_text(), ttl=self.ttl)

    def sign(self, principal: Principal) -> str:
        if self._issuer is None:
            raise RuntimeError("the token signer is not started")
        return self._issuer.issue(principal)
