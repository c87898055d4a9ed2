"""What the accounts service does: load, change, write the outbox, commit.

Opening an account and listing them take the database's unit of work or sessions rather than
the whole runtime, because ``adopte accounts`` runs them on the database alone, hub or no hub.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.accounts import ContactPreferencesChanged, GlobalRole, UserRegistered
from libs.kit.errors import Conflict, Unauthorized
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.accounts import domain
from services.accounts.domain import ContactPreferences, Credentials, Registration
from services.accounts.signing import TokenSigner
from services.accounts.tables import ContactPreference, User

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]

WRONG_CREDENTIALS = "wrong e-mail address or password"


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    expires_in: int
    token_type: str = "bearer"


async def open_account(
    unit_of_work: UnitOfWorkFactory, registration: Registration, roles: list[GlobalRole]
) -> User:
    # Hashed before the transaction: the write lock is not held for the hashing time.
    password_hash = await asyncio.to_thread(domain.hash_password, registration.password)
    user = User(id=uuid4(), email=registration.email, name=registration.name,
                password_hash=password_hash, roles=list(roles), created_at=datetime.now(UTC))
    try:
        async with unit_of_work() as uow:
            uow.session.add(user)
            await uow.session.flush()
            await uow.emit(UserRegistered(user_id=user.id, email=user.email, name=user.name,
                                          roles=list(roles)))
    except IntegrityError:
        # The unique e-mail index decides, so two sign-ups racing for one address cannot both win.
        raise Conflict(f"an account already exists for {registration.email}") from None
    return user


async def sign_up(runtime: ServiceRuntime, registration: Registration) -> User:
    return await open_account(runtime.unit_of_work, registration, [domain.RESIDENT])


async def authenticate(runtime: ServiceRuntime, credentials: Credentials) -> User:
    async with runtime.database.sessions() as session:
        user = (await session.exec(select(User).where(User.email == credentials.email))).first()
    password_hash = user.password_hash if user else domain.unknown_account_hash()
    matches = await asyncio.to_thread(domain.password_matches, password_hash, credentials.password)
    if user is None or not matches:
        raise Unauthorized(WRONG_CREDENTIALS)
    return user


def issue_token(runtime: ServiceRuntime, user: User) -> AccessToken:
    signer: TokenSigner = runtime.adapters["tokens"]
    principal = Principal(user_id=user.id, email=user.email, name=user.name,
                          roles=frozenset(user.roles))
    return AccessToken(signer.sign(principal), int(signer.ttl.total_seconds()))


async def get_user(runtime: ServiceRuntime, user_id: UUID) -> User:
    async with runtime.database.sessions() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise Unauthorized("this account no longer exists; sign in again")
    return user


async def contact_preferences(runtime: ServiceRuntime, user_id: UUID) -> ContactPreferences:
    async with runtime.database.sessions() as session:
        if await session.get(User, user_id) is None:
            raise Unauthorized("this account no longer exists; sign in again")
        row = await session.get(ContactPreference, user_id)
    return _preferences(row) if row else ContactPreferences()


async def change_contact_preferences(runtime: ServiceRuntime, user_id: UUID,
                                     wanted: ContactPreferences) -> ContactPreferences:
    """Keeps the person's preferences and tells the other services, once per actual change."""
    try:
        async with runtime.unit_of_work() as uow:
            if await uow.session.get(User, user_id) is None:
                raise Unauthorized("this account no longer exists; sign in again")
            row = await uow.session.get(ContactPreference, user_id, with_for_update=True)
            if row is not None and _preferences(row) == wanted:
                return wanted
            if row is None:
                row = ContactPreference(user_id=user_id, **wanted.model_dump(),
                                        updated_at=datetime.now(UTC))
                uow.session.add(row)
            else:
                row.sqlmodel_update({**wanted.model_dump(), "updated_at": datetime.now(UTC)})
            await uow.session.flush()
            await uow.emit(ContactPreferencesChanged(user_id=user_id, **wanted.model_dump()))
    except IntegrityError:
        # Two first changes at once: the primary key let one in; the other may simply try again.
        raise Conflict("your preferences were changed at the same moment; try again") from None
    return wanted


def _preferences(row: ContactPreference) -> ContactPreferences:
    return ContactPreferences(locale=row.locale, phone=row.phone, sms_opt_in=row.sms_opt_in)


async def list_users(sessions: async_sessionmaker[AsyncSession]) -> list[User]:
    async with sessions() as session:
        return list((await session.exec(select(User).order_by(User.created_at))).all())
