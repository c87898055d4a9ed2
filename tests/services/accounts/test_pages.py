"""The sign-in, sign-up and sign-out pages: forms without JavaScript, a safe session cookie, and
redirects that stay on this site."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import Morsel, SimpleCookie

import pytest

from libs.auth.tokens import Principal, TokenIssuer
from tests.services.accounts.conftest import PASSWORD

LOGIN = "/accounts/login"
SIGNUP = "/accounts/signup"


def session_cookie(response) -> Morsel:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith("adopte_session=")]
    return SimpleCookie(header)["adopte_session"]


async def test_the_login_page_is_a_labelled_form_that_keeps_where_to_go_next(accounts):
    page = await accounts.client.get(LOGIN, params={"next": "/orders/basket"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="fr">' in html and "<h1>Se connecter</h1>" in html
    assert '<label for="email">' in html and '<label for="password">' in html
    assert 'name="next" value="/orders/basket"' in html


async def test_signing_in_sets_a_safe_session_cookie_and_goes_where_asked(accounts):
    user = await accounts.sign_up()

    response = await accounts.client.post(LOGIN, data={
        "email": "Alice@Example.org", "password": PASSWORD, "next": "/orders/basket?hub=2"})

    assert response.status_code == 303
    assert response.headers["location"] == "/orders/basket?hub=2"
    cookie = session_cookie(response)
    assert cookie["httponly"] is True and cookie["secure"] is True
    assert cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
    assert cookie["max-age"] == str(12 * 3600)
    assert str(accounts.runtime.token_verifier.verify(cookie.value).user_id) == user["id"]


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil.example"])
async def test_signing_in_never_leads_to_another_site(accounts, target):
    await accounts.sign_up()

    response = await accounts.client.post(LOGIN, data={
        "email": "alice@example.org", "password": PASSWORD, "next": target})

    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_the_login_page_does_not_carry_an_unsafe_next_along(accounts):
    page = await accounts.client.get(LOGIN, params={"next": "//evil.example"})

    assert 'name="next" value="/"' in page.text and "evil.example" not in page.text


async def test_wrong_credentials_show_the_form_again_with_the_address_kept(accounts):
    await accounts.sign_up()

    response = await accounts.client.post(LOGIN, data={
        "email": "alice@example.org", "password": "not the password", "next": "/orders/basket"})

    assert response.status_code == 400
    assert "Adresse e-mail ou mot de passe incorrect." in response.text
    assert 'value="alice@example.org"' in response.text
    assert 'name="next" value="/orders/basket"' in response.text
    assert "set-cookie" not in response.headers


async def test_signing_up_creates_a_resident_and_signs_them_in(accounts):
    response = await accounts.client.post(SIGNUP, data={
        "name": "Chloé Durand", "email": "chloe@example.org", "password": PASSWORD,
        "next": "/catalog/"})

    assert response.status_code == 303 and response.headers["location"] == "/catalog/"
    cookie = session_cookie(response)
    assert cookie["httponly"] is True and cookie["samesite"].lower() == "lax"
    me = await accounts.client.get("/accounts/api/v1/me",
                                   headers={"Cookie": f"adopte_session={cookie.value}"})
    assert me.json()["email"] == "chloe@example.org" and me.json()["roles"] == ["resident"]
    assert [w.event.email for w in await accounts.outbox()] == ["chloe@example.org"]


async def test_a_sign_up_form_with_mistakes_comes_back_explained_and_filled_in(accounts):
    response = await accounts.client.post(SIGNUP, data={
        "name": "Chloé Durand", "email": "chloe@example", "password": "short"})

    assert response.status_code == 422
    html = response.text
    assert "Indiquez une adresse e-mail valide" in html
    assert "Le mot de passe doit compter au moins 10 caractères." in html
    assert 'aria-describedby="password-error"' in html
    assert 'value="Chloé Durand"' in html and 'value="chloe@example"' in html
    assert "set-cookie" not in response.headers
    assert await accounts.user_count() == 0


async def test_signing_up_with_an_address_already_used_says_so(accounts):
    await accounts.sign_up(email="chloe@example.org")

    response = await accounts.client.post(SIGNUP, data={
        "name": "Chloé", "email": "chloe@example.org", "password": PASSWORD})

    assert response.status_code == 409
    assert "Un compte existe déjà pour cette adresse e-mail" in response.text
    assert "set-cookie" not in response.headers


async def test_signing_out_clears_the_cookie_and_goes_home(accounts):
    response = await accounts.client.post("/accounts/logout")

    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = session_cookie(response)
    assert cookie.value == "" and cookie["max-age"] == "0" and cookie["path"] == "/"


async def test_the_pages_show_who_is_signed_in(accounts):
    await accounts.sign_up(name="Alice Martin")
    token = await accounts.token()

    page = await accounts.client.get(SIGNUP, headers={"Cookie": f"adopte_session={token}"})

    assert page.status_code == 200
    assert "Alice Martin" in page.text and 'action="/accounts/logout"' in page.text


async def test_an_expired_session_can_still_reach_the_login_page(accounts):
    user = await accounts.sign_up()
    private_path, _ = accounts.runtime.settings.jwt_key_files()
    expired = TokenIssuer(private_path.read_text(), ttl=timedelta(seconds=-1)).issue(
        Principal(user_id=user["id"], email=user["email"], name=user["name"],
                  roles=frozenset({"resident"})))

    page = await accounts.client.get(LOGIN, headers={"Cookie": f"adopte_session={expired}"})

    assert page.status_code == 200 and "<h1>Se connecter</h1>" in page.text
