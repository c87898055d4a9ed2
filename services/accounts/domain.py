"""The accounts service's rules, free of I/O: what a valid account is, the roles it gets, how
passwords are kept, where a sign-in may lead, and how a person wishes to be told."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator
from pydantic_core import PydanticCustomError

from libs.contracts.accounts import GlobalRole, Locale

RESIDENT: GlobalRole = "resident"
PLATFORM_ADMIN: GlobalRole = "platform_admin"

MIN_PASSWORD_LENGTH = 10
# Long enough for any passphrase or password manager, short enough that no request body makes
# hashing expensive.
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 320

_LOCAL_PART = re.compile(r"[^\s@\"(),:;<>\[\]\\]{1,64}")
_DOMAIN_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?")


def normalise_email(raw: str) -> str:
    return raw.strip().lower()


def is_plausible_email(email: str) -> bool:
    """A sane check, not RFC 5322: one @, a local part without spaces or specials, and a domain
    of at least two dot-separated labels. The address is proven only by using it."""
    if len(email) > MAX_EMAIL_LENGTH or email.count("@") != 1:
        return False
    local, _, domain = email.partition("@")
    if not _LOCAL_PART.fullmatch(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)


class Registration(BaseModel):
    """What it takes to open an account."""

    model_config = ConfigDict(extra="forbid")

    email: str
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    name: str = Field(min_length=1, max_length=200)

    @field_validator("email")
    @classmethod
    def _plausible_email(cls, value: str) -> str:
        email = normalise_email(value)
        if not is_plausible_email(email):
            raise PydanticCustomError("email", "this is not a valid e-mail address")
        return email

    @field_validator("password")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if len(value) < MIN_PASSWORD_LENGTH:
            raise PydanticCustomError(
                "password_too_short", "the password must be at least {min_length} characters long",
                {"min_length": MIN_PASSWORD_LENGTH},
            )
        return value

    @field_validator("name", mode="before")
    @classmethod
    def _single_spaced(cls, value: object) -> object:
        return " ".join(value.split()) if isinstance(value, str) else value


class Credentials(BaseModel):
    """An attempt to sign in; whatever is wrong with it gets the one same answer."""

    model_config = ConfigDict(extra="forbid")

    email: str
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)

    @field_validator("email")
    @classmethod
    def _normalised(cls, value: str) -> str:
        return normalise_email(value)


def granted_roles(role: GlobalRole) -> list[GlobalRole]:
    """Every account is a resident (anyone may order); a platform admin is a resident with more
    rights, so the person running the platform can also use it."""
    return sorted({RESIDENT, role})


# Spelled out rather than left to argon2-cffi's defaults, which may change between versions:
# argon2id as RFC 9106 recommends for memory-constrained hosts (64 MiB, 3 passes, 4 lanes), well
# above OWASP's floor of 19 MiB, t=2, p=1. A hash keeps its own parameters, so raising these
# later still verifies the old ones.
PASSWORD_MEMORY_KIB = 64 * 1024
PASSWORD_TIME_COST = 3
PASSWORD_PARALLELISM = 4
_passwords = PasswordHasher(time_cost=PASSWORD_TIME_COST, memory_cost=PASSWORD_MEMORY_KIB,
                            parallelism=PASSWORD_PARALLELISM, hash_len=32, salt_len=16,
                            type=Type.ID)


def hash_password(password: str) -> str:
    """An argon2id hash with its salt and parameters; CPU-heavy on purpose (run it off the loop)."""
    return _passwords.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _passwords.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def unknown_account_hash() -> str:
    """Checked against when no account has the e-mail, so that an unknown address takes as long
    to refuse as a wrong password and response times do not reveal who has an account."""
    return _passwords.hash("no account has this address")


@dataclass(frozen=True)
class ThrottleRule:
    """``max_failures`` failed sign-ins within ``window`` of the first refuse every sign-in
    under the same key for ``lockout``, right password or not."""

    max_failures: int
    window: timedelta
    lockout: timedelta


@dataclass(frozen=True)
class FailedSignIns:
    """The failed sign-ins counted under one key (an account, or a network address)."""

    failures: int
    first_failure_at: datetime
    locked_until: datetime | None = None


def throttle_key_of_account(email: str) -> str:
    """A digest rather than the address: whatever is typed is counted, known account or not
    (the answer must not tell which), and nobody's typing is kept in clear."""
    return "account:" + hashlib.sha256(normalise_email(email).encode()).hexdigest()


def throttle_key_of_address(address: str) -> str:
    return "address:" + address[:64]


def refused_for(counted: FailedSignIns | None, now: datetime) -> int | None:
    """Whole seconds before a sign-in under this key is heard again; None when it is now."""
    if counted is None or counted.locked_until is None or counted.locked_until <= now:
        return None
    return max(1, math.ceil((counted.locked_until - now).total_seconds()))


def after_failure(counted: FailedSignIns | None, rule: ThrottleRule, now: datetime
                  ) -> FailedSignIns:
    """The count once one more sign-in failed. It starts again once the window since the first
    failure has passed; until then each failure past the limit locks again, so a lockout that
    ends gives a guesser one try, not a fresh series."""
    if counted is None or now - counted.first_failure_at >= rule.window:
        counted = FailedSignIns(failures=0, first_failure_at=now)
    failures = counted.failures + 1
    locked_until = now + rule.lockout if failures >= rule.max_failures else counted.locked_until
    return FailedSignIns(failures, counted.first_failure_at, locked_until)


def safe_redirect(target: str | None) -> str:
    """Where to go after signing in: a path on this site only, so a crafted link cannot send a
    person who just signed in to another site ("//host", "/\\host" and control characters
    all lead browsers elsewhere)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)
    ):
        return "/"
    return target


DEFAULT_LOCALE: Locale = "fr"
FRENCH_COUNTRY_CODE = "33"

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_PHONE_PUNCTUATION = re.compile(r"[\s.\-()/]")
_FRENCH_NATIONAL = re.compile(r"0[1-9][0-9]{8}")


def normalise_phone(raw: str) -> str | None:
    """The number in E.164 form (``+33612345678``), or None when none was given. People write
    numbers with spaces, dots or dashes, with ``00`` for ``+``, or in the French national form
    (``06 12 34 56 78``): all of these are accepted; anything else is an error."""
    digits = _PHONE_PUNCTUATION.sub("", raw)
    if not digits:
        return None
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif _FRENCH_NATIONAL.fullmatch(digits):
        digits = f"+{FRENCH_COUNTRY_CODE}{digits[1:]}"
    if not _E164.fullmatch(digits):
        raise PydanticCustomError(
            "phone", "this is not a phone number: give it in international form, such as "
                     "+33612345678 (or 06 12 34 56 78)")
    return digits


class ContactPreferences(BaseModel):
    """How a person wishes to be told about their orders and gatherings: the language of the
    messages, and SMS as well as e-mail (which needs a number)."""

    model_config = ConfigDict(extra="forbid")

    locale: Locale = DEFAULT_LOCALE
    phone: str | None = Field(default=None, max_length=40)
    sms_opt_in: StrictBool = False

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)

    @model_validator(mode="after")
    def _sms_needs_a_number(self) -> ContactPreferences:
        if self.sms_opt_in and self.phone is None:
            raise PydanticCustomError("sms_without_phone",
                                      "SMS messages need a phone number: give one, or opt out")
        return self
