"""The conformance suite: a pytest plugin and reusable test mixins, parametrized over the architecture registry."""

import pytest


# The mixins use plain asserts; keep pytest's assertion introspection even in editable installs.
pytest.register_assert_rewrite("conformance.checks")
