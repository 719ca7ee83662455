"""Self-tests of the HTML page of the matrix: parsed with html.parser and checked cell by cell against the results."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from test_reports import check, dump, results_dict, run_cli

from architectures.features import FEATURES
from reports.cells import FAILED, GAP, NOT_RUN, PASSED
from reports.html import render_html
from reports.matrix import build_matrix
from reports.results import load_results


class Page(HTMLParser):
    """The parts of the page the tests look at: sections, cells, stripes, tabs, scripts, outside references."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.sections: dict[str, list[dict[str, str]]] = {}
        self.stripes: dict[str, list[dict[str, str]]] = {}
        self.tabs: list[str] = []
        self.scripts: dict[str, str] = {}
        self.references: list[str] = []
        self._section: str | None = None
        self._cell: dict[str, str] | None = None
        self._script: str | None = None
        self._open: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.references += [a[k] for k in ("src", "href") if k in a]
        if tag == "section":
            self._section = a["data-version"]
            self.sections[self._section] = []
            self.stripes[self._section] = []
        elif tag == "td" and "cell" in a.get("class", "").split():
            self._cell = {**a, "text": ""}
            self.sections[self._section].append(self._cell)
        elif tag == "span" and self._cell is not None and "data-version" in a:
            self.stripes[self._section].append(
                {**a, "arch": self._cell["data-arch"], "feature": self._cell["data-feature"]}
            )
        elif tag == "button" and a.get("role") == "tab":
            self.tabs.append(a["data-tab"])
        elif tag == "script":
            self._script = a.get("id", "code")
            self.scripts[self._script] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        elif tag == "section":
            self._section = None
        elif tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data
        if self._script is not None:
            self.scripts[self._script] += data


def two_versions(tmp_path: Path) -> dict:
    old = results_dict(
        [
            check("bert", "bottleneck", "a", "passed"),
            check("bert", "lora", "a", "failed", "max diff 0.3 > 1e-5 </script><b>"),
            check("bert", "lora", "b", "passed"),
            check("gpt2", "lora", "a", "gap", "Conv1D fuses q/k/v"),
        ],
        gaps={"gpt2": {"lora": "Conv1D fuses q/k/v"}},
        transformers="4.57.6",
    )
    new = results_dict(
        [
            check("bert", "bottleneck", "a", "passed"),
            check("bert", "lora", "a", "passed"),
            check("bert", "lora", "b", "passed"),
            check("gpt2", "lora", "a", "gap", "Conv1D fuses q/k/v"),
            check("vit", "bottleneck", "a", "skipped", "no reason given"),
        ],
        gaps={"gpt2": {"lora": "Conv1D fuses q/k/v"}},
    )
    files = [load_results(dump(tmp_path / name, d)) for name, d in (("old.json", old), ("new.json", new))]
    return build_matrix(files)


def test_every_version_tab_has_one_cell_per_architecture_and_feature_with_its_status(tmp_path: Path) -> None:
    matrix = two_versions(tmp_path)
    page = Page(render_html(matrix))
    archs = [a["name"] for a in matrix["architectures"]]
    assert archs == ["bert", "gpt2", "vit"]
    assert list(page.sections) == ["all", "4.57.6", "5.24.0"]
    assert page.tabs == ["tab-all", "tab-v4-57-6", "tab-v5-24-0"]
    for version in ("4.57.6", "5.24.0"):
        cells = page.sections[version]
        assert len(cells) == len(archs) * len(FEATURES)
        expected = {
            (a["name"], f.name): a["cells"][f.name].get(version, {"status": NOT_RUN})["status"]
            for a in matrix["architectures"]
            for f in FEATURES
        }
        assert {(c["data-arch"], c["data-feature"]): c["data-status"] for c in cells} == expected
        assert {c["data-version"] for c in cells} == {version}
    statuses = {
        (c["data-arch"], c["data-feature"], v): c["data-status"]
        for v in ("4.57.6", "5.24.0")
        for c in page.sections[v]
    }
    assert statuses["bert", "lora", "4.57.6"] == FAILED
    assert statuses["bert", "lora", "5.24.0"] == PASSED
    assert statuses["gpt2", "lora", "5.24.0"] == GAP
    assert statuses["vit", "bottleneck", "5.24.0"] == FAILED  # a skip without a declared gap is a failure
    assert statuses["vit", "bottleneck", "4.57.6"] == NOT_RUN  # vit was not tested on 4.57.6
    # The overview: one cell per (architecture, feature), one stripe per version inside it.
    assert len(page.sections["all"]) == len(archs) * len(FEATURES)
    assert len(page.stripes["all"]) == len(archs) * len(FEATURES) * 2
    lora = [s["class"] for s in page.stripes["all"] if (s["arch"], s["feature"]) == ("bert", "lora")]
    assert lora == [FAILED, PASSED]


def test_cells_explain_themselves_on_hover(tmp_path: Path) -> None:
    page = Page(render_html(two_versions(tmp_path)))
    cells = {(c["data-arch"], c["data-feature"], c["data-version"]): c for v in page.sections.values() for c in v}
    failing = cells["bert", "lora", "4.57.6"]
    assert failing["text"] == "✗1"  # checks not passing
    assert cells["bert", "lora", "5.24.0"]["text"] == "✓2"  # checks passed
    assert "failed, 1 of 2 checks passed" in failing["title"]
    assert "max diff 0.3 > 1e-5 </script><b>" in failing["title"]  # the reason, unescaped by the parser
    gap = cells["gpt2", "lora", "5.24.0"]
    assert gap["text"] == "gap"
    assert gap["title"].endswith("declared gap: Conv1D fuses q/k/v")
    overview = cells["bert", "lora", "all"]
    assert "on transformers 4.57.6: failed" in overview["title"]
    assert "on transformers 5.24.0: passed" in overview["title"]


def test_page_is_self_contained_and_carries_the_matrix(tmp_path: Path) -> None:
    matrix = two_versions(tmp_path)
    text = render_html(matrix)
    page = Page(text)
    assert page.references == []  # no src= or href=: nothing is fetched
    assert "http" not in text.replace("http-equiv", "")
    # The data the click handler reads is the matrix itself, and a reason cannot close the script element.
    assert json.loads(page.scripts["matrix-data"]) == matrix
    assert text.count("</script>") == 2
    assert render_html(matrix) == text  # deterministic


def test_cli_matrix_writes_the_page(tmp_path: Path) -> None:
    dump(
        tmp_path / "results" / "tf457" / "results.json",
        results_dict([check("bert", "lora", "a", "passed")], transformers="4.57.6"),
    )
    dump(tmp_path / "results" / "tflatest" / "results.json", results_dict([check("bert", "lora", "a", "failed")]))
    result = run_cli(tmp_path, "matrix", "results/tf457", "results/tflatest")
    assert result.returncode == 0, result.stderr
    page = Page((tmp_path / "results" / "matrix" / "index.html").read_text(encoding="utf-8"))
    lora = {v: [c for c in cells if c["data-feature"] == "lora"] for v, cells in page.sections.items() if v != "all"}
    assert {v: [c["data-status"] for c in cells] for v, cells in lora.items()} == {
        "4.57.6": [PASSED],
        "5.24.0": [FAILED],
    }
