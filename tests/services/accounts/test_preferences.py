"""Contact preferences: the language of messages, a phone number and SMS opt-in, by API and page;
each real change tells the other services with ContactPreferencesChanged."""

from __future__ import annotations

import asyncio
from uuid import UUID

from libs.contracts.accounts import ContactPreferencesChanged
from tests.support.forms import forms_of

PREFERENCES = "/accounts/api/v1/me/preferences"
PAGE = "/accounts/preferences"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def preference_events(accounts) -> list[ContactPreferencesChanged]:
    return [w.event for w in await accounts.outbox() if isinstance(w.event, ContactPreferencesChanged)]


async def test_everyone_starts_in_french_by_email_only(accounts):
    await accounts.sign_up()

    answer = await accounts.client.get(PREFERENCES, headers=bearer(await accounts.token()))

    assert answer.status_code == 200
    assert answer.json() == {"locale": "fr", "phone": None, "sms_opt_in": False}


async def test_changing_them_keeps_a_normalised_number_and_tells_the_other_services(
    accounts_on_each_database,
):
    accounts = accounts_on_each_database
    user = await accounts.sign_up()
    headers = bearer(await accounts.token())

    changed = await accounts.client.put(PREFERENCES, headers=headers, json={
        "locale": "en", "phone": "06 12 34 56 78", "sms_opt_in": True})

    assert changed.status_code == 200, changed.text
    wanted = {"locale": "en", "phone": "+33612345678", "sms_opt_in": True}
    assert changed.json() == wanted
    assert (await accounts.client.get(PREFERENCES, headers=headers)).json() == wanted
    [written] = [w for w in await accounts.outbox() if isinstance(w.event, ContactPreferencesChanged)]
    assert written.topic == "accounts.user" and written.envelope.key == user["id"]
    assert written.event == ContactPreferencesChanged(user_id=UUID(user["id"]), **wanted)


async def test_saying_the_same_again_changes_nothing_and_tells_nobody(accounts):
    await accounts.sign_up()
    headers = bearer(await accounts.token())
    wanted = {"locale": "fr", "phone": "+447700900123", "sms_opt_in": True}

    for _ in range(2):
        assert (await accounts.client.put(PREFERENCES, headers=headers, json=wanted)).status_code == 200
    await accounts.client.put(PREFERENCES, headers=headers, json={**wanted, "sms_opt_in": False})

    assert [e.sms_opt_in for e in await preference_events(accounts)] == [True, False]


async def test_a_bad_number_or_sms_without_a_number_is_a_clear_422_that_changes_nothing(accounts):
    await accounts.sign_up()
    headers = bearer(await accounts.token())

    bad_phone = await accounts.client.put(PREFERENCES, headers=headers, json={
        "locale": "fr", "phone": "12-34", "sms_opt_in": False})
    no_phone = await accounts.client.put(PREFERENCES, headers=headers, json={
        "locale": "fr", "phone": None, "sms_opt_in": True})
    bad_locale = await accounts.client.put(PREFERENCES, headers=headers, json={"locale": "de"})

    assert bad_phone.status_code == 422
    [detail] = bad_phone.json()["error"]["details"]
    assert "phone" in str(detail) and "+33612345678" in str(detail)
    assert no_phone.status_code == 422 and "phone number" in no_phone.text
    assert bad_locale.status_code == 422
    assert await preference_events(accounts) == []
    assert (await accounts.client.get(PREFERENCES, headers=headers)).json()["sms_opt_in"] is False


async def test_preferences_are_for_the_signed_in_person_only(accounts):
    assert (await accounts.client.get(PREFERENCES)).status_code == 401
    assert (await accounts.client.put(PREFERENCES, json={"locale": "en"})).status_code == 401


async def test_two_changes_at_once_leave_one_of_them_whole(accounts_on_each_database):
    accounts = accounts_on_each_database
    await accounts.sign_up()
    headers = bearer(await accounts.token())
    choices = [{"locale": "en", "phone": "+33611111111", "sms_opt_in": True},
               {"locale": "fr", "phone": "+33622222222", "sms_opt_in": False}]

    answers = await asyncio.gather(*(accounts.client.put(PREFERENCES, headers=headers, json=c)
                                     for c in choices))

    assert {a.status_code for a in answers} <= {200, 409}
    kept = (await accounts.client.get(PREFERENCES, headers=headers)).json()
    assert kept in choices
    events = await preference_events(accounts)
    assert events and events[-1].model_dump(exclude={"user_id"}) == kept


async def test_the_page_asks_signed_out_visitors_to_sign_in(accounts):
    page = await accounts.client.get(PAGE)

    assert page.status_code == 303
    assert page.headers["location"] == "/accounts/login?next=%2Faccounts%2Fpreferences"


async def test_the_page_form_saves_then_shows_them_in_the_chosen_language(accounts):
    await accounts.sign_up()
    accounts.client.cookies.set("adopte_session", await accounts.token())
    page = await accounts.client.get(PAGE)
    assert page.status_code == 200 and "<h1 lang=\"fr\">Mes préférences de contact</h1>" in page.text
    [form] = [f for f in forms_of(page.text) if f.action == PAGE]
    assert '<label for="phone">' in page.text and '<label for="sms_opt_in"' in page.text

    sent = await accounts.client.post(PAGE, data={**form.fields, "locale": "en",
                                                  "phone": "+33 6 12 34 56 78",
                                                  "sms_opt_in": "true"})

    assert sent.status_code == 303 and sent.headers["location"] == f"{PAGE}?saved=true"
    shown = await accounts.client.get(sent.headers["location"])
    assert "My contact preferences" in shown.text and "Your preferences are saved." in shown.text
    assert 'value="+33612345678"' in shown.text and 'value="en" checked' in shown.text
    assert [e.locale for e in await preference_events(accounts)] == ["en"]


async def test_the_page_shows_what_is_wrong_next_to_the_field(accounts):
    await accounts.sign_up()
    accounts.client.cookies.set("adopte_session", await accounts.token())

    sent = await accounts.client.post(PAGE, data={"locale": "fr", "phone": "", "sms_opt_in": "true"})

    assert sent.status_code == 422
    assert 'id="sms_opt_in-error"' in sent.text and "indiquez votre numéro" in sent.text
    assert 'aria-invalid="true"' in sent.text
    assert await preference_events(accounts) == []
