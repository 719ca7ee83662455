"""Attention masks and biases widened by prefix positions: every query may attend every prefix position."""

from __future__ import annotations

import torch


def pad_front(tensor: torch.Tensor, length: int, value: float | bool | int = 0) -> torch.Tensor:
    """``tensor`` with ``length`` columns of ``value`` in front of its last dimension."""
    pad = tensor.new_full((*tensor.shape[:-1], length), value)
    return torch.cat([pad, tensor], dim=-1)


def attend_value(mask: torch.Tensor) -> float | bool | int:
    """The mask entry meaning "attend": True for boolean masks, 0 for additive float masks, 1 for 0/1 int masks."""
    if mask.dtype == torch.bool:
        return True
    return 0.0 if mask.is_floating_point() else 1


def causal_mask(
    query_length: int, key_length: int, prefix_length: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """An additive (1, 1, query, prefix + key) mask: the prefix, then keys up to each query's own position.

    Queries are the last ``query_length`` of the ``key_length`` positions (the rest is the cache).
    """
    queries = torch.arange(key_length - query_length, key_length, device=device)[:, None]
    allowed = torch.arange(key_length, device=device)[None, :] <= queries
    mask = torch.zeros(query_length, key_length, dtype=dtype, device=device)
    mask = mask.masked_fill(~allowed, torch.finfo(dtype).min)
    return pad_front(mask, prefix_length)[None, None]


def widen_mask(
    mask: torch.Tensor | None,
    prefix_length: int,
    *,
    query_length: int,
    key_length: int | None,
    causal_if_none: bool,
    dtype: torch.dtype,
    device: torch.device,
    padding_2d: bool = False,
) -> torch.Tensor | None:
    """``mask`` with the prefix columns in front; ``key_length`` (when known) trims a longer mask first.
    ``padding_2d``: the attention takes a 2-d (batch, keys) padding mask, 1 or True where it attends (4.x
    DistilBERT's eager attention).

    A missing mask stays missing unless the attention would have been causal without it (sdpa's ``is_causal``):
    with a prefix the causal pattern is no longer the top-left triangle sdpa assumes, so it is spelled out.
    """
    if mask is None:
        if causal_if_none:
            if key_length is None:
                raise RuntimeError("a causal attention without a mask needs its key length to place a prefix")
            mask = causal_mask(query_length, key_length, prefix_length, dtype, device)
        else:
            return None
    elif padding_2d and mask.dim() == 2:
        mask = pad_front(mask, prefix_length, True if mask.dtype == torch.bool else 1)
    else:
        if mask.dim() != 4:
            raise NotImplementedError(
                f"prefix tuning widens 4-d attention masks; got a {mask.dim()}-d one (flash attention's padding "
                "masks are not supported: use the 'sdpa' or 'eager' attention implementation)"
            )
        if key_length is not None and mask.shape[-1] > key_length:
            mask = mask[..., :key_length]
        mask = pad_front(mask, prefix_length, attend_value(mask))
    return mask


def additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A float mask to add to scores: 0 where a 1/True mask attends, the dtype's minimum elsewhere."""
    if mask.is_floating_point():
        return mask.to(dtype)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask.bool(), torch.finfo(dtype).min)
