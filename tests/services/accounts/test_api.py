"""The accounts JSON API: sign-up, tokens, who am I; and the UserRegistered every account emits."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from libs.auth.tokens import Principal, TokenIssuer, generate_keypair
from libs.contracts.accounts import UserRegistered
from tests.services.accounts.conftest import PASSWORD

SIGN_UP = "/accounts/api/v1/users"
TOKEN = "/accounts/api/v1/token"
ME = "/accounts/api/v1/me"


async def test_a_resident_signs_up_then_gets_a_token_that_says_who_they_are(
    accounts_on_each_database,
):
    accounts = accounts_on_each_database
    created = await accounts.client.post(SIGN_UP, json={
        "email": "  Alice.Martin@Example.ORG ", "password": PASSWORD, "name": " Alice   Martin "})
    assert created.status_code == 201, created.text
    user = created.json()
    assert user == {"id": user["id"], "email": "alice.martin@example.org", "name": "Alice Martin",
                    "roles": ["resident"]}

    issued = await accounts.client.post(TOKEN, json={"email": "ALICE.MARTIN@example.org",
                                                     "password": PASSWORD})
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 12 * 3600
    principal = accounts.runtime.token_verifier.verify(body["access_token"])
    assert principal.user_id == UUID(user["id"]) and principal.roles == {"resident"}

    me = await accounts.client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json() == user


async def test_every_new_account_emits_user_registered_through_the_outbox(
    accounts_on_each_database,
):
    accounts = accounts_on_each_database
    user = await accounts.sign_up(email="Bob@Example.org", name="Bob Le Goff")

    [written] = await accounts.outbox()
    assert written.topic == "accounts.user"
    assert written.envelope.key == user["id"]
    assert written.event == UserRegistered(user_id=UUID(user["id"]), email="bob@example.org",
                                           name="Bob Le Goff", roles=["resident"])


async def test_an_address_already_used_is_refused_whatever_its_case(accounts_on_each_database):
    accounts = accounts_on_each_database
    await accounts.sign_up(email="alice@example.org")

    again = await accounts.client.post(SIGN_UP, json={
        "email": "ALICE@example.org", "password": "another password", "name": "Other Alice"})

    assert again.status_code == 409
    assert again.json()["error"]["message"] == "an account already exists for alice@example.org"
    assert await accounts.user_count() == 1 and len(await accounts.outbox()) == 1


async def test_concurrent_sign_ups_for_one_address_make_one_account(accounts_on_each_database):
    accounts = accounts_on_each_database
    attempts = [accounts.client.post(SIGN_UP, json={
        "email": "race@example.org", "password": PASSWORD, "name": f"Racer {n}"}) for n in range(5)]

    statuses = sorted(r.status_code for r in await asyncio.gather(*attempts))

    assert statuses == [201, 409, 409, 409, 409]
    assert await accounts.user_count() == 1 and len(await accounts.outbox()) == 1


async def test_a_short_password_is_refused_with_a_clear_message(accounts):
    response = await accounts.client.post(SIGN_UP, json={
        "email": "alice@example.org", "password": "123456789", "name": "Alice"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"] == [{"field": "body.password",
                                 "message": "the password must be at least 10 characters long"}]
    assert await accounts.user_count() == 0 and await accounts.outbox() == []


@pytest.mark.parametrize("email", ["", "alice", "alice@", "@example.org", "alice@example",
                                   "alice smith@example.org", "alice@@example.org",
                                   "alice@exa mple.org", "alice@-example.org", "alice@example..org",
                                   ".alice@example.org", "al..ice@example.org", "<a>@example.org"])
async def test_an_invalid_email_address_is_refused(accounts, email):
    response = await accounts.client.post(SIGN_UP, json={
        "email": email, "password": PASSWORD, "name": "Alice"})

    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"field": "body.email", "message": "this is not a valid e-mail address"}]


async def test_a_missing_name_is_refused(accounts):
    response = await accounts.client.post(SIGN_UP, json={
        "email": "alice@example.org", "password": PASSWORD, "name": "   "})

    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["body.name"]


async def test_a_wrong_password_and_an_unknown_address_get_the_same_401(accounts):
    await accounts.sign_up(email="alice@example.org")

    wrong_password = await accounts.client.post(TOKEN, json={
        "email": "alice@example.org", "password": PASSWORD + "!"})
    unknown_address = await accounts.client.post(TOKEN, json={
        "email": "nobody@example.org", "password": PASSWORD})

    assert wrong_password.status_code == unknown_address.status_code == 401
    assert (wrong_password.json()["error"]["message"] == unknown_address.json()["error"]["message"]
            == "wrong e-mail address or password")
    assert "access_token" not in wrong_password.text


async def test_me_works_with_the_session_cookie_too(accounts):
    user = await accounts.sign_up()
    token = await accounts.token()

    me = await accounts.client.get(ME, headers={"Cookie": f"adopte_session={token}"})

    assert me.status_code == 200 and me.json() == user


async def test_me_needs_a_token(accounts):
    response = await accounts.client.get(ME)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def _principal(user: dict) -> Principal:
    return Principal(user_id=UUID(user["id"]), email=user["email"], name=user["name"],
                     roles=frozenset({"resident", "platform_admin"}))


@pytest.mark.parametrize("how", ["expired", "forged", "garbage"])
async def test_an_expired_or_forged_token_is_refused(accounts, how):
    user = await accounts.sign_up()
    private_path, _ = accounts.runtime.settings.jwt_key_files()
    token = {
        "expired": lambda: TokenIssuer(private_path.read_text(), ttl=timedelta(seconds=-1))
        .issue(_principal(user)),
        "forged": lambda: TokenIssuer(generate_keypair()[0]).issue(_principal(user)),
        "garbage": lambda: "not.a.token",
    }[how]()

    bearer = await accounts.client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 401
    assert "invalid or expired" in bearer.json()["error"]["message"]
    # A stale cookie only means the browser is signed out.
    cookie = await accounts.client.get(ME, headers={"Cookie": f"adopte_session={token}"})
    assert cookie.status_code == 401
    assert "sign in first" in cookie.json()["error"]["message"]


async def test_a_valid_token_for_an_account_that_does_not_exist_is_refused(accounts):
    private_path, _ = accounts.runtime.settings.jwt_key_files()
    ghost = {"id": str(uuid4()), "email": "ghost@example.org", "name": "Ghost"}
    token = TokenIssuer(private_path.read_text()).issue(_principal(ghost))

    response = await accounts.client.get(ME, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
