"""The deployment recipes in deploy/: valid for the tools that read them, and in step with the CLI.

Docker cannot run here, so this checks what can be checked without it: the compose file against the
Compose Specification's JSON schema (as check-jsonschema ships it), the Kubernetes manifests against
Kubernetes' own schemas (kubernetes-validate, strict: no unknown field), the systemd units with
``systemd-analyze verify``, and every ``orchestrator`` command line in them, in their probes and in the
Procfile against `orchestrator.cli.build_parser` (Celery's worker options against Celery's parser),
every ``ORCHESTRATOR_*`` setting against `orchestrator.config`.
"""

from __future__ import annotations

import copy
import inspect
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from celery.bin.base import CLIContext
from celery.bin.worker import worker as celery_worker
from check_jsonschema.builtin_schemas import get_builtin_schema

from orchestrator import config
from orchestrator.cli import build_parser, cmd_db_upgrade, cmd_health, cmd_scheduler, cmd_serve, cmd_worker

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SYSTEMD = DEPLOY / "systemd"
# The oldest Kubernetes the manifests are meant for, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
ROLES = {"web": cmd_serve, "worker": cmd_worker, "scheduler": cmd_scheduler, "migrate": cmd_db_upgrade}
# A worker's grace period on stopping: long enough for a task to finish (the recipes say 15 minutes).
MIN_WORKER_GRACE_SECONDS = 600
# A GetActivityTask long poll lasts up to 60 s: the API must be let finish it.
MIN_WEB_GRACE_SECONDS = 60


# -- reading the recipes ---------------------------------------------------------------------------


def interpolate(text: str, environ: dict[str, str] | None = None) -> str:
    """``${VAR:-default}`` and ``${VAR}`` as Compose and a Procfile's shell expand them."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3) or ""
        return (environ or {}).get(name) or default

    return re.sub(r"\$\{(\w+)(:?-([^}]*))?\}", value, text)


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) for every Kubernetes object (the kustomization is kustomize's, not one)."""
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found.extend((path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section -> key -> values (a key may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def units() -> dict[str, dict[str, dict[str, list[str]]]]:
    return {path.name: unit(path) for path in sorted(SYSTEMD.glob("*.service")) + sorted(SYSTEMD.glob("*.target"))}


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def procfile() -> dict[str, list[str]]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    entries = (line.partition(":") for line in lines)
    return {name.strip(): shlex.split(interpolate(command)) for name, _, command in entries if command}


# -- every orchestrator command line in the recipes --------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    where: str
    role: str | None  # web, worker, scheduler, migrate; None for a probe
    argv: tuple[str, ...]  # the arguments after ``orchestrator``


def _orchestrator_argv(command: list[str], where: str) -> tuple[str, ...]:
    assert Path(command[0]).name == "orchestrator", f"{where}: runs {command[0]}, not orchestrator"
    return tuple(command[1:])


def compose_invocations() -> list[Invocation]:
    found = []
    for name, service in compose()["services"].items():
        if "command" in service and service.get("build"):
            argv = tuple(interpolate(word) for word in service["command"])
            found.append(Invocation(f"compose {name}", name, argv))
        test = service.get("healthcheck", {}).get("test", [])
        if test[:2] == ["CMD", "orchestrator"]:
            found.append(Invocation(f"compose {name} healthcheck", None, tuple(test[2:])))
    return found


def kubernetes_invocations() -> list[Invocation]:
    found = []
    for file, doc in manifests():
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        role = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        for container in pod_spec(doc)["containers"]:
            where = f"{file} {doc['metadata']['name']}"
            argv = container.get("command", ["orchestrator"]) + container.get("args", [])
            found.append(Invocation(where, role, _orchestrator_argv(argv, where)))
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                command = container.get(probe, {}).get("exec", {}).get("command")
                if command:
                    found.append(Invocation(f"{where} {probe}", None, _orchestrator_argv(command, f"{where} {probe}")))
    return found


def systemd_invocations() -> list[Invocation]:
    found = []
    for name, sections in units().items():
        for command in sections.get("Service", {}).get("ExecStart", []):
            role = re.sub(r"^orchestrator-|@?\.service$", "", name)
            # systemd's specifiers: %i the instance, %H the host name.
            words = shlex.split(command.replace("%i", "1").replace("%H", "host"))
            found.append(Invocation(f"systemd {name}", role, _orchestrator_argv(words, name)))
    return found


def procfile_invocations() -> list[Invocation]:
    return [
        Invocation(f"Procfile {name}", name, _orchestrator_argv(argv, f"Procfile {name}"))
        for name, argv in procfile().items()
    ]


def all_invocations() -> list[Invocation]:
    return compose_invocations() + kubernetes_invocations() + systemd_invocations() + procfile_invocations()


def parse(argv: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
    """The CLI's namespace for ``argv``, and the Celery worker options it passes through (parsed by Celery)."""
    args, extra = build_parser().parse_known_args(list(argv))
    celery_options: dict[str, Any] = {}
    if extra:
        if args.func is not cmd_worker:  # only the worker passes options on (to Celery), as `main` does
            raise ValueError(f"orchestrator {argv[0]}: unrecognized arguments: {' '.join(extra)}")
        from orchestrator.runtime.app import app

        context = celery_worker.make_context(
            "worker", extra, obj=CLIContext(app=app, no_color=True, workdir=None, quiet=True)
        )
        defaults = celery_worker.make_context(
            "worker", [], obj=CLIContext(app=app, no_color=True, workdir=None, quiet=True)
        )
        celery_options = {k: v for k, v in context.params.items() if v != defaults.params.get(k)}
    return args, celery_options


def normalized(invocation: Invocation) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """What a command line means: its subcommand, its options with defaults filled in, Celery's options."""
    args, celery_options = parse(invocation.argv)
    options = {k: v for k, v in vars(args).items() if k not in ("func", "command")}
    return args.func.__name__, options, celery_options


# -- the compose file ------------------------------------------------------------------------------


def compose_schema_errors(document: dict[str, Any]) -> list[str]:
    schema = get_builtin_schema("vendor.compose-spec")
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification() -> None:
    assert compose_schema_errors(compose()) == []


def test_the_compose_schema_catches_a_mistake() -> None:
    """The schema is strict enough to matter: a misspelt key or an unknown condition is refused."""
    misspelt = compose()
    misspelt["services"]["worker"]["stop_grace_periods"] = "15m"
    assert any("stop_grace_periods" in e for e in compose_schema_errors(misspelt))
    unknown = compose()
    unknown["services"]["worker"]["depends_on"]["migrate"]["condition"] = "service_succeeded"
    assert any("service_succeeded" in e for e in compose_schema_errors(unknown))


def test_compose_runs_every_process_from_one_image() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "scheduler"} <= set(services)
    ours = {name: s for name, s in services.items() if s.get("build")}
    assert set(ours) == {"migrate", "web", "worker", "scheduler"}
    assert len({s["image"] for s in ours.values()}) == 1
    for service in ours.values():
        dockerfile = (DEPLOY / service["build"]["context"]).resolve() / service["build"]["dockerfile"]
        assert dockerfile == DEPLOY / "Dockerfile"


def test_compose_starts_the_processes_after_the_migration_and_the_servers() -> None:
    services = compose()["services"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy"
        assert "healthcheck" in services[name]


def test_compose_workers_scale() -> None:
    """``--scale worker=N`` needs no fixed container name and no published port."""
    worker = compose()["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker and "hostname" not in worker


def compose_duration(text: str) -> float:
    units_ = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units_[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text))


def test_compose_grace_periods() -> None:
    services = compose()["services"]
    assert compose_duration(services["worker"]["stop_grace_period"]) >= MIN_WORKER_GRACE_SECONDS
    assert compose_duration(services["web"]["stop_grace_period"]) >= MIN_WEB_GRACE_SECONDS


# -- the Kubernetes manifests ----------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("document", [doc for _, doc in manifests()], ids=[f"{f}:{d['kind']}" for f, d in manifests()])
def test_manifest_follows_the_kubernetes_schema(document: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(document, version, strict=True)


def test_the_kubernetes_schema_catches_a_mistake() -> None:
    deployment = copy.deepcopy(objects("Deployment")["orchestrator-worker"])
    pod_spec(deployment)["terminationGracePeriod"] = 900
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_kubernetes_has_every_piece() -> None:
    kinds = sorted((doc["kind"], doc["metadata"]["name"]) for _, doc in manifests())
    assert kinds == [
        ("ConfigMap", "orchestrator"),
        ("Deployment", "orchestrator-scheduler"),
        ("Deployment", "orchestrator-web"),
        ("Deployment", "orchestrator-worker"),
        ("HorizontalPodAutoscaler", "orchestrator-worker"),
        ("Job", "orchestrator-migrate"),
        ("Secret", "orchestrator"),
        ("Service", "orchestrator"),
    ]


def test_kustomization_applies_everything_but_the_migration() -> None:
    """The Job is applied and awaited first (its comment says how), not with the new pods."""
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    files = {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml", "migrate-job.yaml"}
    assert set(kustomization["resources"]) == files
    assert len(kustomization["resources"]) == len(files)


def test_workloads_select_their_own_pods() -> None:
    for doc in objects("Deployment").values():
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_service_reaches_the_api() -> None:
    service = objects("Service")["orchestrator"]
    web = objects("Deployment")["orchestrator-web"]
    assert service["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    container = pod_spec(web)["containers"][0]
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    args, _ = parse(tuple(container["args"]))
    for port in service["spec"]["ports"]:
        assert port_names[port["targetPort"]] == args.port


def test_the_autoscaler_scales_workers_by_cpu() -> None:
    hpa = objects("HorizontalPodAutoscaler")["orchestrator-worker"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "orchestrator-worker")
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    # A CPU utilization target needs a CPU request to compare with.
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    worker = pod_spec(objects("Deployment")["orchestrator-worker"])
    assert all(c["resources"]["requests"]["cpu"] for c in worker["containers"])


def test_configuration_comes_from_the_configmap_and_the_secret() -> None:
    secret = objects("Secret")["orchestrator"]["stringData"]
    settings = objects("ConfigMap")["orchestrator"]["data"]
    # What carries a password is secret, and only there.
    for name in ("ORCHESTRATOR_DATABASE_URL", "ORCHESTRATOR_BROKER_URL", "ORCHESTRATOR_API_KEYS"):
        assert name in secret and name not in settings
    for file, doc in manifests():
        if doc["kind"] in ("Deployment", "Job"):
            for container in pod_spec(doc)["containers"]:
                sources = container["envFrom"]
                assert {"configMapRef": {"name": "orchestrator"}} in sources, file
                assert {"secretRef": {"name": "orchestrator"}} in sources, file


def test_kubernetes_probes_and_grace_periods() -> None:
    deployments = objects("Deployment")
    for name, doc in deployments.items():
        for container in pod_spec(doc)["containers"]:
            assert {"livenessProbe", "readinessProbe"} <= container.keys(), name
    web = pod_spec(deployments["orchestrator-web"])
    readiness = web["containers"][0]["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/health"
    assert pod_spec(deployments["orchestrator-worker"])["terminationGracePeriodSeconds"] >= MIN_WORKER_GRACE_SECONDS
    assert web["terminationGracePeriodSeconds"] >= MIN_WEB_GRACE_SECONDS


def test_pods_run_as_the_images_user_with_a_writable_home() -> None:
    """readOnlyRootFilesystem, so ORCHESTRATOR_HOME (the heartbeat file) must be a volume."""
    home = objects("ConfigMap")["orchestrator"]["data"]["ORCHESTRATOR_HOME"]
    for file, doc in manifests():
        if doc["kind"] in ("Deployment", "Job"):
            spec = pod_spec(doc)
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["securityContext"]["runAsUser"] == dockerfile_uid()
            for container in spec["containers"]:
                assert container["securityContext"]["readOnlyRootFilesystem"] is True
                assert home in {m["mountPath"] for m in container["volumeMounts"]}, file


# -- the systemd units -----------------------------------------------------------------------------


def test_systemd_units_verify(tmp_path: Path) -> None:
    """``systemd-analyze verify`` finds nothing to say (with ExecStart pointing at this installation)."""
    installed = Path(shutil.which("orchestrator") or Path(sys.executable).parent / "orchestrator")
    assert installed.exists()
    for path in list(SYSTEMD.glob("*.service")) + list(SYSTEMD.glob("*.target")):
        text = path.read_text().replace("/opt/orchestrator/bin/orchestrator", str(installed))
        (tmp_path / path.name).write_text(text)
    names = [p.name.replace("@.service", "@1.service") for p in sorted(tmp_path.iterdir())]
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(f"./{n}" for n in names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result


def test_systemd_units_have_the_processes_and_their_settings() -> None:
    found = units()
    assert set(found) == {
        "orchestrator-migrate.service",
        "orchestrator-web.service",
        "orchestrator-worker@.service",
        "orchestrator-scheduler.service",
        "orchestrator.target",
    }
    migrate = found["orchestrator-migrate.service"]["Service"]
    assert migrate["Type"] == ["oneshot"] and migrate["RemainAfterExit"] == ["yes"]
    for name, sections in found.items():
        if name.endswith(".service"):
            service = sections["Service"]
            assert service["EnvironmentFile"] == ["/etc/orchestrator/orchestrator.env"], name
            assert service["User"] != ["root"] and service["User"], name
            assert sections["Install"]["WantedBy"] == ["orchestrator.target"], name
            if name != "orchestrator-migrate.service":
                assert "orchestrator-migrate.service" in sections["Unit"]["Requires"], name
                assert "orchestrator-migrate.service" in " ".join(sections["Unit"]["After"]), name


def test_systemd_worker_stops_warmly() -> None:
    """SIGTERM to Celery's main process only (the pool finishes its tasks), and time to do it."""
    service = units()["orchestrator-worker@.service"]["Service"]
    assert service["KillMode"] == ["mixed"] and service["KillSignal"] == ["SIGTERM"]
    assert compose_duration(service["TimeoutStopSec"][0].replace("min", "m")) >= MIN_WORKER_GRACE_SECONDS
    # Instances on one host need node names of their own (the worker's probe names it).
    assert "--hostname" in service["ExecStart"][0] and "%i" in service["ExecStart"][0]


# -- the Dockerfile --------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def dockerfile_uid() -> int:
    user = [args for instruction, args in dockerfile() if instruction == "USER"][-1]
    return int(user.split(":")[0])


def test_dockerfile_builds_a_slim_non_root_image_of_the_repository() -> None:
    instructions = dockerfile()
    base = next(args for i, args in instructions if i == "ARG" and args.startswith("PYTHON_IMAGE="))
    assert base.split("=", 1)[1].startswith("python:3.11-slim")
    assert [args for i, args in instructions if i == "FROM"][-1] == "${PYTHON_IMAGE}"
    assert dockerfile_uid() != 0
    assert any(i == "RUN" and args.endswith("pip install .") for i, args in instructions)
    assert ("ENTRYPOINT", '["orchestrator"]') in instructions
    # What it copies from the repository exists, and the ignore file lets it through.
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for i, args in instructions:
        if i == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert f"!{source}" in ignored or f"!{source}/" in ignored, source


def test_the_installed_package_carries_the_migrations_and_the_image_the_handlers() -> None:
    """The image installs the project (not editable): Alembic's files must be package data. tasks/ is not
    installed (no top-level `tasks` in site-packages): the image copies it onto its PYTHONPATH."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["packages"]["find"]["include"] == ["orchestrator*"]
    instructions = dockerfile()
    assert ("COPY", "tasks /opt/orchestrator/handlers/tasks") in instructions
    environment = " ".join(args for i, args in instructions if i == "ENV")
    assert "PYTHONPATH=/opt/orchestrator/handlers " in environment
    patterns = setuptools["package-data"]["orchestrator"]
    package = ROOT / "orchestrator"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    needed = {p for p in (package / "migrations").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert needed and needed <= shipped, sorted(str(p) for p in needed - shipped)


# -- commands, probes and settings against the CLI and the configuration -----------------------------


@pytest.mark.parametrize("invocation", all_invocations(), ids=lambda i: i.where)
def test_every_command_line_is_one_the_cli_accepts(invocation: Invocation) -> None:
    args, _ = parse(invocation.argv)
    if invocation.role is None:
        assert args.func is cmd_health
    else:
        assert args.func is ROLES[invocation.role], invocation


def test_a_wrong_option_is_caught() -> None:
    """The parsing above refuses what the CLI would refuse (so the test above could fail)."""
    with pytest.raises(ValueError, match="unrecognized arguments: --hots"):
        parse(("serve", "--hots", "0.0.0.0"))
    with pytest.raises(SystemExit):
        parse(("serve", "--port", "web"))
    with pytest.raises(Exception, match="No such option"):
        parse(("worker", "--concurency", "4"))


def test_every_process_runs_the_same_command_everywhere() -> None:
    """Compose, Kubernetes and systemd run what the Procfile runs (a worker may add its node name)."""
    by_role: dict[str, list[tuple[str, tuple[str, dict[str, Any], dict[str, Any]]]]] = {}
    for invocation in all_invocations():
        if invocation.role is not None:
            by_role.setdefault(invocation.role, []).append((invocation.where, normalized(invocation)))
    assert set(by_role) == set(ROLES)
    for role, seen in by_role.items():
        origins = {where.split()[0] for where, _ in seen}
        assert origins >= {"compose", "systemd", "migrate-job.yaml" if role == "migrate" else f"{role}.yaml"}
        if role != "migrate":
            assert "Procfile" in origins, role
        reference = seen[0][1]
        for where, (func, options, celery_options) in seen:
            assert (func, options) == reference[:2], (where, seen[0][0])
            celery_options.pop("hostname", None)
            assert celery_options == {k: v for k, v in reference[2].items() if k != "hostname"}, where


def test_every_worker_serves_its_metrics_where_it_says() -> None:
    """Each recipe's worker serves Prometheus metrics, on the port its pod declares and announces."""
    workers = [i for i in all_invocations() if i.role == "worker"]
    assert workers
    for invocation in workers:
        args, _ = parse(invocation.argv)
        assert (args.metrics_port, args.metrics_host) == (9101, "0.0.0.0"), invocation.where
    template = objects("Deployment")["orchestrator-worker"]["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"]) == ("true", "9101")
    ports = [port for container in template["spec"]["containers"] for port in container.get("ports", [])]
    assert {"name": "metrics", "containerPort": 9101} in ports


def test_probes_check_what_they_are_for() -> None:
    probes = [i for i in all_invocations() if i.role is None]
    flags = {}
    for invocation in probes:
        args, _ = parse(invocation.argv)
        flags[invocation.where] = (args.worker is not None, args.scheduler)
    # Every worker probe pings the worker; every scheduler probe checks the heartbeat.
    assert flags["compose worker healthcheck"] == (True, False)
    assert flags["compose scheduler healthcheck"] == (False, True)
    for where, flag in flags.items():
        if "orchestrator-worker" in where:
            assert flag == (True, False), where
        if "orchestrator-scheduler" in where:
            assert flag == (False, True), where
    assert sum("orchestrator-worker" in w for w in flags) == 3
    assert sum("orchestrator-scheduler" in w for w in flags) == 3


def test_the_web_healthcheck_asks_the_api(tmp_path: Path) -> None:
    """Compose's web probe fetches /health from the port the server listens on, a route the API has."""
    from orchestrator.api.app import create_app
    from orchestrator.service import Service

    web = compose()["services"]["web"]
    program = web["healthcheck"]["test"][-1]
    url = urlsplit(re.search(r"'(http://[^']+)'", program).group(1))  # type: ignore[union-attr]
    args, _ = parse(tuple(web["command"]))
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", args.port, "/health")
    app = create_app(Service(config.load({"ORCHESTRATOR_HOME": str(tmp_path)})))
    assert "/health" in {route.path for route in app.routes}  # type: ignore[attr-defined]


def recipe_environments() -> dict[str, dict[str, str]]:
    """The environment each recipe gives the processes."""
    services = compose()["services"]
    dockerfile_env = {}
    for instruction, args in dockerfile():
        if instruction == "ENV":
            dockerfile_env.update(pair.split("=", 1) for pair in shlex.split(args))
    found = {
        f"compose {name}": {**dockerfile_env, **{k: interpolate(str(v)) for k, v in s["environment"].items()}}
        for name, s in services.items()
        if s.get("build")
    }
    found["kubernetes"] = {
        **dockerfile_env,
        **objects("ConfigMap")["orchestrator"]["data"],
        **objects("Secret")["orchestrator"]["stringData"],
    }
    found["systemd"] = env_file(SYSTEMD / "orchestrator.env")
    return found


def test_every_setting_is_one_the_configuration_reads() -> None:
    documented = config.__doc__ or ""
    source = inspect.getsource(config)
    names = {name for env in recipe_environments().values() for name in env if name.startswith("ORCHESTRATOR_")}
    assert len(names) >= 5
    for name in sorted(names):
        assert f"``{name}``" in documented, f"{name} is not documented in orchestrator/config.py"
        assert f'"{name}"' in source, f"{name} is not read by orchestrator.config"


def worker_grace_seconds() -> dict[str, float]:
    """How long each recipe lets a stopping worker finish its tasks."""
    systemd = units()["orchestrator-worker@.service"]["Service"]["TimeoutStopSec"][0]
    return {
        "compose": compose_duration(compose()["services"]["worker"]["stop_grace_period"]),
        "kubernetes": pod_spec(objects("Deployment")["orchestrator-worker"])["terminationGracePeriodSeconds"],
        "systemd": compose_duration(systemd.replace("min", "m")),
    }


def test_the_recipes_configure_a_cluster() -> None:
    """Loaded as the processes load them, the settings name PostgreSQL and a real broker (a misspelt
    name would fall back to SQLite and the in-process broker without a word)."""
    grace = worker_grace_seconds()
    for where, environment in recipe_environments().items():
        settings = config.load(environment)
        assert settings.database_url.startswith("postgresql+psycopg://"), where
        assert not settings.embedded_broker and settings.broker_url.startswith(("redis://", "amqp://")), where
        assert settings.scheduler_heartbeat.parent == settings.home == Path("/var/lib/orchestrator"), where
        assert settings.prefetch == 1, where
        # A task may run as long as a stopping worker is let finish it: Redis must not deliver its
        # message again meanwhile, nor the sweeper republish it.
        assert settings.visibility_timeout >= grace[where.split()[0]], where


# -- the documentation's command lines ---------------------------------------------------------------


def documented_commands(path: Path) -> list[list[str]]:
    """``orchestrator ...`` in inline code and in shell blocks (comments and VAR=value prefixes dropped)."""
    text = path.read_text()
    found = re.findall(r"`(?:[A-Z_]+=\S+ )*(orchestrator [^`]+)`", text)
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for raw in block.splitlines():
            line = re.sub(r"^(?:[A-Z_]+=\S+ )*", "", raw.split("#", 1)[0].strip())
            if line.startswith("orchestrator "):
                found.append(line)
    return [shlex.split(command)[1:] for command in found]


def subcommand_options(words: list[str]) -> tuple[list[str], set[str]]:
    """The subcommand ``words`` start with, and every option it takes (a worker's: Celery's too)."""
    parser = build_parser()
    path: list[str] = []
    for word in words:
        choices = next((a.choices for a in parser._actions if isinstance(a.choices, dict)), None)
        if not choices or word not in choices:
            break
        parser = choices[word]
        path.append(word)
    options = set(parser._option_string_actions)
    if path == ["worker"]:
        options |= {o for p in celery_worker.params for o in (*p.opts, *p.secondary_opts)}
    return path, options


def unknown_options(words: list[str]) -> list[str]:
    path, options = subcommand_options(words)
    assert path, f"orchestrator {' '.join(words)}: no such command"
    return [w.split("=")[0] for w in words if w.startswith("-") and w.split("=")[0] not in options]


@pytest.mark.parametrize("document", ["docs/operations.md", "deploy/README.md"])
def test_documented_commands_exist(document: str) -> None:
    commands = documented_commands(ROOT / document)
    assert len(commands) >= 5
    for words in commands:
        assert unknown_options(words) == [], (document, words)


def test_a_documented_mistake_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Run `orchestrator worker --concurency 4`, then:\n\n```sh\norchestrator serve --hots x  # no\n```\n"
    )
    assert [unknown_options(words) for words in documented_commands(page)] == [["--concurency"], ["--hots"]]
    with pytest.raises(AssertionError, match="no such command"):
        unknown_options(["serv"])
