"""Parameterized hypercomplex multiplication (PHM) layers, the projections of Compacter (Mahabadi et al., 2021).

A PHM layer's weight is ``H = sum_i kron(A_i, W_i)``: ``phm_dim`` (n) small "rule" matrices ``A_i`` (n x n) times
blocks ``W_i`` (in/n x out/n), optionally low-rank (``W_i = W_left_i @ W_right_i``). The rules, and optionally the
blocks, can be shared by every PHM layer of one adapter; they then live once, in ``PHMShared`` on the model's holder.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .base import SiteAdapter


if TYPE_CHECKING:
    from ..configs.compacter import PhmOptions

ROLES = ("down", "up")


def check_divisible(options: PhmOptions, in_features: int, out_features: int) -> None:
    n = options.phm_dim
    if in_features % n or out_features % n:
        raise ValueError(
            f"{type(options).__name__}: phm_dim={n} must divide the bottleneck's input and output sizes "
            f"({in_features} and {out_features}); choose another phm_dim or reduction_factor"
        )


def _glorot(tensor: torch.Tensor, fan_in: int, fan_out: int, normal: bool, generator: Any) -> None:
    if normal:
        tensor.normal_(0.0, math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)
    else:
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        tensor.uniform_(-bound, bound, generator=generator)


class PhmWeights(nn.Module):
    """The rule and/or block parameters of PHM layers, created and initialised from the options.

    ``rule=True`` creates the n rule matrices; ``blocks`` maps a role ("down"/"up") to the (in, out) size of the
    blocks to create for it. ``zero_up`` starts the "up" blocks at zero, so the bottleneck starts as the identity.
    """

    def __init__(
        self,
        options: PhmOptions,
        rule: bool,
        blocks: dict[str, tuple[int, int]],
        zero_up: bool,
        generator: torch.Generator | None,
    ):
        super().__init__()
        n = options.phm_dim
        self.factorized_rule = options.factorized_phm_rule
        self.factorized_blocks = options.factorized_phm_W
        if rule:
            if self.factorized_rule:
                self.phm_rule_left = nn.Parameter(torch.empty(n, n, 1))
                self.phm_rule_right = nn.Parameter(torch.empty(n, 1, n))
            else:
                self.phm_rule = nn.Parameter(torch.empty(n, n, n))
        for role, (in_features, out_features) in blocks.items():
            rows, cols = in_features // n, out_features // n
            if self.factorized_blocks:
                self.register_parameter(f"W_{role}_left", nn.Parameter(torch.empty(n, rows, options.phm_rank)))
                self.register_parameter(f"W_{role}_right", nn.Parameter(torch.empty(n, options.phm_rank, cols)))
            else:
                self.register_parameter(f"W_{role}", nn.Parameter(torch.empty(n, rows, cols)))
        self.reset_parameters(options, zero_up, generator)

    @torch.no_grad()
    def reset_parameters(self, options: PhmOptions, zero_up: bool, generator: torch.Generator | None) -> None:
        for name, param in self.named_parameters():
            if name.startswith("phm_rule"):
                if options.phm_c_init == "normal":
                    param.normal_(0.0, options.phm_init_range, generator=generator)
                else:
                    param.uniform_(-1.0, 1.0, generator=generator)
            elif options.hypercomplex_nonlinearity == "normal":
                param.normal_(0.0, options.phm_init_range, generator=generator)
            else:
                fan_in, fan_out = param.shape[1], param.shape[2]
                normal = options.hypercomplex_nonlinearity == "glorot-normal"
                for block in param:
                    _glorot(block, fan_in, fan_out, normal, generator)
        if zero_up:  # a zero block (its right factor when low-rank) makes the whole up-projection zero
            for name in ("W_up", "W_up_right"):
                if hasattr(self, name):
                    getattr(self, name).zero_()

    def rule(self) -> torch.Tensor:
        if self.factorized_rule:
            return torch.bmm(self.phm_rule_left, self.phm_rule_right)
        return self.phm_rule

    def has_rule(self) -> bool:
        return hasattr(self, "phm_rule") or hasattr(self, "phm_rule_left")

    def blocks(self, role: str) -> torch.Tensor:
        if self.factorized_blocks:
            return torch.bmm(getattr(self, f"W_{role}_left"), getattr(self, f"W_{role}_right"))
        return getattr(self, f"W_{role}")


def kronecker_sum(rule: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
    """``sum_i kron(rule[i], blocks[i])`` for rule (n, n, n) and blocks (n, p, q): a (n*p, n*q) matrix."""
    n, p, q = blocks.shape
    return torch.einsum("iab,icd->acbd", rule, blocks).reshape(n * p, n * q)


class PHMShared(SiteAdapter):
    """The PHM parameters one adapter shares across all its layers; lives on the model's holder site."""

    def __init__(
        self, options: PhmOptions, hidden_size: int, bottleneck_size: int, zero_up: bool, generator: Any = None
    ):
        super().__init__()
        blocks = {"down": (hidden_size, bottleneck_size), "up": (bottleneck_size, hidden_size)}
        self.weights = PhmWeights(
            options, options.shared_phm_rule, blocks if options.shared_W_phm else {}, zero_up, generator
        )

    def apply(self, x: Any, output: Any, site: Any) -> Any:
        raise RuntimeError("shared PHM weights are used by the PHM layers that link to them, never run on a site")


class PHMLayer(nn.Module):
    """``x @ H + b`` with ``H = sum_i kron(rule_i, W_i)``; rules and blocks are its own or the adapter's shared ones."""

    def __init__(
        self,
        options: PhmOptions,
        in_features: int,
        out_features: int,
        role: str,
        zero_up: bool,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        check_divisible(options, in_features, out_features)
        self.in_features, self.out_features, self.role = in_features, out_features, role
        self.shares_rule, self.shares_blocks = options.shared_phm_rule, options.shared_W_phm
        own_blocks = {} if self.shares_blocks else {role: (in_features, out_features)}
        self.weights = PhmWeights(options, not self.shares_rule, own_blocks, zero_up and role == "up", generator)
        self.bias = nn.Parameter(torch.zeros(out_features)) if options.phm_bias else None
        self.__dict__["_shared"] = None  # a plain reference, not a submodule: the shared weights live once

    @property
    def needs_shared(self) -> bool:
        return self.shares_rule or self.shares_blocks

    def link(self, shared: PHMShared) -> None:
        self.__dict__["_shared"] = shared

    @property
    def shared(self) -> PHMShared | None:
        return self.__dict__["_shared"]

    def weight(self) -> torch.Tensor:
        """The effective (in_features, out_features) matrix."""
        shared = self.shared
        if self.needs_shared and shared is None:
            raise RuntimeError("this PHM layer shares weights but was never linked to them (see CompacterFamily)")
        rule = shared.weights.rule() if self.shares_rule else self.weights.rule()
        blocks = shared.weights.blocks(self.role) if self.shares_blocks else self.weights.blocks(self.role)
        return kronecker_sum(rule, blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x @ self.weight().to(x.dtype)
        return out if self.bias is None else out + self.bias
