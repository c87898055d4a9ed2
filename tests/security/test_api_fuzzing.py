"""Schemathesis against every service's OpenAPI, in-process (ASGI), on SQLite.

Per service, three runs, seeded so CI generates the same inputs each time:
- as a platform admin (who may do anything, so the handlers are reached rather than refused):
  the schema's examples, the coverage phase (boundaries and every kind of invalid value) and
  fuzzing; ids in the path, the query or the body mostly point at what the service's seed
  made (tests/security/api_world.py);
- anonymous: examples and a little fuzzing, for the 401s;
- stateful, as the admin: sequences of calls that feed what one returns (a new hub's id) into the
  next, along the links schemathesis infers.

Every check runs but four, which do not fit this API (see CHECKS_LEFT_OUT).
"""

from __future__ import annotations

import functools
import importlib
import os
from collections import Counter
from pathlib import Path
from uuid import UUID

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.python import asgi

from libs.auth.tokens import TokenIssuer
from tests.security.api_world import SEEDS, World

SERVICES = {
    "accounts": "AccountsSettings",
    "catalog": "CatalogSettings",
    "order": "OrderSettings",
    "payment": "PaymentSettings",
    "pickup": "PickupSettings",
    "notification": "NotificationSettings",
}

CHECKS_LEFT_OUT = {
    # Schema-valid input may still break a rule the schema cannot say: an end before its start,
    # a member price above the price, a month that does not exist. Those are 400/422 by design.
    "positive_data_acceptance": {"enabled": False},
    # The CSRF middleware refuses a form-like PUT or POST without its token (403) before routing
    # could answer 405; that order is on purpose: whatever the path, such a request goes no further.
    "unsupported_method": {"enabled": False},
    # Pydantic's lax mode, which the request models share with the forms (whose values are all
    # text), takes "12" or false for an integer and 0 for a boolean. Negative cases still run:
    # whatever they carry must never get a 5xx or an undeclared answer.
    "negative_data_rejection": {"enabled": False},
    # Links inferred from a shared path parameter lead to what exists only later: after
    # POST /hubs, GET /hubs/{hub_id}/memberships/mine is 404 until the caller joins, as it should.
    # Which links a stateful run follows depends on the ids handed out, so this failed one CI run
    # in two. Created resources being there is what every service's own tests check.
    "ensure_resource_availability": {"enabled": False},
}

# CI's budget and seed; ADOPTE_FUZZ_EXAMPLES=200 and another ADOPTE_FUZZ_SEED for a deeper run
# by hand.
EXAMPLES = int(os.environ.get("ADOPTE_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("ADOPTE_FUZZ_SEED", "20261122"))


def config(*, max_examples: int, coverage: bool) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"max-examples": max_examples, "deterministic": True, "mode": "all",
                       "database": "none"},
        "phases": {"coverage": {"enabled": coverage}},
        "checks": CHECKS_LEFT_OUT,
    })


STATEFUL_SETTINGS = hypothesis.settings(
    max_examples=max(15, EXAMPLES // 2), stateful_step_count=8, derandomize=True, database=None,
    deadline=None, phases=[hypothesis.Phase.generate],
    suppress_health_check=list(hypothesis.HealthCheck))

# Requests sent, by (service, run) and by (service, status class): printed at the end.
SENT: Counter[tuple[str, str]] = Counter()
ANSWERED: Counter[tuple[str, str]] = Counter()


def build_app(name: str, data_dir: Path) -> tuple[FastAPI, object]:
    settings_class = getattr(importlib.import_module(f"services.{name}.bootstrap"), SERVICES[name])
    settings = settings_class(data_dir=data_dir, bus="embedded", database_url=None, outbox_relay=False)
    return importlib.import_module(f"services.{name}.main").create_app(settings), settings


@functools.cache
def openapi_of(name: str) -> dict:
    """An app built touches no disk until it starts: this one only says what its routes are."""
    app, _ = build_app(name, Path("never-started"))
    return app.openapi()


class RunningService:
    def __init__(self, name: str, data_dir: Path) -> None:
        self.app, settings = build_app(name, data_dir)
        # The app is served on the event loop schemathesis runs ASGI apps on (started by the
        # client's first use), so its seed runs there too: schemathesis 4.32 has no public
        # handle on that loop, hence _get_portal.
        with asgi.get_client(self.app):
            pass
        private_key, _ = settings.jwt_key_files()
        self.issuer = TokenIssuer(private_key.read_text())
        self.world: World = asgi._get_portal().call(self._seed, SEEDS[name])
        self.admin_headers = {"Authorization": f"Bearer {self.issuer.issue(self.world.admin)}"}

    async def _seed(self, seed) -> World:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await seed(client, self.app.state.runtime, self.issuer)

    def aim_at_known(self, case: schemathesis.Case) -> None:
        """Three ids in four that are well-formed, in the path, the query or at the top of a
        JSON body, become ones the seed made (which one, and whether, follow from the generated
        id, so a run is reproducible)."""
        body = case.body if isinstance(case.body, dict) else None
        for parameters in (case.path_parameters, case.query, body):
            for name, value in (parameters or {}).items():
                known = self.world.ids.get(name)
                generated = _uuid(value)
                if known and generated is not None and generated.int % 4:
                    parameters[name] = known[generated.int % len(known)]


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


@pytest.fixture(scope="module")
def services(tmp_path_factory, request):
    running: dict[str, RunningService] = {}

    def get(name: str) -> RunningService:
        if name not in running:
            running[name] = RunningService(name, tmp_path_factory.mktemp(name))
        return running[name]

    try:
        yield get
    finally:
        asgi.shutdown_lifespans()
        report(request.config)


def report(pytest_config: pytest.Config) -> None:
    """The figures, past the output capture: docs/reliability.md quotes them."""
    terminal = pytest_config.pluginmanager.get_plugin("terminalreporter")
    capture = pytest_config.pluginmanager.get_plugin("capturemanager")
    if terminal is None or capture is None or not SENT:
        return
    with capture.global_and_fixture_disabled():
        terminal.write_line("")
        terminal.write_line("schemathesis: requests sent (admin / anonymous / stateful), answers")
        for name in SERVICES:
            runs = " / ".join(str(SENT[name, run]) for run in ("admin", "anonymous", "stateful"))
            answers = ", ".join(f"{status}: {ANSWERED[name, status]}"
                                for status in ("2xx", "4xx", "5xx") if ANSWERED[name, status])
            terminal.write_line(f"  {name:<13} {runs}   ({answers})")


def call(case: schemathesis.Case, service_name: str, run: str, app: FastAPI,
         headers: dict[str, str] | None) -> None:
    SENT[service_name, run] += 1
    response = case.call(app=app, headers=headers)
    ANSWERED[service_name, f"{response.status_code // 100}xx"] += 1
    case.validate_response(response, headers=headers, transport_kwargs={"app": app, "headers": headers})


def fuzzing_tests(name: str):
    spec = openapi_of(name)
    as_admin = schemathesis.openapi.from_dict(spec, config=config(max_examples=EXAMPLES, coverage=True))
    anonymous = schemathesis.openapi.from_dict(spec, config=config(max_examples=5, coverage=False))

    @as_admin.parametrize()
    @pytest.mark.parametrize("who", ["platform_admin"])  # also names each item after its operation
    def test_as_admin(case, who, services):
        service = services(name)
        service.aim_at_known(case)
        call(case, name, "admin", service.app, service.admin_headers)

    @anonymous.parametrize()
    @pytest.mark.parametrize("who", ["anonymous"])
    def test_anonymous(case, who, services):
        call(case, name, "anonymous", services(name).app, None)

    def test_stateful(services):
        service = services(name)
        as_admin.app = service.app
        failures: list[Exception] = []

        class Scenarios(as_admin.as_state_machine()):
            def validate_response(self, response, case, additional_checks=None, **kwargs):
                try:
                    super().validate_response(response, case, additional_checks, **kwargs)
                except Exception as failure:
                    failures.append(failure)
                    raise

            def before_call(self, case):
                service.aim_at_known(case)

            def call(self, case, **kwargs):
                SENT[name, "stateful"] += 1
                response = case.call(**kwargs)
                ANSWERED[name, f"{response.status_code // 100}xx"] += 1
                return response

            def get_call_kwargs(self, case):
                return {"app": service.app, "headers": service.admin_headers}

        try:
            Scenarios.run(settings=STATEFUL_SETTINGS)
        except hypothesis.errors.FlakyStrategyDefinition:
            # The service's state moved on under a sequence hypothesis drew before (what a step
            # made the first time is there the second): that ends the run, as schemathesis's own
            # runner has it; a check that failed on the way still fails the test.
            if failures:
                raise failures[0] from None

    return test_as_admin, test_anonymous, test_stateful


# Accounts and notification have no operation whose answer another one takes: no scenarios there.
test_accounts_as_admin, test_accounts_anonymous, _ = fuzzing_tests("accounts")
test_catalog_as_admin, test_catalog_anonymous, test_catalog_stateful = fuzzing_tests("catalog")
test_order_as_admin, test_order_anonymous, test_order_stateful = fuzzing_tests("order")
test_payment_as_admin, test_payment_anonymous, test_payment_stateful = fuzzing_tests("payment")
test_pickup_as_admin, test_pickup_anonymous, test_pickup_stateful = fuzzing_tests("pickup")
test_notification_as_admin, test_notification_anonymous, _ = fuzzing_tests("notification")
