"""`baton containerize` and `baton k8s`: the generated files, parsed and checked."""

from __future__ import annotations

import json
import re
import shlex
from importlib import metadata

import pytest
import yaml
from serve_helpers import quirky_package

from modelbaton.package.load import open_package
from modelbaton.package.receipts import write_receipt


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return quirky_package(tmp_path_factory.mktemp("deploy"), "fraud-score_v2", cut=50.0)


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile)
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_containerize_writes_a_pinned_non_root_build_context(package, tmp_path, cli):
    result = cli("containerize", package, "--out", tmp_path / "image", "--json")
    assert result.code == 0, result.err
    info = json.loads(result.out)
    context = tmp_path / "image"
    steps = instructions((context / "Dockerfile").read_text())
    manifest = open_package(package).manifest

    kinds = [kind for kind, _ in steps]
    assert steps[0] == ("FROM", f"python:{manifest.environment.python}-slim")
    user = dict(steps)["USER"]
    assert user.split(":")[0] == "10001"  # not root, and after every install
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")
    assert dict(steps)["EXPOSE"] == "8000"
    health = dict(steps)["HEALTHCHECK"]
    assert "http://127.0.0.1:8000/v2/health/ready" in health
    command = json.loads(dict(steps)["CMD"])
    assert command[:3] == ["baton", "serve", "/srv/package"]
    assert command[command.index("--port") + 1] == "8000"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    installs = [shlex.split(args) for kind, args in steps if kind == "RUN" and "pip" in args]
    assert all("--no-deps" in args for args in installs)  # pins only, nothing resolved
    assert [a[-1] for a in installs] == ["/srv/requirements.lock", "/srv/serve.lock"]

    pins = dict(line.split("==") for line in (context / "serve.lock").read_text().splitlines()
                if "==" in line)
    assert pins["modelbaton"] and pins["starlette"] == metadata.version("starlette")
    assert pins["uvicorn"] == metadata.version("uvicorn")
    assert pins["prometheus-client"] == metadata.version("prometheus-client")
    model_pins = {line.split("==")[0] for line in
                  (context / "package/env/requirements.lock").read_text().splitlines()
                  if "==" in line}
    assert not model_pins & set(pins)  # each distribution pinned once
    # The package inside the context is the same package, digests checked.
    assert open_package(context / "package").digest == open_package(package).digest
    ignored = (context / ".dockerignore").read_text().split()
    assert "**/__pycache__" in ignored and "package/receipts" in ignored
    assert info["image"] == "fraud-score-v2:1"

    again = cli("containerize", package, "--out", context)
    assert again.code == 2 and "--force" in again.err


def test_k8s_manifests_probe_scrape_and_size_from_the_benchmark(package, tmp_path, cli):
    result = cli("k8s", package, "--image", "registry.example/fraud:1", "--replicas", "3")
    assert result.code == 0, result.err
    deployment, service, autoscaler = yaml.safe_load_all(result.out)
    assert [d["kind"] for d in (deployment, service, autoscaler)] == [
        "Deployment", "Service", "HorizontalPodAutoscaler"]
    assert deployment["metadata"]["name"] == "fraud-score-v2"  # a valid Kubernetes name
    pod = deployment["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "registry.example/fraud:1"
    port = container["ports"][0]
    assert (port["name"], port["containerPort"]) == ("http", 8000)
    assert container["args"][container["args"].index("--port") + 1] == "8000"
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready",
                                                      "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8000"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert container["resources"]["requests"]["memory"] == "512Mi"  # not benchmarked yet
    assert "no benchmarked memory" in result.out.splitlines()[1]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == "fraud-score-v2"
    assert (autoscaler["spec"]["minReplicas"], autoscaler["spec"]["maxReplicas"]) == (3, 12)

    # Once benchmarked, the request follows the measured peak (plus the server's share).
    digest = open_package(package).digest
    write_receipt(package, "bench", digest=digest, passed=True,
                  details={"measured": {"peak_rss_mb": 300.0}})
    out = tmp_path / "k8s.yaml"
    sized = cli("k8s", package, "--out", out, "--workers", "2", "--json")
    assert sized.code == 0, sized.err
    container = next(yaml.safe_load_all(out.read_text()))["spec"]["template"]["spec"][
        "containers"][0]
    # 2 workers x (300 MB + 160 MB), rounded up to 16 MiB; the limit 1.5 times that.
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "928Mi"}
    assert container["resources"]["limits"]["memory"] == "1392Mi"
    assert json.loads(sized.out)["memory_source"].startswith("benchmarked peak RSS 300 MB")


def test_k8s_bad_options(package, cli, tmp_path):
    result = cli("k8s", package, "--out", tmp_path / "missing" / "k8s.yaml")
    assert result.code == 2 and "cannot write" in result.err
    (tmp_path / "file").write_text("x")
    result = cli("containerize", package, "--out", tmp_path / "file")
    assert result.code == 2 and "is a file" in result.err
    result = cli("k8s", package, "--replicas", "0")
    assert result.code == 2 and "--replicas must be at least 1" in result.err
    result = cli("k8s", package, "--replicas", "4", "--max-replicas", "2")
    assert result.code == 2 and "below --replicas" in result.err
