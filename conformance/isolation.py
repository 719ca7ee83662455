"""Each conformance check starts from torch's global RNG seeded from its check id and leaves it as it found it, so a
check's random draws (an adapter initialised without ``init_weights_seed``, dropout) do not depend on the checks that
ran before it: one failing check reproduces alone with its node id, in any order, on any xdist worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _check_id_seeds_the_global_rng(request: pytest.FixtureRequest) -> Iterator[None]:
    if "spec" not in request.fixturenames:  # not a conformance check
        yield
        return
    import torch

    from .models import check_id, seed_for

    state = torch.random.get_rng_state()
    torch.manual_seed(seed_for(check_id(request.node.nodeid)))
    yield
    torch.random.set_rng_state(state)
