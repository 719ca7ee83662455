"""Self-tests of the conformance plugin: inner pytest sessions (pytester) over small files that use the check mixins.

Inner runs build tiny models, so they are few and narrow (one architecture, ``--method=lora``). Runs that need xdist
go through a subprocess; the others run in this process (faster: torch is imported already) and the registry is put
back afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from architectures import registry
from architectures.versions import installed
from conformance.checks import ForwardChecks


BUILTIN = ("bert", "deberta", "gpt2", "roberta", "t5", "vit")
# The checks of the mixin the inner files use; all of them apply to bert with LoRA and seq_bn.
FORWARD_CHECKS = tuple(sorted(name for name in dir(ForwardChecks) if name.startswith("test_")))
N = len(FORWARD_CHECKS)
CHECKS_FILE = """
from conformance.checks import ForwardChecks


class TestForward(ForwardChecks):
    pass


def test_plain():
    pass
"""
GAP_REASON = "mybert keeps its attention projections frozen by design"
OUT_OF_TREE_SPEC = f"""
from dataclasses import replace

from architectures import register
from architectures.bert import SPEC as BERT

SPEC = register(replace(BERT, name="mybert", gaps={{"lora": {GAP_REASON!r}}}), module=__name__)
"""


@pytest.fixture(scope="module", autouse=True)
def preloaded() -> None:
    """Import everything inner runs import before pytester snapshots sys.modules: pytester drops modules first
    imported inside an inner run, and extension modules (numpy, torch) cannot be loaded twice in one process."""
    import conformance.checks  # noqa: F401
    from conformance.oracles.registry import oracle_for

    oracle_for("lora")  # imports every oracle module: they register on import, and an inner run must not again
    import conformance.grid  # noqa: F401
    import conformance.models  # noqa: F401
    import conformance.recording  # noqa: F401
    import reference_impl  # noqa: F401
    import reports.results  # noqa: F401
    from conformance.environment import environment

    registry.load_builtin()  # imports transformers' modeling modules of every builtin architecture
    environment()


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester dir with the checks file and strict markers; the registry is restored after in-process runs."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)  # the inner session is not one of the outer run's workers
    pytester.makeini("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    pytester.makepyfile(test_checks=CHECKS_FILE)
    registry.load_builtin()
    before = dict(registry._REGISTRY)
    yield pytester
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def collected(result: pytest.RunResult) -> list[str]:
    """Node ids printed by ``--collect-only -q``."""
    return [line for line in result.outlines if "::" in line]


def checks_of(path: Path) -> dict[str, dict[str, Any]]:
    """The records of a results file, by node id."""
    return {c["nodeid"]: c for c in json.loads(path.read_text(encoding="utf-8"))["checks"]}


def forward_ids(arch: str, method: str = "lora", cls: str = "TestForward", module: str = "test_checks") -> set[str]:
    return {f"{module}.py::{cls}::{check}[{arch}-{method}]" for check in FORWARD_CHECKS}


# ----- selection -----


def test_arch_collects_only_that_architecture(inner):
    result = inner.runpytest("--arch=bert", "--method=lora", "--collect-only", "-q")
    assert result.ret == 0
    assert set(collected(result)) == forward_ids("bert"), "an explicit --arch keeps only that arch's checks"
    result.stdout.fnmatch_lines([f"*{N}/{N + 1} tests collected (1 deselected)*"])  # test_plain goes


def test_without_arch_every_architecture_and_plain_tests_are_collected(inner):
    result = inner.runpytest("--method=lora", "--collect-only", "-q")
    assert result.ret == 0
    expected = {"test_checks.py::test_plain"}.union(*(forward_ids(arch) for arch in BUILTIN))
    assert expected <= set(collected(result))


@pytest.mark.parametrize(
    "args",
    [("--arch=bert,gpt2",), ("--arch=bert", "--arch=gpt2"), ("--arch= gpt2 , bert",), ("--arch=gpt2,bert,gpt2",)],
    ids=["comma", "repeated", "spaces", "duplicate"],
)
def test_comma_lists_and_repeated_arch(inner, args):
    result = inner.runpytest(*args, "--method=lora", "--collect-only", "-q")
    assert result.ret == 0
    assert sorted(collected(result)) == sorted(forward_ids("bert") | forward_ids("gpt2"))


def test_method_list_selects_methods(inner):
    result = inner.runpytest("--arch=bert", "--method=lora,seq_bn", "--collect-only", "-q")
    assert set(collected(result)) == forward_ids("bert") | forward_ids("bert", "seq_bn")


def test_feature_selects_its_methods(inner):
    result = inner.runpytest("--arch=bert", "--feature=lora", "--collect-only", "-q")
    assert set(collected(result)) == forward_ids("bert")


def test_keyword_selects_by_id(inner):
    result = inner.runpytest("--method=lora", "-k", "gpt2", "--collect-only", "-q")
    assert set(collected(result)) == forward_ids("gpt2")


def test_marker_expression_selects_an_architecture(inner):
    result = inner.runpytest("--method=lora", "-m", "arch(name='gpt2')", "--collect-only", "-q")
    assert set(collected(result)) == forward_ids("gpt2")


def test_a_mixin_used_by_hand_certifies_its_own_spec(inner):
    inner.makepyfile(
        test_by_hand="""
        from architectures.gpt2 import SPEC
        from conformance.checks import ForwardChecks

        class TestMine(ForwardChecks):
            spec = SPEC
        """
    )
    result = inner.runpytest("test_by_hand.py", "--method=lora", "--collect-only", "-q")
    assert set(collected(result)) == forward_ids("gpt2", cls="TestMine", module="test_by_hand")


@pytest.mark.parametrize(
    ("option", "message", "valid"),
    [
        ("--arch=nope", "--arch=nope: unknown architecture. Valid: all, ", BUILTIN),
        ("--arch=bert,nope", "--arch=nope: unknown architecture", BUILTIN),
        ("--method=nope", "--method=nope: unknown method. Valid: ", ("seq_bn", "double_seq_bn", "par_bn", "lora")),
        ("--feature=nope", "--feature=nope: unknown feature. Valid: ", ("bottleneck", "lora")),
        ("--arch=no_such_pkg.arch", "--arch=no_such_pkg.arch: cannot import architecture module", ()),
    ],
    ids=["arch", "arch-in-list", "method", "feature", "arch-module"],
)
def test_unknown_name_is_a_usage_error_listing_the_valid_ones(inner, option, message, valid):
    result = inner.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = "\n".join(result.errlines)
    assert message in errors
    listed = errors.split("Valid:")[-1]
    for name in valid:
        assert name in listed, f"{name!r} missing from the list of valid names: {errors}"
    assert not collected(result)


# ----- records, grid and header -----


def test_results_under_xdist_hold_one_passed_record_per_check(inner):
    result = inner.runpytest_subprocess(
        "-n", "2", "--arch=bert", "--method=lora", "--results", "out.json", timeout=300
    )
    result.assert_outcomes(passed=N)  # the workers deselect test_plain; the controller does not count it
    checks = checks_of(inner.path / "out.json")
    assert set(checks) == forward_ids("bert"), "one record per check, none for the plain test"
    for nodeid, record in checks.items():
        assert record["outcome"] == "passed", record
        assert (record["arch"], record["method"], record["feature"]) == ("bert", "lora", "lora")
        assert nodeid.split("::")[-1].startswith(record["check"] + "[")
    environment = json.loads((inner.path / "out.json").read_text())["environment"]
    assert environment["transformers"] == installed("transformers")

    # the header names the versions and the selection; the grid closes the run
    result.stdout.fnmatch_lines(
        [
            f"adapter-conformance: transformers {installed('transformers')}, torch {installed('torch')}*",
            "architectures: bert",
            "methods: lora",
        ]
    )
    result.stdout.fnmatch_lines(["*= adapter conformance =*", "architecture*lora*", f"bert*✅ {N}/{N}*"])
    assert "results written to out.json" in result.stdout.str()


def test_out_of_tree_spec_module_with_a_declared_gap(inner):
    inner.mkpydir("mypkg")
    inner.makepyfile(**{"mypkg/my_arch": OUT_OF_TREE_SPEC})
    inner.syspathinsert()
    result = inner.runpytest("--arch=mypkg.my_arch", "--method=lora,seq_bn", "--results", "out.json", "-rs")
    result.assert_outcomes(passed=N, skipped=N, deselected=1)
    checks = checks_of(inner.path / "out.json")
    assert set(checks) == forward_ids("mybert") | forward_ids("mybert", "seq_bn")
    for record in checks.values():
        if record["method"] == "lora":
            assert (record["outcome"], record["reason"]) == ("gap", GAP_REASON), record
        else:
            assert record["outcome"] == "passed", record
    result.stdout.fnmatch_lines(
        [
            "architectures: mybert",
            f"mybert*✅ {N}/{N}*gap*",
            f"mybert lora: declared gap: {GAP_REASON}",
            f"SKIPPED *declared gap of mybert: {GAP_REASON}",
        ]
    )
    payload = json.loads((inner.path / "out.json").read_text())
    assert payload["architectures"]["mybert"]["gaps"] == {"lora": GAP_REASON}


BROKEN_LORA_CONFTEST = """
import pytest


@pytest.fixture(autouse=True)
def lora_does_nothing(monkeypatch):
    # A broken implementation: every LoRA adapter it builds leaves its projection's output as it was.
    from reference_impl.methods import FAMILIES

    family = FAMILIES["lora"]
    build = family.build

    def broken_build(*args, **kwargs):
        adapter = build(*args, **kwargs)
        adapter.apply = lambda x, output, site: output
        return adapter

    monkeypatch.setattr(family, "build", broken_build)  # undone after each test
"""
OVERRIDES_FILE = """
import pytest

from conformance.checks import ForwardChecks


class TestOverrides(ForwardChecks):
    def test_identity_at_init(self, spec, method):
        pytest.skip("not today")

    @pytest.fixture
    def broken(self):
        raise RuntimeError("fixture broke")

    def test_inactive_adapter_changes_nothing(self, spec, method, broken):
        pass

    @pytest.fixture
    def fails_after(self):
        yield
        raise RuntimeError("teardown broke")

    def test_active_adapter_changes_output(self, spec, method, fails_after):
        pass
"""


def test_failures_errors_and_plain_skips_are_never_passes(inner):
    inner.makeconftest(BROKEN_LORA_CONFTEST)
    inner.makepyfile(test_overrides=OVERRIDES_FILE)
    result = inner.runpytest("--arch=bert", "--method=lora", "--results", "out.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    checks = checks_of(inner.path / "out.json")
    outcomes = {(nodeid.split("::")[1], c["check"]): (c["outcome"], c["reason"]) for nodeid, c in checks.items()}
    assert set(outcomes) == {(cls, check) for cls in ("TestForward", "TestOverrides") for check in FORWARD_CHECKS}
    expected = {
        # the unchanged mixin catches the broken implementation
        ("TestForward", "test_active_adapter_changes_output"): (
            "failed",
            "AssertionError: an active adapter with non-trivial weights did nothing",
        ),
        ("TestForward", "test_setup_context_equals_set_active"): (
            "failed",
            "AssertionError: two different adapters gave the same outputs",
        ),
        ("TestForward", "test_identity_at_init"): ("passed", ""),
        ("TestForward", "test_inactive_adapter_changes_nothing"): ("passed", ""),
        # a skip that is not a declared gap, a broken fixture, a failing teardown after a passing body
        ("TestOverrides", "test_identity_at_init"): ("skipped", "not today"),
        ("TestOverrides", "test_inactive_adapter_changes_nothing"): ("error", "RuntimeError: fixture broke"),
        ("TestOverrides", "test_active_adapter_changes_output"): ("error", "RuntimeError: teardown broke"),
        ("TestOverrides", "test_setup_context_equals_set_active"): (
            "failed",
            "AssertionError: two different adapters gave the same outputs",
        ),
    }
    assert {key: outcomes[key] for key in expected} == expected
    others = {key: value for key, value in outcomes.items() if key not in expected}
    assert all(outcome in ("passed", "failed") for outcome, _ in others.values()), others
    result.stdout.fnmatch_lines(
        [
            "bert*❌ *",
            "bert lora: failed test_checks.py::TestForward::test_active_adapter_changes_output[[]bert-lora[]]: *",
            "bert lora: skipped test_overrides.py::TestOverrides::test_identity_at_init[[]bert-lora[]]: not today",
        ]
    )


# ----- checks the expectations manifest says do not apply -----


def test_checks_that_do_not_apply_are_recorded_as_not_applicable_with_the_reason(inner):
    inner.makepyfile(
        test_checks="""
from conformance.checks import ForwardChecks


class TestForward(ForwardChecks):
    pass
"""
    )
    result = inner.runpytest("--arch=bert", "--method=lora,prefix_tuning", "--results", "out.json")
    assert result.ret == 0
    checks = checks_of(inner.path / "out.json")
    identity = {c["method"]: c for c in checks.values() if c["check"] == "test_identity_at_init"}
    assert identity["lora"]["outcome"] == "passed"
    assert identity["prefix_tuning"]["outcome"] == "n/a", "collected and recorded, neither a pass nor a failure"
    assert "no config starts as the identity" in identity["prefix_tuning"]["reason"]
    result.stdout.fnmatch_lines(["*passed*1 skipped*"])


ONCE_CHECKS_FILE = """
from conformance.checks.composition import UnsupportedBlockChecks


class TestUnsupportedBlocks(UnsupportedBlockChecks):
    pass
"""


@pytest.mark.parametrize(("arch", "recorded"), [("albert,gpt2", True), ("gpt2", False)])
def test_a_once_check_runs_on_the_first_selected_architecture_and_is_recorded_only_at_home(inner, arch, recorded):
    """Tier "once": a run without the home architecture (the first registered: albert) still runs the check, but does
    not record it, or merging that run into the committed results would count it at two architectures."""
    inner.makepyfile(test_checks=ONCE_CHECKS_FILE)
    result = inner.runpytest(f"--arch={arch}", "--method=direft", "-k", "test_split_refused", "--results", "out.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*1 passed*"])
    ran = "albert" if recorded else "gpt2"
    assert [c["arch"] for c in checks_of(inner.path / "out.json").values()] == ([ran] if recorded else [])


IMPLEMENTATION_GAP = "this implementation keeps LoRA out of the forward checks by design"
GAPPED_IMPLEMENTATION = f"""
from conformance.impls.reference import ReferenceImplementation


class Gapped(ReferenceImplementation):
    name = "gapped"
    gaps = {{"lora": {IMPLEMENTATION_GAP!r}, "TestForward::test_identity_at_init[seq_bn]": "only this one"}}


IMPLEMENTATION = Gapped()
"""


def test_implementation_gaps_are_skipped_and_recorded_as_gaps(inner, monkeypatch):
    from conformance import impl

    monkeypatch.setattr(impl, "_CURRENT", impl.current())  # the inner run's --impl is undone afterwards
    inner.makepyfile(gapped_impl=GAPPED_IMPLEMENTATION)
    inner.syspathinsert()
    result = inner.runpytest("--impl=gapped_impl", "--arch=bert", "--method=lora,seq_bn", "--results", "out.json")
    result.assert_outcomes(passed=N - 1, skipped=N + 1, deselected=1)
    checks = checks_of(inner.path / "out.json")
    prefix = "implementation gap of gapped: "
    for nodeid, record in checks.items():
        if record["method"] == "lora":
            assert (record["outcome"], record["reason"]) == ("gap", prefix + IMPLEMENTATION_GAP), record
        elif "test_identity_at_init" in nodeid:
            assert (record["outcome"], record["reason"]) == ("gap", prefix + "only this one"), record
        else:
            assert record["outcome"] == "passed", record


@pytest.mark.parametrize(
    ("gaps", "expected"),
    [
        ({}, None),
        ({"lora": "m"}, "m"),
        ({"lora_feature": "f"}, "f"),
        ({"test_x": "c", "lora": "m"}, "c"),
        ({"TestA::test_x[lora]": "one", "TestA::test_x": "all"}, "one"),
        ({"TestB::test_x": "other class"}, None),
        ({"test_x[dora]": "other method"}, None),
    ],
)
def test_implementation_gap_takes_the_most_specific_key(gaps, expected):
    from conformance.interface import implementation_gap

    assert implementation_gap(gaps, "lora_feature", "lora", "TestA::test_x") == expected


def test_an_implementation_gap_can_be_one_architectures():
    from conformance.interface import implementation_gap

    gaps = {"gpt2/prompt_tuning": "not on gpt2", "TestA::test_x": "everywhere"}
    assert implementation_gap(gaps, "prompt_tuning", "prompt_tuning", "TestB::test_y", "gpt2") == "not on gpt2"
    assert implementation_gap(gaps, "prompt_tuning", "prompt_tuning", "TestB::test_y", "bert") is None
    assert implementation_gap(gaps, "prompt_tuning", "prompt_tuning", "TestA::test_x", "gpt2") == "not on gpt2"
    assert implementation_gap(gaps, "lora", "lora", "TestA::test_x", "gpt2") == "everywhere"


RUN_TIME_GAP = "no fixed fusion temperature but 1.0, by design"
RUN_TIME_GAPPED_IMPLEMENTATION = f"""
from conformance.impls.reference import ReferenceImplementation


class RunTimeGapped(ReferenceImplementation):
    name = "runtime_gapped"
    gaps = {{"fixed_fusion_temperature": {RUN_TIME_GAP!r}}}


IMPLEMENTATION = RunTimeGapped()
"""


def test_a_run_time_gap_is_skipped_and_recorded_as_a_gap(inner, monkeypatch):
    """A gap a check's own parameter selects (the fusion temperature 3.0) is declared by a key the check asks for at
    run time: recorded as a gap with its reason; the other temperature still runs."""
    from conformance import impl

    monkeypatch.setattr(impl, "_CURRENT", impl.current())
    inner.makepyfile(
        runtime_gapped_impl=RUN_TIME_GAPPED_IMPLEMENTATION,
        test_fusion="from conformance.checks.composition import FusionChecks\n\n\nclass TestFusion(FusionChecks):\n"
        "    pass\n",
    )
    inner.syspathinsert()
    result = inner.runpytest(
        "test_fusion.py", "--impl=runtime_gapped_impl", "--arch=bert", "--method=seq_bn",
        "-k", "test_fusion_matches_oracle", "--results", "out.json",
    )  # fmt: skip
    result.assert_outcomes(passed=1, skipped=1, deselected=result.parseoutcomes()["deselected"])
    records = {nodeid.rsplit("-", 1)[-1]: record for nodeid, record in checks_of(inner.path / "out.json").items()}
    assert records["1.0]"]["outcome"] == "passed", records
    assert (records["3.0]"]["outcome"], records["3.0]"]["reason"]) == (
        "gap",
        "implementation gap of runtime_gapped: " + RUN_TIME_GAP,
    ), records
