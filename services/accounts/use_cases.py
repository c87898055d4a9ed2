"""What the accounts service does: load, change, write the outbox, commit.

Opening an account and listing them take the database's unit of work or sessions rather than
the whole runtime, because ``adopte accounts`` runs them on the database alone, hub or no hub.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from libs.auth.tokens import Principal
from libs.contracts.accounts import ContactPreferencesChanged, GlobalRole, UserRegistered
from libs.kit.errors import Conflict, DomainError, Unauthorized
from libs.kit.runtime import ServiceRuntime, UnitOfWork
from services.accounts import domain
from services.accounts.domain import ContactPreferences, Credentials, Registration
from services.accounts.signing import TokenSigner
from services.accounts.tables import ContactPreference, LoginThrottle, User

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


class TooManySignIns(DomainError):
    status, code = 429, "too_many_requests"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after_s} seconds")
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


def throttle_rules(runtime: ServiceRuntime, email: str, address: str | None
                   ) -> dict[str, domain.ThrottleRule]:
    """The keys a sign-in is counted under, with the rule of each."""
    settings = runtime.settings
    window, lockout = (timedelta(seconds=settings.login_failure_window_s),
                       timedelta(seconds=settings.login_lockout_s))
    rules = {domain.throttle_key_of_account(email):
             domain.ThrottleRule(settings.login_failures_per_account, window, lockout)}
    if address:
        rules[domain.throttle_key_of_address(address)] = domain.ThrottleRule(
            settings.login_failures_per_address, window, lockout)
    return rules


async def authenticate(runtime: ServiceRuntime, credentials: Credentials,
                       address: str | None = None) -> User:
    """The account, once the password matches; refused without checking it while the account
    or the address is locked out (TooManySignIns).

    The attempt counts against the account before the password is checked, in the same
    transaction as the check, so a burst of guesses sent at once gets no more through than
    the limit; a right password then clears the count."""
    rules = throttle_rules(runtime, credentials.email, address)
    account_key = domain.throttle_key_of_account(credentials.email)
    await _claim_attempt(runtime, rules, account_key, datetime.now(UTC))
    async with runtime.database.sessions() as session:
        user = (await session.exec(select(User).where(User.email == credentials.email))).first()
    password_hash = user.password_hash if user else domain.unknown_account_hash()
    matches = await asyncio.to_thread(domain.password_matches, password_hash, credentials.password)
    if user is None or not matches:
        others = {key: rule for key, rule in rules.items() if key != account_key}
        if others:
            await _count_failures(runtime, others, datetime.now(UTC))
        raise Unauthorized(WRONG_CREDENTIALS)
    await _forget_failures(runtime, account_key)
    return user


async def _claim_attempt(runtime: ServiceRuntime, rules: dict[str, domain.ThrottleRule],
                         account_key: str, now: datetime) -> None:
    """Refuses the attempt while any of its keys is locked out; else counts it against the
    account (as a failure until the password proves right)."""
    async def claim(uow: UnitOfWork) -> None:
        rows = {key: await uow.session.get(LoginThrottle, key, with_for_update=True)
                for key in rules}
        waits = [domain.refused_for(_failed_sign_ins(row), now) for row in rows.values() if row]
        if any(waits):
            raise TooManySignIns(max(wait for wait in waits if wait))
        _count(uow, account_key, rows[account_key], rules[account_key], now)
        await _prune(uow, rules, now)

    await _in_one_transaction(runtime, claim)


async def _count_failures(runtime: ServiceRuntime, rules: dict[str, domain.ThrottleRule],
                          now: datetime) -> None:
    async def count(uow: UnitOfWork) -> None:
        for key, rule in rules.items():
            _count(uow, key, await uow.session.get(LoginThrottle, key, with_for_update=True),
                   rule, now)

    await _in_one_transaction(runtime, count)


async def _in_one_transaction(runtime: ServiceRuntime, work) -> None:
    for attempt in range(2):
        try:
            async with runtime.unit_of_work() as uow:
                await work(uow)
            return
        except IntegrityError:
            # Another attempt under the same key counted first: its row is there to update now.
            if attempt:
                raise


def _count(uow: UnitOfWork, key: str, row: LoginThrottle | None, rule: domain.ThrottleRule,
           now: datetime) -> None:
    counted = asdict(domain.after_failure(row and _failed_sign_ins(row), rule, now))
    if row is None:
        uow.session.add(LoginThrottle(key=key, **counted))
    else:
        row.sqlmodel_update(counted)


async def _prune(uow: UnitOfWork, rules: dict[str, domain.ThrottleRule], now: datetime) -> None:
    """A count older than its window and lockout refuses nothing any more: dropped, so that the
    addresses typed once do not pile up."""
    stale = now - max(rule.window + rule.lockout for rule in rules.values())
    await uow.session.execute(delete(LoginThrottle).where(LoginThrottle.first_failure_at < stale))


async def _forget_failures(runtime: ServiceRuntime, key: str) -> None:
    async with runtime.unit_of_work() as uow:
        row = await uow.session.get(LoginThrottle, key)
        if row is not None:
            await uow.session.delete(row)


def _failed_sign_ins(row: LoginThrottle) -> domain.FailedSignIns:
    return domain.FailedSignIns(row.failures, row.first_failure_at, row.locked_until)


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
