"""Canonical names of adapter tensors: the suite's vocabulary, shared by every implementation under test.

An implementation's ``adapter_weights(model, name)`` returns a dict keyed by these names; ``set_adapter_weights``
takes the same keys. The checks and oracles read and write adapter weights only through them.

Key format: ``"<layer>.<site>.<tensor>"`` for tensors in one transformer layer, where ``<layer>`` is the global layer
index (the layers of the spec's layout stacks in order: the encoder's first, then the decoder's), and
``"model.<site>.<tensor>"`` for tensors that belong to the whole model (prompt, invertible adapter, prefix pools
read per layer are still per layer).

Sites, relative to the layer (``AttentionSpec`` / ``LayerStackSpec`` fields of the spec):

- ``self_attention.q|k|v|o`` and ``cross_attention.q|k|v|o``: the projections (``o``: the attention output). A fused
  qkv projection has the three sites ``q``, ``k``, ``v`` all the same, whatever its layout.
- ``ffn_in``, ``ffn_out``: the FFN's input and output projections.
- ``attention_adapter``, ``ffn_adapter``: a bottleneck adapter after the attention block / the FFN.
- ``self_attention.prefix``, ``cross_attention.prefix``: prefix tuning's keys and values for that attention.
- ``reft``: a ReFT intervention on the layer's output.
- ``invertible`` (model level): an invertible adapter's coupling block on the token embeddings.
- A gated part of a union (UniPELT) adds ``gate_weight`` and ``gate_bias`` at its own site.

Each method family documents its tensors, shapes and formula in its oracle module (``conformance.oracles.<family>``);
weight matrices are ``(out_features, in_features)`` as in ``nn.Linear``, whatever the implementation stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch


MODEL = "model"


@dataclass(frozen=True, order=True)
class WeightKey:
    layer: int | None  # None: a model-level tensor
    site: str
    tensor: str

    def __str__(self) -> str:
        return f"{MODEL if self.layer is None else self.layer}.{self.site}.{self.tensor}"


def key(layer: int | None, site: str, tensor: str) -> str:
    return str(WeightKey(layer, site, tensor))


def parse(name: str) -> WeightKey:
    """``"3.self_attention.q.A"`` -> WeightKey(3, "self_attention.q", "A"). The tensor name is the last part."""
    head, _, rest = name.partition(".")
    site, _, tensor = rest.rpartition(".")
    if not site or not tensor or not (head == MODEL or head.isdigit()):
        raise ValueError(f"not a canonical weight name: {name!r}; expected '<layer>.<site>.<tensor>'")
    return WeightKey(None if head == MODEL else int(head), site, tensor)


def by_site(weights: Mapping[str, torch.Tensor]) -> dict[tuple[int | None, str], dict[str, torch.Tensor]]:
    """``{(layer, site): {tensor: value}}``: the tensors of each adapted place."""
    grouped: dict[tuple[int | None, str], dict[str, torch.Tensor]] = {}
    for name, value in weights.items():
        parsed = parse(name)
        grouped.setdefault((parsed.layer, parsed.site), {})[parsed.tensor] = value
    return dict(sorted(grouped.items(), key=lambda item: (item[0][0] is None, item[0][0] or 0, item[0][1])))
