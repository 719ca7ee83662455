"""Every check gets its own copy of the tiny model (conformance/models.py ``clone``): nothing an implementation could
mutate may be shared between two copies or with the cached pristine model."""

from __future__ import annotations

import copy

import pytest
import torch

from architectures.registry import load_builtin_module
from conformance import models


ARCHS = ("bert", "gpt2", "t5", "vit", "whisper")  # tied weights, encoder-decoder, conv modules (own __setstate__)


@pytest.fixture(scope="module", params=ARCHS)
def pristine(request):
    return models._pristine(load_builtin_module(request.param), None)


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_clone_equals_deepcopy(pristine):
    copied, reference = models.clone(pristine), copy.deepcopy(pristine)
    assert [type(m) for m in copied.modules()] == [type(m) for m in reference.modules()]
    assert [n for n, _ in copied.named_parameters()] == [n for n, _ in reference.named_parameters()]
    ours, theirs = copied.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert copied.config.to_dict() == pristine.config.to_dict()


def test_copies_share_no_mutable_state(pristine):
    before, config_before = _snapshot(pristine), pristine.config.to_dict()
    first, second = models.clone(pristine), models.clone(pristine)
    ids = {id(x) for m in (pristine, second) for x in (*m.parameters(), *m.buffers(), *m.modules())}
    assert not ids & {id(x) for x in (*first.parameters(), *first.buffers(), *first.modules())}

    # what AdapterHub's adapters.init and an adapter method do to a model: write into the config, the weights,
    # the hook dicts, the module tree
    first.config.adapters = {"written": "by init"}
    first.config.hidden_dropout_prob = 0.5
    with torch.no_grad():
        for param in first.parameters():
            param.add_(1.0)
        for buffer in first.buffers():
            buffer.zero_() if not buffer.is_floating_point() else buffer.add_(1.0)
    for module in first.modules():
        module.register_forward_hook(lambda *a: None)
        module.register_forward_pre_hook(lambda *a: None)
        module._non_persistent_buffers_set.add("extra")
    first.add_module("added", torch.nn.Linear(1, 1))

    for other in (pristine, second):
        assert other.config.to_dict() == config_before and not hasattr(other.config, "adapters")
        assert all(not m._forward_hooks and not m._forward_pre_hooks for m in other.modules())
        assert all("extra" not in m._non_persistent_buffers_set for m in other.modules())
        assert not hasattr(other, "added")
    after = pristine.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before), "mutating a copy changed the pristine model"
    assert all(torch.equal(second.state_dict()[k], before[k]) for k in before), "mutating a copy changed another"


def test_tied_weights_stay_tied_within_a_copy():
    pristine = models._pristine(load_builtin_module("gpt2"), "GPT2LMHeadModel")
    copied = models.clone(pristine)
    tied = pristine.lm_head.weight is pristine.transformer.wte.weight
    assert (copied.lm_head.weight is copied.transformer.wte.weight) == tied
    assert copied.lm_head.weight is not pristine.lm_head.weight
