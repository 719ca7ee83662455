"""The pytest plugin (entry point ``pytest11``): selection options, parametrization over the registry, records,
the results file and the terminal grid. Import-light: torch and transformers load only when checks are collected."""

from __future__ import annotations

import functools
import os
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "arch(name): the architecture a conformance check certifies")
    config.addinivalue_line("markers", "method(name): the adapter method a conformance check exercises")
    config.addinivalue_line("markers", "feature(name): the support-matrix feature a conformance check counts towards")
    config.addinivalue_line("markers", "conformance_gap(reason): a declared gap of the architecture; skipped")
    config.addinivalue_line("markers", "conformance_requires(*capabilities): collect only where they hold")
    # Certification is offline: nothing may come from the Hub, even where a cache would allow it.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    if hasattr(config, "workerinput"):
        # Tiny models gain nothing from intra-op threads; xdist workers fighting over the cores lose a lot.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    _use_implementation(config)
    if _wants_selection(config):
        _selection(config)  # bad names fail now, with a UsageError, not at collection
    if not hasattr(config, "workerinput"):
        from .recording import Recorder

        # The controller alone records; under xdist it sees every worker's reports.
        config.stash[RECORDER] = Recorder()
        config.pluginmanager.register(config.stash[RECORDER], "conformance-recorder")


def _use_implementation(config: pytest.Config) -> None:
    from . import impl
    from .implementations import ImplementationError, load

    try:
        impl.use(load(config.getoption("impl")))
    except ImplementationError as err:
        raise pytest.UsageError(str(err)) from None


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
    from .capabilities import MARKER, applies

    selection = _selection(metafunc.config)
    check = _check_name(metafunc)
    own_spec = getattr(metafunc.cls, "spec", None)
    specs = [own_spec] if own_spec is not None else list(selection.specs)
    capabilities = tuple(c for mark in metafunc.definition.iter_markers(MARKER) for c in mark.args)
    if "method" not in metafunc.fixturenames:
        feature = metafunc.definition.get_closest_marker("feature").args[0]
        if not selection.wants_feature(feature):
            specs = []
        if "head" in metafunc.fixturenames or "static_class" in metafunc.fixturenames:
            from .heads import parametrize_heads

            parametrize_heads(metafunc, specs, feature, capabilities, functools.partial(_marks, check=check))
            return
        params = [
            pytest.param(spec, id=spec.name, marks=_marks(spec, feature, None, check))
            for spec in specs
            if applies(capabilities, spec, None)
        ]
        metafunc.parametrize("spec", params)
        return
    # A check class may count towards another feature than its method's (composition blocks do).
    own_feature = metafunc.definition.get_closest_marker("feature")
    params = [
        pytest.param(
            spec,
            method,
            id=f"{spec.name}-{method.name}",
            marks=_marks(spec, own_feature.args[0] if own_feature else method.feature, method.name, check),
        )
        for spec in specs
        for method in selection.methods
        if applies(capabilities, spec, method)
    ]
    metafunc.parametrize(("spec", "method"), params)


def _check_name(metafunc: pytest.Metafunc) -> str:
    """``"TestLifecycle::test_add"``: how implementation gaps name a check."""
    name = metafunc.function.__name__
    return f"{metafunc.cls.__name__}::{name}" if metafunc.cls is not None else name


def _marks(spec: Any, feature: str, method: str | None, check: str | None = None) -> list[pytest.MarkDecorator]:
    # The name as keyword too, so that -m "arch(name='gpt2')" selects (-m matches keyword arguments only).
    marks = [
        pytest.mark.arch(spec.name, name=spec.name),
        pytest.mark.feature(feature, name=feature),
        pytest.mark.xdist_group(spec.name),
    ]
    if method is not None:
        marks.append(pytest.mark.method(method, name=method))
    reason = spec.gap_reason(feature, method)
    if reason:
        marks += [
            pytest.mark.conformance_gap(reason),
            pytest.mark.skip(reason=f"declared gap of {spec.name}: {reason}"),
        ]
    else:
        marks += _implementation_gap_marks(feature, method, check)
    return marks


def _implementation_gap_marks(feature: str, method: str | None, check: str | None) -> list[pytest.MarkDecorator]:
    """A declared gap of the implementation under test (``Implementation.gaps``): skipped and recorded as a gap,
    its reason prefixed with the implementation's name, as an architecture's gap is."""
    from . import impl
    from .interface import implementation_gap

    implementation = impl.current()
    reason = implementation_gap(implementation.gaps, feature, method, check)
    if reason is None:
        return []
    reason = f"implementation gap of {implementation.name}: {reason}"
    return [pytest.mark.conformance_gap(reason), pytest.mark.skip(reason=reason)]


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


@pytest.fixture
def check_seed(request: pytest.FixtureRequest) -> int:
    """A seed that is stable for this check id and differs between checks."""
    from .models import seed_for

    return seed_for(request.node.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    from .recording import PROPERTY, record_fields

    fields = record_fields(item)
    if fields is not None:
        report.user_properties.append((PROPERTY, fields))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if RECORDER not in config.stash or not config.getoption("results"):
        return
    write_results(config, config.getoption("results"))


def _results_payload(config: pytest.Config) -> dict[str, Any]:
    from .environment import environment

    checks = config.stash[RECORDER].checks()
    selection = _selection(config)
    archs = {c["arch"] for c in checks}
    return {
        "environment": environment(_implementation_name()),
        "selection": {"arches": [s.name for s in selection.specs], "methods": [m.name for m in selection.methods]},
        "architectures": {
            s.name: {"modality": s.modality, "gaps": dict(s.gaps)} for s in selection.specs if s.name in archs
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
    for line in render_grid(_results_payload(config)):
        terminalreporter.write_line(line)
    path = config.getoption("results")
    if path:
        terminalreporter.write_line(f"results written to {path}")
