"""The pytest plugin (entry point ``pytest11``): selection options, parametrization over the registry, records,
the results file and the terminal grid. Import-light: torch and transformers load only when checks are collected."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest


SELECTION = pytest.StashKey["Any"]()
RECORDER = pytest.StashKey["Any"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "Adapter conformance certification")
    group.addoption(
        "--arch",
        action="append",
        default=[],
        metavar="NAME",
        help="Architectures to certify: a model_type, a comma list, 'all' (default), or a spec module (mypkg.my_arch)",
    )
    group.addoption(
        "--method", action="append", default=[], metavar="NAME", help="Adapter methods to check (default: all)"
    )
    group.addoption(
        "--feature", action="append", default=[], metavar="NAME", help="Matrix features to check (default: all)"
    )
    group.addoption("--results", default=None, metavar="PATH", help="Write the conformance results (JSON) to PATH")
    group.addoption(
        "--impl",
        default="reference",
        metavar="NAME",
        help="The implementation under test: reference (default), adapters (AdapterHub), or a module path (mypkg.impl)",
    )
    from .probe_gaps import add_option as add_probe_gaps_option
    from .threads import add_option as add_threads_option

    add_threads_option(group)
    add_probe_gaps_option(group)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    from .distribution import group_by_architecture

    group_by_architecture(config)  # before xdist turns "-n N" into its default distribution


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "arch(name): the architecture a conformance check certifies")
    config.addinivalue_line("markers", "method(name): the adapter method a conformance check exercises")
    config.addinivalue_line("markers", "feature(name): the support-matrix feature a conformance check counts towards")
    config.addinivalue_line("markers", "conformance_gap(reason): a declared gap of the architecture; skipped")
    config.addinivalue_line("markers", "conformance_requires(*capabilities): applies only where they hold")
    config.addinivalue_line("markers", "conformance_not_applicable(reason): the manifest says it does not apply")
    config.addinivalue_line("markers", "conformance_once: does not depend on the architecture; runs on one (tiers)")
    config.addinivalue_line("markers", "conformance_off_table: a tier-once check away from its home; not recorded")
    # registered by xdist too; here so that --strict-markers holds under -p no:xdist
    config.addinivalue_line("markers", "xdist_group(name): the checks of one architecture and feature share a worker")
    # Certification is offline: nothing may come from the Hub, even where a cache would allow it.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from .threads import limit_threads

    limit_threads(config)
    _use_implementation(config)
    if _wants_selection(config):
        _selection(config)  # bad names fail now, with a UsageError, not at collection
    if not hasattr(config, "workerinput"):
        from .output import results_path_problem
        from .recording import Recorder

        results = config.getoption("results")
        problem = results and results_path_problem(results)
        if problem:
            raise pytest.UsageError(f"--results={results}: {problem}")

        # The controller alone records; under xdist it sees every worker's reports.
        config.stash[RECORDER] = Recorder(config.rootpath)
        config.pluginmanager.register(config.stash[RECORDER], "conformance-recorder")
    if config.getoption("probe_gaps"):
        from .probe_gaps import GapProbe

        config.pluginmanager.register(GapProbe(), "conformance-probe-gaps")
    from . import isolation

    config.pluginmanager.register(isolation, "conformance-isolation")
    from .completeness import Completeness

    config.pluginmanager.register(Completeness(config, config.stash.get(RECORDER, None)), "conformance-completeness")


def _use_implementation(config: pytest.Config) -> None:
    from . import impl
    from .implementations import ImplementationError, load

    try:
        impl.use(load(config.getoption("impl")))
    except ImplementationError as err:
        raise pytest.UsageError(str(err)) from None


def pytest_sessionstart(session: pytest.Session) -> None:
    from .progress import start_live_status

    start_live_status(session)  # a one-line status on a terminal; plain output otherwise


def _wants_selection(config: pytest.Config) -> bool:
    return bool(config.getoption("arch") or config.getoption("method") or config.getoption("feature"))


def _selection(config: pytest.Config) -> Any:
    if SELECTION not in config.stash:
        from .selection import resolve

        config.stash[SELECTION] = resolve(
            config.getoption("arch"), config.getoption("method"), config.getoption("feature")
        )
    return config.stash[SELECTION]


def pytest_report_header(config: pytest.Config) -> list[str]:
    from architectures.versions import installed

    lines = [
        f"adapter-conformance: transformers {installed('transformers')}, torch {installed('torch')}, "
        f"impl {_implementation_name()}"
    ]
    from .threads import header_line

    lines.append(header_line(config))
    if _wants_selection(config):
        selection = _selection(config)
        lines.append(f"architectures: {', '.join(s.name for s in selection.specs)}")
        lines.append(f"methods: {', '.join(m.name for m in selection.methods)}")
    return lines


def _implementation_name() -> str:
    from . import impl

    return impl.current().name


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "spec" not in metafunc.fixturenames:
        return
    from .capabilities import MARKER, not_applicable

    selection = _selection(metafunc.config)
    check = _check_name(metafunc)
    own_spec = getattr(metafunc.cls, "spec", None)
    specs = [own_spec] if own_spec is not None else list(selection.specs)
    capabilities = tuple(c for mark in metafunc.definition.iter_markers(MARKER) for c in mark.args)
    check = _check_name(metafunc)
    if "method" not in metafunc.fixturenames:
        feature = metafunc.definition.get_closest_marker("feature").args[0]
        if not selection.wants_feature(feature):
            specs = []
        if "head" in metafunc.fixturenames or "static_class" in metafunc.fixturenames:
            from .heads import parametrize_heads

            parametrize_heads(metafunc, specs, feature, capabilities, functools.partial(_marks, check=check))
            return
        params = [
            pytest.param(
                spec, id=spec.name, marks=_marks(spec, feature, None, not_applicable(capabilities, spec, None), check)
            )
            for spec in specs
        ]
        metafunc.parametrize("spec", params)
        return
    # A check class may count towards another feature than its method's (composition blocks do).
    own_feature = metafunc.definition.get_closest_marker("feature")
    once = own_spec is None and metafunc.definition.get_closest_marker("conformance_once") is not None
    features = {method.name: own_feature.args[0] if own_feature else method.feature for method in selection.methods}
    methods = [m for m in selection.methods if selection.wants_method_check(features[m.name])]
    # tier "once": each method's check runs on one architecture only
    chosen = {m.name: _first_able(specs, features[m.name], m) for m in methods} if once and specs else {}
    params = []
    for spec in specs:
        for method in methods:
            feature = features[method.name]
            if once and spec is not chosen[method.name]:
                continue
            marks = _marks(spec, feature, method.name, not_applicable(capabilities, spec, method), check)
            if once and spec.name != _home(feature, method.name):
                marks.append(_mark("conformance_off_table", spec.name, keyword=False))
            params.append(pytest.param(spec, method, id=f"{spec.name}-{method.name}", marks=marks))
    metafunc.parametrize(("spec", "method"), params)


def _can_run(spec: Any, feature: str, method: str) -> bool:
    return spec.applicable and not spec.gap_reason(feature, method)


def _first_able(specs: list[Any], feature: str, method: Any) -> Any:
    """Tier "once" (README, Tiers): the first selected architecture that can run the check: installed, no gap."""
    return next((s for s in specs if _can_run(s, feature, method.name)), specs[0])


@functools.cache
def _home(feature: str, method: str) -> str | None:
    """Where a whole run puts a tier-"once" check: the first registered architecture that can run it. A run that
    selects others still runs the check, on its first, but leaves it out of the results, so that merging that run
    into the committed results does not count the check twice (there and at home)."""
    from architectures import registry

    # spec modules are imported one by one, up to the first that can run it: importing them all costs seconds
    specs = (registry.load_builtin_module(name) for name in registry.builtin_names())
    return next((s.name for s in specs if _can_run(s, feature, method)), None)


def _check_name(metafunc: pytest.Metafunc) -> str:
    """``"TestLifecycle::test_add"``: how implementation gaps name a check."""
    name = metafunc.function.__name__
    return f"{metafunc.cls.__name__}::{name}" if metafunc.cls is not None else name


@functools.cache
def _mark(kind: str, value: str, keyword: bool = True) -> pytest.MarkDecorator:
    """One decorator per (kind, value), shared by every item: building marks is most of collecting 30,000 items."""
    # The name as keyword too, so that -m "arch(name='gpt2')" selects (-m matches keyword arguments only).
    return getattr(pytest.mark, kind)(value, name=value) if keyword else getattr(pytest.mark, kind)(value)


def _marks(
    spec: Any, feature: str, method: str | None, not_applicable: str | None = None, check: str | None = None
) -> list[pytest.MarkDecorator]:
    # one group per architecture and feature: units small enough for xdist to balance (distribution.py)
    group = _mark("xdist_group", f"{spec.name}:{feature}", keyword=False)
    marks = [_mark("arch", spec.name), _mark("feature", feature), group]
    if method is not None:
        marks.append(_mark("method", method))
    # an architecture the installed transformers does not have is not applicable here: recorded, never a failure
    not_applicable = not_applicable or spec.not_applicable_reason() or None
    if not_applicable is not None:
        # The manifest says the check does not apply: recorded as "n/a" with the reason, never silently absent.
        return marks + list(_not_applicable_marks(not_applicable))
    reason = spec.gap_reason(feature, method)
    if reason:
        marks += [
            pytest.mark.conformance_gap(reason),
            pytest.mark.skip(reason=f"declared gap of {spec.name}: {reason}"),
        ]
    else:
        marks += _implementation_gap_marks(feature, method, check, spec)
    return marks


@functools.cache
def _not_applicable_marks(reason: str) -> tuple[pytest.MarkDecorator, ...]:
    return pytest.mark.conformance_not_applicable(reason), pytest.mark.skip(reason=f"not applicable: {reason}")


def _implementation_gap_marks(
    feature: str, method: str | None, check: str | None, spec: Any
) -> list[pytest.MarkDecorator]:
    """A declared gap of the implementation under test (``Implementation.gaps``): skipped and recorded as a gap,
    its reason prefixed with the implementation's name, as an architecture's gap is."""
    from . import impl
    from .interface import implementation_gap

    implementation = impl.current()
    reason = implementation_gap(implementation.gaps_on(spec), feature, method, check, spec.name)
    if reason is None:
        return []
    reason = f"implementation gap of {implementation.name}: {reason}"
    return [pytest.mark.conformance_gap(reason), pytest.mark.skip(reason=reason)]


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    """With an explicit ``--arch`` only conformance checks run: this repository's self-tests (``tests/``) are not even
    imported (they would load every architecture to be deselected)."""
    # testpaths names tests/ itself, and pytest does not ask about the folders it was given: ask about their files
    if _SELF_TESTS in (collection_path, collection_path.parent) and _wants_selection(config):
        return True if _selection(config).explicit_arch else None
    return None


_SELF_TESTS = Path(__file__).resolve().parent.parent / "tests"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    explicit = _wants_selection(config) and _selection(config).explicit_arch
    keep, drop = [], []
    for item in items:
        wants_spec = "spec" in getattr(item, "fixturenames", ())
        # an empty parameter set still yields one item, whose spec is a placeholder (an enum member: it has a name)
        has_spec = hasattr(getattr(item, "callspec", None) and item.callspec.params.get("spec"), "layouts")
        # Checks whose parameter set came out empty, and (with an explicit --arch) everything but checks, go.
        if (wants_spec and not has_spec) or (explicit and not has_spec):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    from .distribution import heavy_first

    heavy_first(config, items)


@pytest.fixture
def check_seed(request: pytest.FixtureRequest) -> int:
    """A seed that is stable for this check id and differs between checks."""
    from .models import check_id, seed_for

    return seed_for(check_id(request.node.nodeid))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    from .recording import PROPERTY, record_fields

    fields = record_fields(item)
    if fields is not None:
        report.user_properties.append((PROPERTY, fields))
    return report


WRITE_ERROR = pytest.StashKey[str]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if RECORDER not in config.stash or not config.getoption("results"):
        return
    try:
        write_results(config, config.getoption("results"))
    except (OSError, ValueError) as err:
        # Said after the grid (the terminal summary comes later); the exit status says the run did not complete.
        config.stash[WRITE_ERROR] = f"could not write the results to {config.getoption('results')}: {err}"
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def _results_payload(config: pytest.Config) -> dict[str, Any]:
    from .environment import environment
    from .provenance import spec_provenance

    selection = _selection(config)
    selected = {s.name for s in selection.specs}
    # checks of a class's own spec (a self-test's bert_wide) certify no registered architecture: not recorded
    checks = [c for c in config.stash[RECORDER].checks() if c["arch"] in selected]
    archs = {c["arch"] for c in checks}
    return {
        "environment": environment(_implementation_name()),
        "selection": {"arches": [s.name for s in selection.specs], "methods": [m.name for m in selection.methods]},
        "architectures": {
            s.name: {"modality": str(s.modality), "gaps": dict(s.gaps), "provenance": spec_provenance(s)}
            for s in selection.specs
            if s.name in archs
        },
        "checks": checks,
    }


def write_results(config: pytest.Config, path: str) -> None:
    from reports.results import write_results as write

    write(path, **_results_payload(config))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if RECORDER not in config.stash or not config.stash[RECORDER].records:
        return
    from .grid import render_grid

    terminalreporter.section("adapter conformance")
    for line in render_grid(_results_payload(config), width=config.get_terminal_writer().fullwidth - 1):
        terminalreporter.write_line(line)
    path = config.getoption("results")
    if WRITE_ERROR in config.stash:
        terminalreporter.write_line(config.stash[WRITE_ERROR], red=True, bold=True)
    elif path:
        terminalreporter.write_line(f"results written to {path}")
