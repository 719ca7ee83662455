"""Self-tests of what a newcomer meets first (issue 15): thread limit, --results checked up front, the grid's width,
spec files and modules from the current folder, names in any case, --feature selecting exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import test_plugin
from test_plugin import CHECKS_FILE, collected, forward_ids

from conformance.grid import display_width, render_grid


# The inner-session fixtures of the plugin's self-tests.
inner = test_plugin.inner
preloaded = test_plugin.preloaded


# ----- threads -----

THREADS_FILE = """
import os

import torch


def test_threads():
    print("threads:", torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS"))
"""


@pytest.fixture
def torch_threads(monkeypatch):
    """In-process inner runs set the threads of this process: put them back."""
    import torch

    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("environment", "args", "threads"),
    [(None, (), 1), (None, ("--torch-threads=3",), 3), ("3", (), 3)],
    ids=["default-one", "option", "user-environment-kept"],
)
def test_torch_runs_on_one_thread_unless_told_otherwise(inner, torch_threads, monkeypatch, environment, args, threads):
    import torch

    torch.set_num_threads(2)  # as on a 2-core machine: what a plain run had before
    if environment:
        monkeypatch.setenv("OMP_NUM_THREADS", environment)
        torch.set_num_threads(int(environment))  # the user's variable was read when torch was imported
    inner.makepyfile(test_threads=THREADS_FILE)
    result = inner.runpytest("test_threads.py", "-s", *args)
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"torch threads: {threads}*", f"*threads: {threads} {threads}"])


def test_torch_threads_is_documented_in_help(inner):
    result = inner.runpytest("--help")
    text = " ".join(result.stdout.str().split())
    assert "--torch-threads=N Intra-op threads of torch (default: 1, or OMP_NUM_THREADS when it is set" in text


def test_torch_threads_must_be_positive(inner, torch_threads):
    result = inner.runpytest("--torch-threads=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--torch-threads=0: give a positive number of threads" in "\n".join(result.errlines)


# ----- --results -----


@pytest.mark.parametrize(
    ("make", "path", "message"),
    [
        (lambda root: (root / "out").mkdir(), "out", "is a directory; give a file path"),
        (lambda root: (root / "file").write_text(""), "file/sub/out.json", "is a file, not a folder"),
    ],
    ids=["directory", "under-a-file"],
)
def test_a_results_path_that_cannot_be_written_is_a_usage_error_at_start(inner, make, path, message):
    make(inner.path)
    result = inner.runpytest("--arch=bert", "--method=lora", f"--results={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--results={path}: " in "\n".join(result.errlines)
    assert message in "\n".join(result.errlines)
    assert not collected(result) and "passed" not in result.stdout.str()


def test_results_missing_folders_are_created(inner):
    result = inner.runpytest("--arch=bert", "--method=lora", "-k", "identity", "--results=a/b/out.json")
    assert result.ret == 0
    assert (inner.path / "a" / "b" / "out.json").is_file()


def test_a_results_file_that_fails_at_the_end_keeps_the_grid_and_says_so(inner):
    # The path is fine at start-up; a check then puts a folder where the file goes.
    inner.makeconftest(
        """
        import os

        import pytest


        @pytest.fixture(autouse=True)
        def occupy():
            os.makedirs("out.json", exist_ok=True)
        """
    )
    result = inner.runpytest("--arch=bert", "--method=lora", "-k", "identity", "--results=out.json")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR, "not 'checks failed': every check passed"
    result.stdout.fnmatch_lines(
        ["*= adapter conformance =*", "bert*✅ 1/1*", "could not write the results to out.json: *"]
    )
    assert "Traceback" not in result.stdout.str()


# ----- the grid -----


def _payload(arches: list[str], features: list[str], outcome: str = "passed") -> dict:
    from test_reports import check, env

    checks = [check(a, f, "test_x", outcome, "boom" if outcome == "failed" else "") for a in arches for f in features]
    return {
        "environment": env(),
        "selection": {"arches": arches, "methods": []},
        "architectures": {a: {"modality": "text_encoder", "gaps": {}} for a in arches},
        "checks": checks,
    }


def test_display_width_counts_emoji_as_two_columns():
    assert display_width("✅ 3/3") == 6
    assert display_width("❌") == 2
    assert display_width("–") == 1
    assert display_width("gap") == 3


def test_the_grid_is_aligned_by_display_width_and_fits_100_columns():
    from architectures.features import FEATURE_NAMES

    payload = _payload(["bert", "deberta"], list(FEATURE_NAMES))
    payload["checks"][0]["outcome"] = "failed"  # one ❌ among the ✅
    payload["architectures"]["deberta"]["gaps"] = {"prefix_tuning": "declared gap here"}
    payload["checks"] = [
        c for c in payload["checks"] if not (c["arch"] == "deberta" and c["feature"] == "prefix_tuning")
    ]
    lines = render_grid(payload, width=100)
    table = [line for line in lines if not line.startswith(("bert ", "deberta ")) or "  " in line]
    table = [line for line in table if ":" not in line]
    assert max(display_width(line) for line in table) <= 100
    blocks = "\n".join(table).split("\n\n")
    assert len(blocks) > 1, "18 features do not fit 100 columns in one block"
    seen = []
    for block in blocks:
        header, *rows = block.splitlines()
        assert header.startswith("architecture")
        assert [row.split()[0] for row in rows] == ["bert", "deberta"]
        names = header.split()[1:]
        seen += names
        for name in names:  # every cell starts in the column of its header
            column = display_width(header[: header.index(name)])
            for row in rows:
                prefix = _prefix_of_width(row, column)
                assert prefix.endswith("  ") and row[len(prefix)] != " ", (name, row)
    assert seen == list(FEATURE_NAMES)


def _prefix_of_width(text: str, width: int) -> str:
    for end in range(len(text) + 1):
        if display_width(text[:end]) >= width:
            return text[:end]
    return text


def test_a_narrow_grid_stays_one_block():
    lines = render_grid(_payload(["bert"], ["lora", "bottleneck"]), width=100)
    assert lines == ["architecture  bottleneck  lora", "bert          ✅ 1/1      ✅ 1/1"]


# ----- out-of-tree specs -----

SPEC_FILE = """
from dataclasses import replace

from architectures import register
from architectures.bert import SPEC as BERT

SPEC = register(replace(BERT, name="filebert"), module=__name__)
"""


def test_a_spec_file_path_is_an_architecture(inner):
    inner.makepyfile(my_spec=SPEC_FILE)
    result = inner.runpytest("--arch=./my_spec.py", "--method=lora", "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str()
    assert set(collected(result)) == forward_ids("filebert")


def test_a_spec_module_is_found_from_the_current_folder(inner, monkeypatch):
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(inner.path))])
    inner.mkpydir("mypkg")
    inner.makepyfile(**{"mypkg/my_arch": SPEC_FILE})
    result = inner.runpytest("--arch=mypkg.my_arch", "--method=lora", "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str() + "\n".join(result.errlines)
    assert set(collected(result)) == forward_ids("filebert")


def test_a_missing_spec_file_is_a_usage_error(inner):
    result = inner.runpytest("--arch=./nope.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--arch=./nope.py: cannot load architecture file './nope.py': no such Python file" in "\n".join(
        result.errlines
    )


@pytest.fixture
def ernie_modeling() -> None:
    """Import ERNIE's modeling module before pytester snapshots sys.modules (so, before ``inner``): the snapshot's
    restore would drop it, and transformers 5.0 reads sys.modules[cls.__module__] when a later test builds ErnieModel."""
    import transformers.models.ernie.modeling_ernie  # noqa: F401


def test_the_shipped_example_spec_certifies(ernie_modeling, inner, capsys):
    """The README's copyable spec (adapter-conformance example), as printed, registers and passes checks."""
    from conformance import cli

    assert cli.main(["example"]) == 0
    (inner.path / "my_arch.py").write_text(capsys.readouterr().out, encoding="utf-8")
    result = inner.runpytest("--arch=./my_arch.py", "--method=lora", "-k", "identity or output")
    result.assert_outcomes(passed=2, deselected=len(forward_ids("x")) - 1)
    result.stdout.fnmatch_lines(["architectures: ernie", "ernie*✅ 2/2*"])


# ----- names in any case, --feature exactly -----

BLOCKS_FILE = CHECKS_FILE.replace(
    "from conformance.checks import ForwardChecks",
    "from conformance.checks import ForwardChecks\nfrom conformance.checks.composition import "
    "ParallelChecks, SplitChecks, StackChecks\n\n\nclass TestStack(StackChecks):\n    pass\n\n\n"
    "class TestSplit(SplitChecks):\n    pass\n\n\nclass TestParallel(ParallelChecks):\n    pass\n",
)


def test_method_and_feature_names_are_matched_in_any_case(inner):
    result = inner.runpytest("--arch=BERT", "--method=LoRA", "--feature=LORA", "--collect-only", "-q")
    assert result.ret == 0, "\n".join(result.errlines)
    assert set(collected(result)) == forward_ids("bert")


def test_feature_list_selects_exactly_those_features(inner):
    inner.makepyfile(test_checks=BLOCKS_FILE)
    result = inner.runpytest("--arch=bert", "--feature=lora,split", "--collect-only", "-q")
    ids = collected(result)
    assert set(forward_ids("bert")) <= set(ids)
    classes = {nodeid.split("::")[1] for nodeid in ids}
    assert classes == {"TestForward", "TestSplit"}, "stack and parallel were not asked for"
    split_methods = {nodeid.split("[bert-")[1].rstrip("]") for nodeid in ids if "::TestSplit::" in nodeid}
    assert {"lora", "seq_bn"} <= split_methods, "Split is checked with every method that takes part in it"
    forward_methods = {nodeid.split("[bert-")[1].rstrip("]") for nodeid in ids if "::TestForward::" in nodeid}
    assert forward_methods == {"lora"}


# ----- what the results record for certificates -----


def test_results_record_where_each_spec_came_from_and_whether_the_tree_was_dirty(inner):
    import hashlib
    import json

    import architectures.bert

    inner.makepyfile(my_spec=SPEC_FILE)
    result = inner.runpytest("--arch=bert,./my_spec.py", "--method=lora", "-k", "identity", "--results=out.json")
    assert result.ret == 0
    data = json.loads((inner.path / "out.json").read_text(encoding="utf-8"))
    assert isinstance(data["environment"]["dirty"], bool)
    bert = data["architectures"]["bert"]["provenance"]
    assert bert["module"] == "architectures.bert"
    assert bert["source_sha256"] == hashlib.sha256(Path(architectures.bert.__file__).read_bytes()).hexdigest()
    assert bert["layout"]["name"] == "bert" and bert["layout"]["stacks"][0]["path"] == "encoder.layer"
    mine = data["architectures"]["filebert"]["provenance"]
    assert mine["module"] == "my_spec" and mine["source"] == "my_spec.py"
    assert mine["source_sha256"] == hashlib.sha256((inner.path / "my_spec.py").read_bytes()).hexdigest()
    assert mine["layout"]["name"] == "bert"
