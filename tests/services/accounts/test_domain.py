"""The accounts service's pure rules: e-mail addresses, roles, passwords, safe redirects."""

from __future__ import annotations

import pytest

from services.accounts.domain import (
    granted_roles,
    hash_password,
    is_plausible_email,
    password_matches,
    safe_redirect,
)


@pytest.mark.parametrize("email", ["alice@example.org", "a.b+tag@mail.example.fr",
                                   "jean-luc@xn--caf-dma.fr", "élodie@café.fr", "o'neil@ex-ample.co.uk"])
def test_plausible_addresses_pass(email):
    assert is_plausible_email(email)


@pytest.mark.parametrize("email", ["alice@example", "alice@example.", "alice@.org", "a@b@c.org",
                                   "alice@exa_mple.org", "al ice@example.org", "alice@ex ample.org",
                                   f"{'a' * 65}@example.org", f"alice@{'a' * 320}.org"])
def test_implausible_addresses_fail(email):
    assert not is_plausible_email(email)


def test_every_account_is_a_resident_and_an_admin_is_one_too():
    assert granted_roles("resident") == ["resident"]
    assert granted_roles("platform_admin") == ["platform_admin", "resident"]


def test_passwords_are_kept_as_salted_argon2id_hashes():
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")

    assert first.startswith("$argon2id$") and first != second
    assert password_matches(first, "correct horse battery")
    assert not password_matches(first, "correct horse batterY")
    assert not password_matches("not a hash", "correct horse battery")


@pytest.mark.parametrize(("target", "expected"), [
    ("/orders/basket?hub=1#top", "/orders/basket?hub=1#top"),
    ("/", "/"),
    ("", "/"),
    (None, "/"),
    ("//evil.example", "/"),
    ("//evil.example/accounts/login", "/"),
    ("/\\evil.example", "/"),
    ("/\t/evil.example", "/"),
    ("https://evil.example/", "/"),
    ("javascript:alert(1)", "/"),
    ("orders", "/"),
])
def test_only_paths_on_this_site_are_followed_after_signing_in(target, expected):
    assert safe_redirect(target) == expected
