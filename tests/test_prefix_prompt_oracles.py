"""The prefix- and prompt-tuning oracles' own rules: defaults, refusals, placement, and the softmax mixing formula."""

from __future__ import annotations

import types

import pytest
import torch

from architectures import registry
from conformance.models import plain_model
from conformance.oracles.prefix_tuning import (
    Prefixed,
    PrefixTuningOracle,
    Segment,
    _gated_scores,
    _mixed_with_prefix,
    attentions,
)
from conformance.oracles.prompt_tuning import EMBEDDING, PromptTuningOracle, cut, insert, insertion_points, prompt_of
from conformance.weights import key


LAYERS = 3  # the tiny BERT's


def _prefix_weights(layers: int = LAYERS, length: int = 30, kv_dim: int = 32) -> dict[str, torch.Tensor]:
    return {
        key(i, "self_attention.prefix", t): torch.randn(length, kv_dim)
        for i in range(layers)
        for t in ("key", "value")
    }


def test_prefix_defaults_are_adapterhubs():
    spec = registry.get("bert")
    assert spec.make_config().num_hidden_layers == LAYERS
    model = plain_model(spec)
    found = attentions(model, spec, [(_prefix_weights(), {"config": "prefix_tuning"})])
    assert [a.length for a in found] == [30] * LAYERS  # prefix_length=30, no layer left out


@pytest.mark.parametrize(
    ("config", "error", "message"),
    [
        ({"config": "prefix_tuning", "use_gating": True}, KeyError, "gate_weight"),
        ({"config": "prefix_tuning", "shared_gating": True}, ValueError, r"does not define the field\(s\) \['shared"),
        ({"config": "prefix_tuning", "prefix_length": 4}, ValueError, "prefix_length=4"),
        ({"config": "prefix_tuning", "leave_out": []}, KeyError, "layer 1's self_attention"),
    ],
)
def test_prefix_oracle_refuses(config, error, message):
    spec = registry.get("bert")
    weights = _prefix_weights()
    if "leave_out" in config:
        weights = {k: v for k, v in weights.items() if not k.startswith("1.")}
    with pytest.raises(error, match=message):
        attentions(plain_model(spec), spec, [(weights, config)])


def test_a_left_out_layer_has_no_prefix_even_when_the_weights_hold_one():
    spec = registry.get("bert")
    found = attentions(plain_model(spec), spec, [(_prefix_weights(), {"config": "prefix_tuning", "leave_out": [0]})])
    assert [a.keys is None for a in found] == [True] + [False] * (LAYERS - 1)


class ToyAttention(torch.nn.Module):
    """Plain softmax attention that computes its scores itself, as DeBERTa's does (relative terms aside)."""

    heads, head_dim = 2, 4

    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)

    def split(self, hidden):
        q, k, v = self.qkv(hidden).chunk(3, -1)
        return [t.view(*hidden.shape[:2], self.heads, self.head_dim).transpose(1, 2) for t in (q, k, v)]

    def forward(self, hidden, bias):
        q, k, v = self.split(hidden)
        probs = torch.nn.functional.softmax(torch.matmul(q / 2, k.transpose(-1, -2)) + bias, dim=-1)
        return (torch.matmul(probs, v).transpose(1, 2).flatten(2), None)


@pytest.mark.parametrize("gated", [False, True])
def test_softmax_mixing_equals_attention_over_the_concatenated_keys(gated):
    torch.manual_seed(0)
    attention, hidden = ToyAttention(), torch.randn(2, 5, 8)
    bias = torch.randn(1, 2, 5, 5)
    keys, values = torch.randn(3, 8), torch.randn(3, 8)
    gate = {"gate_weight": torch.randn(1, 8), "gate_bias": torch.randn(1)} if gated else None
    model = types.SimpleNamespace(config=types.SimpleNamespace(num_attention_heads=2))
    target = Prefixed(0, "self_attention", attention, None, None, (Segment(keys, values, gate),))
    handles = _mixed_with_prefix(model, target)
    try:
        mixed = attention(hidden, bias)[0]
    finally:
        for handle in handles:
            handle.remove()
    q, k, v = attention.split(hidden)
    g = torch.sigmoid(hidden @ gate["gate_weight"].T + gate["gate_bias"])[:, None] if gated else 1  # per query
    prefix_k, prefix_v = (t.view(3, 2, 4).transpose(0, 1).expand(2, -1, -1, -1) for t in (keys, values))
    scores = torch.cat(
        [g * torch.matmul(q / 2, prefix_k.transpose(-1, -2)), torch.matmul(q / 2, k.transpose(-1, -2)) + bias], -1
    )
    probs = scores.softmax(-1)  # the gate scales keys and values of the prefix for each query: g k_p, g v_p
    want = (probs[..., :3] * g @ prefix_v + probs[..., 3:] @ v).transpose(1, 2).flatten(2)
    torch.testing.assert_close(mixed, want)
    assert torch.matmul is not None and torch.nn.functional.softmax.__name__ == "softmax"  # restored


class KeysInFrontAttention(torch.nn.Module):
    """An attention over ``extra`` keys and values given in front of its own (a prefix there, as the oracle puts it
    into a cache or in front of the projections), scaling after the score product (as ALBERT and GPT-J do) or by
    ``scaled_dot_product_attention``; it applies its output projection itself."""

    heads, head_dim = 2, 4

    def __init__(self, sdpa: bool):
        super().__init__()
        self.qkv, self.out, self.sdpa = torch.nn.Linear(8, 24), torch.nn.Linear(8, 8), sdpa

    def split(self, hidden):
        q, k, v = self.qkv(hidden).chunk(3, -1)
        return [t.view(*hidden.shape[:2], self.heads, self.head_dim).transpose(1, 2) for t in (q, k, v)]

    def forward(self, hidden, extra_keys, extra_values, bias):
        q, k, v = self.split(hidden)
        k, v = torch.cat([extra_keys, k], -2), torch.cat([extra_values, v], -2)
        if self.sdpa:
            context = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            scores = torch.matmul(q, k.transpose(-1, -2)) / 2 + bias
            context = torch.matmul(torch.nn.functional.softmax(scores, dim=-1), v)
        return (self.out(context.transpose(1, 2).flatten(2)),)


@pytest.mark.parametrize("sdpa", [False, True])
def test_gated_scores_give_the_gated_prefix_definition(sdpa):
    torch.manual_seed(0)
    attention, hidden = KeysInFrontAttention(sdpa), torch.randn(2, 5, 8)
    keys, values = torch.randn(3, 8), torch.randn(3, 8)
    gate = {"gate_weight": torch.randn(2, 8), "gate_bias": torch.randn(2)}  # key and value gates apart
    to_heads = lambda t: t.view(-1, 2, 4).transpose(0, 1).expand(2, -1, -1, -1)  # noqa: E731
    placeholder = torch.randn(2, 2, 1, 4)  # a shorter prefix's cache column in front, hidden by the mask: not gated
    bias = torch.cat([torch.full((1, 2, 5, 1), float("-inf")), torch.zeros(1, 2, 5, 3), torch.randn(1, 2, 5, 5)], -1)
    extra_keys, extra_values = (torch.cat([placeholder, to_heads(t)], -2) for t in (keys, values))
    target = Prefixed(0, "self_attention", attention, None, None, (Segment(keys, values, gate),))
    handles = _gated_scores(target, 1, widened=False)
    try:
        gated = attention(hidden, extra_keys, extra_values, bias)[0]
    finally:
        for handle in handles:
            handle.remove()
    assert torch.nn.functional.softmax.__name__ == "softmax"  # restored
    assert torch.nn.functional.scaled_dot_product_attention.__name__ == "scaled_dot_product_attention"
    g = torch.sigmoid(hidden @ gate["gate_weight"].T + gate["gate_bias"])[:, None]  # (batch, 1, queries, 2)
    q, k, v = attention.split(hidden)
    # the definition: softmax([g q K_p^T s, q K^T s + bias]) @ [g V_p; V], s = 1 / sqrt(head_dim) = 1 / 2
    prefix_scores = g[..., :1] * (q @ to_heads(keys).transpose(-1, -2)) / 2
    probabilities = torch.cat([prefix_scores, q @ k.transpose(-1, -2) / 2 + bias[..., 4:]], -1).softmax(-1)
    want = (probabilities[..., :3] * g[..., 1:]) @ to_heads(values) + probabilities[..., 3:] @ v
    torch.testing.assert_close(gated, attention.out(want.transpose(1, 2).flatten(2)))


class TensorSoftmaxAttention(KeysInFrontAttention):
    def forward(self, hidden, extra_keys, extra_values, bias):
        q, k, v = self.split(hidden)
        k, v = torch.cat([extra_keys, k], -2), torch.cat([extra_values, v], -2)
        probabilities = (torch.matmul(q, k.transpose(-1, -2)) / 2 + bias).softmax(-1)  # a method: not reached
        return (self.out(torch.matmul(probabilities, v).transpose(1, 2).flatten(2)),)


def test_gated_scores_refuse_an_attention_whose_softmax_they_do_not_reach():
    attention, hidden = TensorSoftmaxAttention(False), torch.randn(2, 5, 8)
    gate = {"gate_weight": torch.randn(1, 8), "gate_bias": torch.randn(1)}
    prefix = torch.randn(2, 2, 3, 4)
    target = Prefixed(
        0, "self_attention", attention, None, None, (Segment(torch.randn(3, 8), torch.randn(3, 8), gate),)
    )
    handles = _gated_scores(target, 0, widened=False)
    try:
        with pytest.raises(NotImplementedError, match="computed 0 softmax"):
            attention(hidden, prefix, prefix, torch.zeros(1, 1, 5, 8))
    finally:
        for handle in handles:
            handle.remove()
    assert torch.nn.functional.softmax.__name__ == "softmax"


def test_mixing_refuses_an_attention_that_projects_its_output():
    attention = KeysInFrontAttention(False)
    segment = Segment(torch.randn(3, 8), torch.randn(3, 8))
    target = Prefixed(0, "self_attention", attention, None, None, (segment,), output_module=attention.out)
    with pytest.raises(NotImplementedError, match="applies its output projection itself"):
        _mixed_with_prefix(types.SimpleNamespace(config=None), target)


def test_prompt_placements():
    present = torch.tensor([[1, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 0]])
    assert insertion_points(present, "prefix") == [0, 2, 0]
    assert insertion_points(present, "prefix_after_bos") == [1, 3, 1]
    assert insertion_points(present, "suffix") == [3, 4, 4]
    seq = torch.arange(12.0).view(3, 4, 1)
    piece = torch.full((2, 1), -1.0)
    inserted = insert(seq, piece, [0, 2, 4])
    assert inserted[1, :, 0].tolist() == [4.0, 5.0, -1.0, -1.0, 6.0, 7.0]
    torch.testing.assert_close(cut(inserted, 2, [0, 2, 4]), seq)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"config": "prompt_tuning", "prompt_length": 3}, "prompt_length=3"),
        ({"config": "prompt_tuning", "prompt_length": 4, "combine": "middle"}, "combine='middle'"),
        (
            {"config": "prompt_tuning", "prompt_length": 4, "position": 1},
            r"does not define the field\(s\) \['position'\]",
        ),
        ({"config": "prompt_tuning", "prompt_length": 4, "placement": "layer_0"}, "placement='layer_0'"),
    ],
)
def test_prompt_oracle_refuses(config, message):
    with pytest.raises(ValueError, match=message):
        prompt_of({EMBEDDING: torch.zeros(4, 32)}, config)


def test_prefix_oracle_is_registered():
    from conformance.oracles.registry import oracle_for

    assert isinstance(oracle_for("prefix_tuning"), PrefixTuningOracle)
    assert isinstance(oracle_for("prompt_tuning"), PromptTuningOracle)


@torch.no_grad()
def test_embeddings_output_placement_by_hand():
    """BERT's embedding module on the input, the raw prompt in front of its output, the encoder on that with the
    mask extended, the prompt positions cut: what the oracle gives for placement='embeddings_output'."""
    from conformance.oracles.run import expected_output

    spec = registry.get("bert")
    plain = plain_model(spec).eval()
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 100, (2, 7), generator=generator)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[0, -3:] = 0
    types = torch.randint(0, 2, (2, 7), generator=generator)
    prompt = torch.randn(4, 32, generator=generator)
    config = {"config": "prompt_tuning", "prompt_length": 4, "placement": "embeddings_output"}
    inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    got = expected_output(plain, spec, config, {EMBEDDING: prompt}, inputs)

    hidden = torch.cat([prompt.expand(2, -1, -1), plain.embeddings(input_ids=ids, token_type_ids=types)], 1)
    extended = torch.cat([torch.ones(2, 4, dtype=torch.long), mask], 1)
    additive = (1.0 - extended[:, None, None, :].float()) * torch.finfo(torch.float32).min
    want = plain.encoder(hidden, attention_mask=additive)[0][:, 4:]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    default = expected_output(plain, spec, {**config, "placement": "inputs_embeds"}, {EMBEDDING: prompt}, inputs)
    assert not torch.allclose(default, want, atol=1e-3), "the two placements must differ on BERT (positions, norm)"
