"""The nightly CI workflow mirrors tox.ini: same envs, same result paths, same report step."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from architectures.versions import SUPPORTED_TRANSFORMERS
from reports.claims import ROW_ARCHES


REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "nightly.yml"
ENV_EXPR = "${{ matrix.env }}"


@pytest.fixture(scope="module")
def tox() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "tox.ini", encoding="utf-8")
    return parser


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def lines(value: str) -> list[str]:
    return [line.strip() for line in value.strip().splitlines() if line.strip()]


def envlist(tox: configparser.ConfigParser) -> list[str]:
    return [e.strip() for e in tox["tox"]["envlist"].split(",")]


def suite_envs(tox: configparser.ConfigParser) -> list[str]:
    """The envs that run the suite (not skip_install)."""
    return [e for e in envlist(tox) if tox[f"testenv:{e}"].get("skip_install", "false") != "true"]


def steps_running(job: dict[str, Any], needle: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if needle in s.get("run", "")]


def test_workflow_is_valid_yaml_with_a_schedule(workflow: dict[str, Any]) -> None:
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"]
    assert "workflow_dispatch" in triggers
    assert set(workflow["jobs"]) == {"suite", "adapters", "matrix"}


def test_one_job_per_tox_env_in_tox_order(tox: configparser.ConfigParser, workflow: dict[str, Any]) -> None:
    assert suite_envs(tox) == ["tf457", "tf50", "tflatest"]
    assert workflow["jobs"]["suite"]["strategy"]["matrix"]["env"] == suite_envs(tox)
    assert workflow["jobs"]["suite"]["strategy"]["fail-fast"] is False
    (run,) = steps_running(workflow["jobs"]["suite"], "tox -e")
    assert run["run"].strip() == f"tox -e {ENV_EXPR}"


def test_results_go_where_tox_writes_them(tox: configparser.ConfigParser, workflow: dict[str, Any]) -> None:
    (command,) = lines(tox["testenv"]["commands"])
    assert command.startswith("pytest -n 2 ")  # xdist inside every env
    assert "--results {toxinidir}/results/{envname}/results.json" in command
    (upload,) = [s for s in workflow["jobs"]["suite"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert upload["if"] == "always()"  # failing checks must not lose the results
    assert upload["with"]["path"].rstrip("/") == f"results/{ENV_EXPR}"
    assert upload["with"]["name"] == f"results-{ENV_EXPR}"
    # The merge job puts artifact results-<env> back at results/<env>, as tox left it.
    (arrange,) = steps_running(workflow["jobs"]["matrix"], "mv ")
    assert 'mv "$dir" "results/${dir#artifacts/results-}"' in arrange["run"]


def test_merge_job_runs_the_report_env_and_keeps_the_matrix(
    tox: configparser.ConfigParser, workflow: dict[str, Any]
) -> None:
    job = workflow["jobs"]["matrix"]
    assert job["needs"] == "suite"
    assert job["if"] == "always()"
    (report,) = steps_running(job, "tox -e report")
    assert "continue-on-error" not in report  # a regression fails the job
    (command,) = lines(tox["testenv:report"]["commands"])
    assert command.startswith("python -m reports matrix ")
    for env in suite_envs(tox):
        assert f"{{toxinidir}}/results/{env} " in command + " "
    assert "--out {toxinidir}/results/matrix" in command
    assert "--previous {toxinidir}/results/matrix/matrix.json" in command
    caches = [s for s in job["steps"] if "actions/cache" in s.get("uses", "")]
    assert [s["uses"].split("@")[0] for s in caches] == ["actions/cache/restore", "actions/cache/save"]
    assert {s["with"]["path"] for s in caches} == {"results/matrix"}
    assert caches[1]["if"] == "success()"  # a night with a regression is not the next night's baseline
    order = [s.get("uses", s.get("run", "")) for s in job["steps"]]
    assert order.index(caches[0]["uses"]) < order.index(report["run"]) < order.index(caches[1]["uses"])
    assert tox["testenv:report"]["depends"].replace(" ", "").split(",") == suite_envs(tox)


def test_every_env_pins_cpu_torch_first_and_its_transformers_line(
    tox: configparser.ConfigParser, workflow: dict[str, Any]
) -> None:
    pins = {}
    for env in suite_envs(tox):
        deps = lines(tox[f"testenv:{env}"]["deps"])
        assert deps[0] == "torch==2.13.0", env
        (transformers,) = [d for d in deps if d.startswith("transformers")]
        pins[env] = transformers
    assert pins == {
        "tf457": "transformers==4.57.6",
        "tf50": "transformers>=5.0,<5.1",
        "tflatest": "transformers>=5.0,<6",
    }
    upper = re.search(r"<(\d+)", SUPPORTED_TRANSFORMERS).group(1)
    assert pins["tflatest"].endswith(f"<{upper}")  # the newest line is the newest the package accepts
    assert workflow["env"]["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert workflow["env"]["HF_HUB_OFFLINE"] == "1"


def test_the_adapters_job_runs_the_adapters_env(tox: configparser.ConfigParser, workflow: dict[str, Any]) -> None:
    """AdapterHub's certification: its own tox env (not in the default envlist: it needs transformers 4.57.x) and its
    own nightly job, whose results are uploaded apart from the matrix's."""
    assert "adapters" not in envlist(tox)
    deps = lines(tox["testenv:adapters"]["deps"])
    assert deps == ["torch==2.13.0", "transformers==4.57.6", "adapters==1.3.0"]
    (command,) = lines(tox["testenv:adapters"]["commands"])
    assert command.startswith("pytest -n 2 --impl=adapters ")
    assert "--results {toxinidir}/results/adapters/results.json" in command
    # every architecture AdapterHub's published table names, so that docs/adapters/claims.md measures every row
    (archs,) = re.findall(r"--arch=(\S+)", command)
    assert sorted(archs.split(",")) == sorted({arch for row in ROW_ARCHES.values() for arch in row})
    job = workflow["jobs"]["adapters"]
    (run,) = steps_running(job, "tox -e")
    assert run["run"].strip() == "tox -e adapters"
    (upload,) = [s for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/") == "results/adapters"
    assert upload["with"]["name"] == "results-adapters"


def test_ci_runs_every_test_that_needs_adapterhub() -> None:
    """A test module that runs only where AdapterHub ``adapters`` is installed is skipped in the main venv: .ci/run's
    AdapterHub venv must name it, or it never runs."""
    marker = re.compile(r'^pytest\.importorskip\("adapters"\)', re.MULTILINE)
    needing = {path.name for path in (REPO / "tests").glob("test_*.py") if marker.search(path.read_text())}
    assert needing, "no test module needs AdapterHub: the check looks for the wrong marker"
    ci = (REPO / ".ci" / "run").read_text()
    assert not {name for name in needing if f"tests/{name}" not in ci}
