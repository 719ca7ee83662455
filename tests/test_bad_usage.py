"""Bad input to the plugin: a spec module or an implementation module that does not import, or registers what the
registry refuses, stops the run with one usage-error line that says what failed and where (file:line), never a
pytest INTERNALERROR traceback; nothing is collected and nothing is left registered.

Unknown --arch / --method / --feature names: tests/test_plugin.py; an unwritable --results path:
tests/test_first_hour.py; certify with nothing selected: tests/test_certify_cli.py.
"""

from __future__ import annotations

import pytest

from architectures import registry
from conformance import impl


MODULES = {
    "missing_dependency": "import numpy\nimport no_such_dependency\n",
    "syntax_error": "from architectures import register\n\n\ndef spec(:\n    pass\n",
    "raises_at_import": "def build():\n    raise RuntimeError('the config needs a tokenizer file')\n\n\nbuild()\n",
    "invalid_spec": """from dataclasses import replace

from architectures import register
from architectures.bert import SPEC as BERT

LAYOUT = BERT.layouts[0]
STACK = replace(LAYOUT.stacks[0], attention_norm="attention.output.layernorm")
SPEC = register(replace(BERT, name="badbert", layouts=(replace(LAYOUT, stacks=(STACK,)),)), module=__name__)
""",
    "takes_a_builtin_name": """from dataclasses import replace

from architectures import register
from architectures.bert import SPEC as BERT

SPEC = register(replace(BERT, name="gpt2"), module=__name__)
""",
    "not_an_implementation": "IMPLEMENTATION = 'reference'\n",
}


@pytest.fixture
def modules(inner_run: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    inner_run.makepyfile(**MODULES)
    inner_run.syspathinsert()
    monkeypatch.setattr(impl, "_CURRENT", impl.current())  # what an inner run's --impl would change is put back
    return inner_run


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("--arch=missing_dependency", "No module named 'no_such_dependency' (at {root}/missing_dependency.py:2); install it"),
        ("--arch=./missing_dependency.py", "No module named 'no_such_dependency' (at {root}/missing_dependency.py:2); install it"),
        ("--arch=syntax_error", "SyntaxError: invalid syntax (syntax_error.py, line 4) (at {root}/syntax_error.py:4); fix the module"),
        ("--arch=raises_at_import", "RuntimeError: the config needs a tokenizer file (at {root}/raises_at_import.py:2); fix the module"),
        ("--arch=./raises_at_import.py", "RuntimeError: the config needs a tokenizer file (at {root}/raises_at_import.py:2)"),
        ("--arch=invalid_spec", "'invalid_spec' registers an invalid architecture spec (at {root}/invalid_spec.py:8)"),
        ("--arch=invalid_spec", "attention.output (BertSelfOutput) has no attribute 'layernorm'; did you mean 'LayerNorm'?"),
        ("--arch=takes_a_builtin_name", "ArchitectureSpec.name='gpt2' in takes_a_builtin_name is already registered by architectures.gpt2; give it another name"),
        ("--impl=nosuch", "--impl=nosuch: unknown implementation. Valid: reference, adapters, or a module path"),
        ("--impl=raises_at_import", "--impl=raises_at_import: importing raises_at_import failed: RuntimeError: the config needs a tokenizer file (at {root}/raises_at_import.py:2)"),
        ("--impl=syntax_error", "--impl=syntax_error: importing syntax_error failed: SyntaxError"),
        ("--impl=missing_dependency", "--impl=missing_dependency: cannot import missing_dependency: No module named 'no_such_dependency'"),
        ("--impl=not_an_implementation", "not_an_implementation has no IMPLEMENTATION that is a conformance.interface.Implementation (found str)"),
    ],
    ids=[
        "arch-missing-dependency", "arch-file-missing-dependency", "arch-syntax-error", "arch-raises", "arch-file-raises", "arch-invalid-spec",
        "arch-invalid-spec-field", "arch-builtin-name", "impl-unknown", "impl-raises", "impl-syntax-error",
        "impl-missing-dependency", "impl-no-implementation",
    ],
)  # fmt: skip
def test_a_module_that_does_not_load_is_one_usage_error_line(modules, option, says):
    builtin = dict(registry._REGISTRY)
    before = impl.current()
    result = modules.runpytest(option, "--method=lora", "--collect-only", "-q")
    errors = "\n".join(result.errlines)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:] + errors
    assert says.format(root=modules.path) in errors, errors
    assert f"ERROR: {option}: " in errors
    assert "INTERNALERROR" not in result.stdout.str() + errors and "Traceback" not in errors
    assert not [line for line in result.outlines if "::" in line], "nothing is collected"
    assert registry._REGISTRY == builtin, "a refused spec is not left registered"
    assert impl.current() is before, "the implementation under test is unchanged"
