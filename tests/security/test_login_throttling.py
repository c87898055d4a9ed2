"""Sign-in throttling: the rule (services/accounts/domain.py), then the API and the sign-in form
refusing, for a while, an account or an address that failed too often (429 with Retry-After),
right password or not; a later right password gets in and clears the account's count."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from services.accounts import domain
from services.accounts.bootstrap import AccountsSettings
from services.accounts.domain import (
    FailedSignIns,
    ThrottleRule,
    after_failure,
    refused_for,
    throttle_key_of_account,
)
from tests.services.accounts.conftest import PASSWORD, RunningAccounts, running_accounts
from tests.support.forms import form_to
from tests.support.waiting import eventually

RULE = ThrottleRule(max_failures=3, window=timedelta(minutes=15), lockout=timedelta(minutes=5))
NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EMAIL = "alice@example.org"
WRONG = "not the right password"


# --- the rule ------------------------------------------------------------------------------


def failures(count: int, *, every: timedelta = timedelta(seconds=1)) -> FailedSignIns | None:
    counted = None
    for index in range(count):
        counted = after_failure(counted, RULE, NOON + index * every)
    return counted


def test_failures_below_the_limit_refuse_nothing():
    assert refused_for(failures(2), NOON + timedelta(seconds=2)) is None


def test_the_limit_reached_refuses_until_the_lockout_ends():
    locked = failures(3)  # the third at 12:00:02

    assert refused_for(locked, NOON + timedelta(seconds=2)) == 300
    assert refused_for(locked, NOON + timedelta(seconds=301, milliseconds=500)) == 1
    assert refused_for(locked, NOON + timedelta(seconds=302)) is None


def test_a_failure_after_a_lockout_within_the_window_locks_again_at_once():
    relocked = after_failure(failures(3), RULE, NOON + timedelta(minutes=6))

    assert refused_for(relocked, NOON + timedelta(minutes=6)) == 300


def test_failures_spread_wider_than_the_window_start_the_count_again():
    spread = failures(5, every=timedelta(minutes=16))

    assert spread.failures == 1
    assert refused_for(spread, NOON + timedelta(minutes=64)) is None


def test_the_account_key_is_a_digest_of_the_normalised_address():
    key = throttle_key_of_account(" Alice@Example.ORG ")

    assert key == throttle_key_of_account(EMAIL)
    assert "alice" not in key and len(key) <= 80


# --- the service ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """What is counted, not how a password is hashed, is under test here: light hashes keep the
    many sign-ins fast (test_web_security checks the real parameters)."""
    domain.unknown_account_hash()  # cached with the real parameters, for the tests after these
    monkeypatch.setattr(domain, "_passwords",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def settings(tmp_path, database_url: str | None = None, **rules) -> AccountsSettings:
    return AccountsSettings(data_dir=tmp_path, bus="embedded", database_url=database_url,
                            **{"login_failures_per_account": 3, **rules})


async def token(accounts: RunningAccounts, password: str, email: str = EMAIL) -> httpx.Response:
    return await accounts.client.post("/accounts/api/v1/token",
                                      json={"email": email, "password": password})


async def test_the_api_refuses_a_locked_account_even_its_right_password(tmp_path):
    async with running_accounts(settings(tmp_path)) as accounts:
        await accounts.sign_up(EMAIL)
        wrong = [(await token(accounts, WRONG)).status_code for _ in range(3)]

        refused = await token(accounts, PASSWORD)

    assert wrong == [401, 401, 401]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert "too many failed sign-ins" in refused.json()["error"]["message"]
    assert 290 <= int(refused.headers["retry-after"]) <= 300


async def test_an_unknown_address_is_throttled_the_same_so_nothing_tells_it_apart(tmp_path):
    async with running_accounts(settings(tmp_path)) as accounts:
        answers = [(await token(accounts, WRONG, "nobody@example.org")).status_code
                   for _ in range(4)]

    assert answers == [401, 401, 401, 429]


async def test_the_sign_in_form_says_to_come_back_later(tmp_path):
    async with running_accounts(settings(tmp_path)) as accounts:
        await accounts.sign_up(EMAIL)
        for _ in range(3):
            await token(accounts, WRONG)
        page = await accounts.client.get("/accounts/login")
        login = form_to(page.text, "/accounts/login")
        login.fields.update(email=EMAIL, password=PASSWORD)

        refused = await accounts.client.post(login.action, data=login.fields)

    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert "Trop de tentatives de connexion : réessayez dans 5 minutes." in refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert "adopte_session" not in refused.headers.get("set-cookie", "")


async def test_once_the_lockout_ends_the_right_password_gets_in_and_clears_the_count(tmp_path):
    async with running_accounts(settings(tmp_path, login_lockout_s=1)) as accounts:
        await accounts.sign_up(EMAIL)
        for _ in range(3):
            await token(accounts, WRONG)
        assert (await token(accounts, PASSWORD)).status_code == 429

        async def signed_in() -> bool:
            return (await token(accounts, PASSWORD)).status_code == 200

        await eventually(signed_in, timeout=10, interval=0.2, message="the lockout to end")
        # The count started again: one more slip does not lock the account.
        slipped = await token(accounts, WRONG)
        again = await token(accounts, PASSWORD)

    assert slipped.status_code == 401
    assert again.status_code == 200


async def test_one_address_failing_on_many_accounts_is_locked_out(tmp_path):
    rules = settings(tmp_path, login_failures_per_account=100, login_failures_per_address=5)
    async with running_accounts(rules) as accounts:
        await accounts.sign_up(EMAIL)
        sprayed = [(await token(accounts, WRONG, f"person{n}@example.org")).status_code
                   for n in range(5)]
        refused = await token(accounts, PASSWORD)
        elsewhere = httpx.AsyncClient(transport=httpx.ASGITransport(
            app=accounts.client._transport.app, client=("203.0.113.7", 4242)),
            base_url="http://accounts")
        async with elsewhere:
            from_elsewhere = await elsewhere.post("/accounts/api/v1/token",
                                                  json={"email": EMAIL, "password": PASSWORD})

    assert sprayed == [401] * 5
    assert refused.status_code == 429
    assert from_elsewhere.status_code == 200


async def test_a_restart_does_not_forgive_the_failures(tmp_path):
    async with running_accounts(settings(tmp_path)) as accounts:
        await accounts.sign_up(EMAIL)
        for _ in range(3):
            await token(accounts, WRONG)

    async with running_accounts(settings(tmp_path)) as restarted:
        refused = await token(restarted, PASSWORD)

    assert refused.status_code == 429


async def test_a_burst_of_guesses_gets_no_more_through_than_the_limit_on_each_database(
        tmp_path, database_url):
    async with running_accounts(settings(tmp_path, database_url)) as accounts:
        await accounts.sign_up(EMAIL)

        answers = await asyncio.gather(*(token(accounts, WRONG) for _ in range(12)))
        after = await token(accounts, PASSWORD)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * 3 + [429] * 9
    assert after.status_code == 429


@pytest.mark.parametrize("password", ["", "x" * 2000])
async def test_malformed_credentials_are_a_clear_422_and_not_counted(tmp_path, password):
    async with running_accounts(settings(tmp_path)) as accounts:
        await accounts.sign_up(EMAIL)
        malformed = [await accounts.client.post("/accounts/api/v1/token",
                                                json={"email": EMAIL, "password": password,
                                                      "extra": 1}) for _ in range(4)]
        right = await token(accounts, PASSWORD)

    assert {answer.status_code for answer in malformed} == {422}
    assert right.status_code == 200


async def test_counts_past_their_window_and_lockout_are_dropped(tmp_path):
    short = settings(tmp_path, login_failure_window_s=1, login_lockout_s=1)
    async with running_accounts(short) as accounts:
        await token(accounts, WRONG, "once@example.org")

        async def dropped() -> bool:
            await token(accounts, WRONG, "later@example.org")
            table = accounts.runtime.definition.metadata.tables["login_throttles"]
            async with accounts.runtime.database.sessions() as session:
                keys = set((await session.execute(select(table.c.key))).scalars())
            return throttle_key_of_account("once@example.org") not in keys

        await eventually(dropped, timeout=10, interval=0.5, message="the old count to go")
