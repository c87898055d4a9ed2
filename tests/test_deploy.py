"""The deployment files hold together: docker-compose.yml (through compose-go, the Compose
specification's loader, and our own rules), the Dockerfile, the kustomize manifests as rendered,
the Prometheus configuration and alert rules (promtool: syntax, PromQL, and the unit tests in
alerts.test.yml) and the Grafana dashboard, against what the code really reads and exports.

composecheck, kustomize and promtool come from deploy/tools (`<tool>.sh install`): without them
the tests that need them skip, except under CI=true where they fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from services.host import SERVICES, service_bootstrap
from tests.support.services import unavailable

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = REPO / "docker-compose.yml"
KUSTOMIZATIONS = ["base", "overlays/production"]
GATEWAY = "gateway"
# Settings whose value is a secret: never a literal in the manifests.
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|ACCESS_KEY|DATABASE_URL)")


def tool(name: str) -> Path:
    """The binary deploy/tools/<name>.sh installs."""
    script = DEPLOY / "tools" / f"{name}.sh"
    path = Path(subprocess.run([script, "path"], capture_output=True, text=True, check=True)
                .stdout.strip())
    if not path.is_file():
        unavailable(f"{name} is not installed: run {script.relative_to(REPO)} install")
    return path


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def prefixes() -> dict[str, str]:
    return {name: service_bootstrap(name).SERVICE.prefix for name in SERVICES}


def settings_variables(service: str) -> set[str]:
    """Every variable a service's settings read: ADOPTE_<SERVICE>_<FIELD> and ADOPTE_<FIELD>."""
    fields = service_bootstrap(service).SERVICE_SETTINGS.model_fields
    return {f"ADOPTE_{service.upper()}_{field.upper()}" for field in fields} | {
        f"ADOPTE_{field.upper()}" for field in fields}


def read_by_some_service(variable: str) -> bool:
    return any(variable in settings_variables(service) for service in SERVICES)


# --- docker-compose.yml -------------------------------------------------------------------


def test_the_compose_file_loads_with_the_reference_loader():
    # Without our environment: the file's own defaults, not a developer's POSTGRES_PASSWORD.
    loaded = subprocess.run([tool("composecheck"), "-format", "json", COMPOSE_FILE],
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": os.environ["PATH"]})
    assert loaded.returncode == 0, loaded.stderr
    model = json.loads(loaded.stdout)
    assert set(model["services"]) >= {*SERVICES, GATEWAY, "kafka", "postgres", "prometheus",
                                      "grafana"}
    # Interpolated with the file's defaults, as `docker compose config` would.
    assert model["services"]["order"]["environment"]["ADOPTE_ORDER_DATABASE_URL"] == (
        "postgresql+asyncpg://adopte:adopte@postgres:5432/adopte_order")


def test_the_compose_check_rejects_what_compose_would(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("condition: service_healthy",
                                                       "condition: service_healty", 1))
    loaded = subprocess.run([tool("composecheck"), broken], capture_output=True, text=True,
                            timeout=60)
    assert loaded.returncode == 1
    assert "depends_on.kafka.condition value must be one of" in loaded.stderr


def test_kafka_runs_in_kraft_mode_from_the_apache_image():
    kafka = compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in " ".join(kafka["environment"])


def test_every_service_runs_from_the_one_image_on_kafka():
    services = compose()["services"]
    images = {services[name]["image"] for name in (*SERVICES, GATEWAY)}
    assert len(images) == 1
    for name in SERVICES:
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["command"][:2] == ["serve", name]
        assert service["environment"]["ADOPTE_BUS"] == "kafka"
        assert service["environment"]["ADOPTE_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_every_container_has_a_health_check():
    for name, service in compose()["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_containers_wait_for_what_they_need_to_be_healthy():
    services = compose()["services"]
    for name in SERVICES:
        assert services[name]["depends_on"] == {
            "kafka": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
        }, name
    assert services[GATEWAY]["depends_on"] == {
        name: {"condition": "service_healthy"} for name in SERVICES}
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def test_each_service_has_a_database_of_its_own_made_at_init():
    services = compose()["services"]
    databases = {name: services[name]["environment"][f"ADOPTE_{name.upper()}_DATABASE_URL"]
                 .rsplit("/", 1)[1] for name in SERVICES}
    assert len(set(databases.values())) == len(SERVICES)
    postgres = services["postgres"]
    assert set(postgres["environment"]["ADOPTE_DATABASES"].split()) == set(databases.values())
    assert any(volume.startswith("./deploy/compose/postgres-init.sh:/docker-entrypoint-initdb.d/")
               for volume in postgres["volumes"])
    assert "ADOPTE_DATABASES" in (DEPLOY / "compose" / "postgres-init.sh").read_text()


def test_compose_sets_only_variables_the_services_read():
    services = compose()["services"]
    for name in SERVICES:
        unread = set(services[name]["environment"]) - settings_variables(name)
        assert not unread, f"{name} does not read {sorted(unread)}"


def test_the_gateway_routes_every_prefix_to_its_service():
    command = compose()["services"][GATEWAY]["command"]
    routes = dict(argument.removeprefix("--route=").split("=", 1)
                  for argument in command if argument.startswith("--route="))
    assert routes == {prefix: f"http://{name}:8000" for name, prefix in prefixes().items()}


def test_prometheus_scrapes_every_service_and_loads_the_rules():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {target for job in config["scrape_configs"] for group in job["static_configs"]
               for target in group["targets"]}
    assert {f"{name}:8000" for name in SERVICES} <= targets
    mounts = compose()["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in mounts
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_grafana_is_provisioned_with_the_dashboard():
    mounts = compose()["services"]["grafana"]["volumes"]
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "adopte.yml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{folder}:ro" in mounts
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
    source = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"


# --- Dockerfile ---------------------------------------------------------------------------


def test_the_image_installs_the_lock_and_runs_adopte_as_a_user():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert "uv sync --frozen --no-dev" in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert 'ENTRYPOINT ["adopte"]' in dockerfile
    copied = {source for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M)
              for source in line.split()[:-1]}
    kept = {line[1:].rstrip("/") for line in
            (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines() if line.startswith("!")}
    assert copied == kept


# --- Kubernetes ---------------------------------------------------------------------------


@cache
def rendered(kustomization: str) -> tuple[dict, ...]:
    built = subprocess.run([tool("kustomize"), "build", DEPLOY / "kubernetes" / kustomization],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    return tuple(document for document in yaml.safe_load_all(built.stdout) if document)


def objects(kustomization: str, kind: str) -> dict[str, dict]:
    return {item["metadata"]["name"]: item for item in rendered(kustomization)
            if item["kind"] == kind}


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_service_has_a_probed_deployment_with_resources(kustomization):
    deployments = objects(kustomization, "Deployment")
    assert set(deployments) == {*SERVICES, GATEWAY}
    for name in SERVICES:
        runs = container(deployments[name])
        assert runs["args"][:2] == ["serve", name]
        assert runs["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert runs["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert {"cpu", "memory"} <= set(runs["resources"]["requests"]), name
        assert "memory" in runs["resources"]["limits"], name
    assert container(deployments[GATEWAY])["livenessProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_deployment_has_a_service_and_an_autoscaler(kustomization):
    deployments = objects(kustomization, "Deployment")
    services = objects(kustomization, "Service")
    autoscalers = objects(kustomization, "HorizontalPodAutoscaler")
    for name, deployment in deployments.items():
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = services[name]["spec"]["selector"]
        assert selector.items() <= pod_labels.items(), name
        target = autoscalers[name]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert autoscalers[name]["spec"]["minReplicas"] >= 2


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_settings_come_from_the_config_map_and_secrets_from_secret_references(kustomization):
    config_maps = objects(kustomization, "ConfigMap")
    assert not objects(kustomization, "Secret"), "secrets are made outside the repository"
    for name, deployment in objects(kustomization, "Deployment").items():
        runs = container(deployment)
        (source,) = runs["envFrom"]
        assert source["configMapRef"]["name"] in config_maps, name
        for variable in runs.get("env", []):
            if SECRET_NAME.search(variable["name"]):
                assert "secretKeyRef" in variable.get("valueFrom", {}), variable["name"]
    for name in SERVICES:
        env = {variable["name"]: variable for variable in container(
            objects(kustomization, "Deployment")[name]).get("env", [])}
        assert env[f"ADOPTE_{name.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    for config in config_maps.values():
        secret_like = [key for key in config["data"] if SECRET_NAME.search(key)
                       and not key.endswith("_FILE")]
        assert not secret_like, f"secret values in a ConfigMap: {secret_like}"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_the_manifests_set_only_variables_the_services_read(kustomization):
    deployments = objects(kustomization, "Deployment")
    for config in objects(kustomization, "ConfigMap").values():
        unread = [key for key in config["data"] if not read_by_some_service(key)]
        assert not unread, unread
    for name in SERVICES:
        unread = {variable["name"] for variable in container(deployments[name]).get("env", [])
                  } - settings_variables(name)
        assert not unread, f"{name} does not read {sorted(unread)}"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_shops_need_a_payout_account_wherever_payments_go_through_stripe(kustomization):
    (config,) = objects(kustomization, "ConfigMap").values()
    if config["data"]["ADOPTE_PAYMENT_PROVIDER"] == "stripe":
        assert config["data"].get("ADOPTE_CATALOG_REQUIRE_PAYOUT_ACCOUNT") == "true"


def test_only_accounts_gets_the_private_key():
    deployments = objects("base", "Deployment")
    for name in SERVICES:
        (jwt,) = [volume for volume in deployments[name]["spec"]["template"]["spec"]["volumes"]
                  if volume["name"] == "jwt"]
        keys = {item["key"] for item in jwt["secret"].get("items", [])}
        assert keys == (set() if name == "accounts" else {"jwt-public.pem"}), name


def test_production_pins_its_image():
    for deployment in objects("overlays/production", "Deployment").values():
        image = container(deployment)["image"]
        assert ":" in image and not image.endswith(":latest"), image


# --- Prometheus rules and the Grafana dashboard -------------------------------------------


METRIC = re.compile(r"\badopte_[a-z0-9_]+\b")
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


@cache
def exported_metrics() -> frozenset[str]:
    """The series names the code's prometheus_client metrics expose."""
    definition = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
    names = set()
    for source in [*REPO.glob("libs/**/*.py"), *REPO.glob("services/**/*.py")]:
        for kind, name in definition.findall(source.read_text()):
            base = name.removesuffix("_total")
            names |= {
                "Counter": {f"{base}_total", f"{base}_created"},
                "Gauge": {name},
                "Histogram": {f"{name}_bucket", f"{name}_count", f"{name}_sum"},
                "Summary": {name, f"{name}_count", f"{name}_sum"},
            }[kind]
    return frozenset(names)


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "adopte.json").read_text())


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel.get("targets", [])]


def test_the_code_exports_the_metrics_we_alert_on():
    assert {"adopte_consumer_lag", "adopte_outbox_backlog", "adopte_events_dead_lettered_total",
            "adopte_http_request_duration_seconds_count"} <= exported_metrics()


def test_alerts_and_dashboard_name_only_metrics_the_code_exports():
    named = {metric for expression in [*(rule["expr"] for rule in alert_rules()),
                                       *dashboard_expressions()]
             for metric in METRIC.findall(expression)}
    assert named, "no metric found in the rules and the dashboard"
    assert not named - exported_metrics(), f"not exported: {sorted(named - exported_metrics())}"


def test_promtool_accepts_the_rules_and_the_configuration():
    promtool = tool("promtool")
    for command in (["check", "rules", "alerts.yml"],
                    ["check", "config", "--syntax-only", "prometheus.yml"]):
        checked = subprocess.run([promtool, *command], cwd=DEPLOY / "prometheus",
                                 capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alerts_fire_when_they_should_and_only_then():
    tested = subprocess.run([tool("promtool"), "test", "rules", "alerts.test.yml"],
                            cwd=DEPLOY / "prometheus", capture_output=True, text=True, timeout=120)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test_that_fires_it():
    tests = yaml.safe_load((DEPLOY / "prometheus" / "alerts.test.yml").read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test["alert_rule_test"]
             if case["exp_alerts"]}
    assert {rule["alert"] for rule in alert_rules()} == fired


def test_alert_rules_are_well_formed():
    rules = alert_rules()
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert DURATION.match(rule.get("for", "0s")), rule["alert"]
        expression = rule["expr"]
        assert expression.count("(") == expression.count(")"), rule["alert"]
        assert expression.count("{") == expression.count("}"), rule["alert"]
        for window in re.findall(r"\[([^\]]+)\]", expression):
            assert DURATION.match(window), f"{rule['alert']}: [{window}]"


def test_alerts_cover_lag_dead_letters_stuck_sagas_and_server_errors():
    expressions = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    covers = {
        "consumer lag": lambda e: "adopte_consumer_lag" in e,
        "dead letters": lambda e: "adopte_events_dead_lettered_total" in e,
        "stuck sagas": lambda e: "adopte_outbox_backlog" in e,
        "5xx rate": lambda e: 'status=~"5.."' in e,
    }
    for concern, matches in covers.items():
        assert any(matches(expression) for expression in expressions.values()), concern
    assert any(name.startswith("SagaStuck") for name in expressions)


def test_the_dashboard_queries_prometheus_through_its_variable():
    board = dashboard()
    assert board["uid"] and board["title"]
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    graphs = [panel for panel in board["panels"] if panel["type"] != "row"]
    assert len(graphs) >= 8
    identifiers = [panel["id"] for panel in board["panels"]]
    assert len(set(identifiers)) == len(identifiers)
    for panel in graphs:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and all(target["expr"] for target in panel["targets"])
