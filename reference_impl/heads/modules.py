"""The flexible head module, and what each head type does with the base model's output: pooling, loss, outputs.

A head's submodules are named by the slots of ``architectures.heads``: ``hidden.<i>``, ``norm.<i>`` and ``output``,
so that a static head class's weights map onto them by name.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from transformers import modeling_outputs as mo

from .config import HeadConfig


def num_outputs(config: HeadConfig, model_config: Any) -> int:
    if config.num_labels is not None:
        return config.num_labels
    return {"multiple_choice": 1, "question_answering": 2}.get(config.head_type, model_config.vocab_size)


def default_dropout(model_config: Any) -> float:
    for name in ("classifier_dropout", "hidden_dropout_prob", "hidden_dropout", "resid_pdrop", "dropout_rate"):
        value = getattr(model_config, name, None)
        if isinstance(value, (int, float)):
            return float(value)
    return 0.0


class PredictionHead(nn.Module):
    """``layers - 1`` hidden Linear layers (activation, optional LayerNorm each), then the output Linear."""

    def __init__(self, config: HeadConfig, model_config: Any, embeddings: nn.Module | None = None):
        super().__init__()
        self.config = config
        size = model_config.hidden_size
        eps = config.norm_eps or getattr(model_config, "layer_norm_eps", None) or 1e-12
        # a tied output layer reads the embedding width: with factorised embeddings (ALBERT) narrower than the
        # hidden state, the last hidden layer projects hidden -> embedding size, as AlbertMLMHead does
        width = size
        if config.tie_output and config.layers > 1 and embeddings is not None:
            width = embeddings.weight.shape[-1]
        sizes = [size] * (config.layers - 1) + [width]
        self.hidden = nn.ModuleList(nn.Linear(size, out, bias=config.hidden_bias) for out in sizes[1:])
        norms = [nn.LayerNorm(out, eps=eps, bias=config.norm_bias) for out in sizes[1:]]
        self.norm = nn.ModuleList(norms) if config.layer_norm else None
        self.output = nn.Linear(width, num_outputs(config, model_config), bias=config.bias)
        self.dropout = nn.Dropout(default_dropout(model_config) if config.dropout is None else config.dropout)
        self._init_weights(getattr(model_config, "initializer_range", 0.02))
        if config.tie_output:
            if embeddings is None or embeddings.weight.shape != self.output.weight.shape:
                weight = getattr(embeddings, "weight", None)
                have = "the model has none" if weight is None else f"weight of shape {tuple(weight.shape)}"
                raise ValueError(
                    f"tie_output: the input embeddings ({have}) do not fit an output layer of shape "
                    f"{tuple(self.output.weight.shape)}; tie only a head whose output size is the vocabulary size "
                    "and whose input size is the embedding size"
                )
            self.output.weight = embeddings.weight
        if config.layers > 1:
            from transformers.activations import ACT2FN

            self.activation = ACT2FN[config.activation]

    @torch.no_grad()
    def _init_weights(self, std: float) -> None:
        for layer in [*self.hidden, self.output]:
            layer.weight.normal_(0.0, std)
            if layer.bias is not None:
                layer.bias.zero_()

    @torch.no_grad()
    def resize_output(self, size: int) -> None:
        """An untied LM head follows a resized vocabulary: old rows kept, new rows initialised as the head's were."""
        old = self.output
        new = nn.Linear(old.in_features, size, bias=old.bias is not None).to(old.weight.device, old.weight.dtype)
        keep = min(size, old.out_features)
        new.weight.normal_(0.0, float(old.weight.std()) or 0.02)
        new.weight[:keep] = old.weight[:keep]
        if new.bias is not None:
            new.bias.zero_()
            new.bias[:keep] = old.bias[:keep]
        self.output = new

    def own_parameters(self) -> dict[str, nn.Parameter]:
        """The head's parameters without the output weight it shares with the input embeddings."""
        params = dict(self.named_parameters())
        if self.config.tie_output:
            params.pop("output.weight", None)
        return params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.hidden):
            x = self.activation(layer(self.dropout(x)))
            if self.norm is not None:
                x = self.norm[index](x)
        if self.config.scale_hidden:
            x = x * (x.shape[-1] ** -0.5)
        return self.output(self.dropout(x))


# ----- reading the base model's output -----


def pool(config: HeadConfig, outputs: Any, hidden: torch.Tensor, input_ids: Any, model_config: Any) -> torch.Tensor:
    """The one hidden state per sequence a sequence head reads."""
    if config.use_pooler:
        pooled = getattr(outputs, "pooler_output", None)
        if pooled is None:
            raise ValueError("use_pooler=True, but this base model returns no pooler_output")
        return pooled
    batch = torch.arange(hidden.shape[0], device=hidden.device)
    if config.pooling == "first":
        return hidden[:, 0]
    if config.pooling == "last":
        pad = getattr(model_config, "pad_token_id", None)
        if input_ids is None or pad is None:
            return hidden[:, -1]
        # the rightmost token that is not padding, for left and right padding alike
        positions = torch.arange(input_ids.shape[-1], device=hidden.device)
        return hidden[batch, (positions * (input_ids != pad)).argmax(-1)]
    # "eos": the last end-of-sequence token of the input, read at the same position of the hidden states
    if input_ids is None:
        raise ValueError("a head with pooling='eos' needs input_ids to find the <eos> tokens")
    eos = input_ids.eq(model_config.eos_token_id)
    if eos.shape != hidden.shape[:2]:
        raise ValueError(
            f"pooling='eos' reads the hidden states at the <eos> positions of input_ids {tuple(eos.shape)}, but the "
            f"hidden states have {tuple(hidden.shape[:2])}; leave decoder_input_ids unset (they are input_ids "
            "shifted right)"
        )
    counts = eos.sum(-1)
    if counts.min() < 1 or (counts != counts[0]).any():
        raise ValueError("every example needs the same number (>= 1) of <eos> tokens for a pooling='eos' head")
    return hidden[eos].view(hidden.shape[0], -1, hidden.shape[-1])[:, -1]


def shift_right(ids: torch.Tensor, model_config: Any) -> torch.Tensor:
    """Decoder inputs from targets: the decoder start token, then the targets but the last; -100 becomes padding."""
    start = getattr(model_config, "decoder_start_token_id", None)
    pad = getattr(model_config, "pad_token_id", None)
    if start is None or pad is None:
        raise ValueError("the model config needs decoder_start_token_id and pad_token_id to build decoder inputs")
    shifted = ids.new_full(ids.shape, start)
    shifted[..., 1:] = ids[..., :-1]
    return shifted.masked_fill(shifted == -100, pad)


# ----- losses, as the matching transformers classes compute them -----


def classification_loss(config: HeadConfig, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if config.multilabel:
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    if config.num_labels == 1:
        return F.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
    return F.cross_entropy(logits.view(-1, config.num_labels), labels.view(-1))


def span_loss(start: torch.Tensor, end: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    # positions outside the sequence are ignored, as in transformers' question-answering classes
    ignored = start.shape[1]
    starts = starts.view(-1).clamp(0, ignored)
    ends = ends.view(-1).clamp(0, ignored)
    return (
        F.cross_entropy(start, starts, ignore_index=ignored) + F.cross_entropy(end, ends, ignore_index=ignored)
    ) / 2


def token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def causal_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each position predicts the next token."""
    return token_loss(logits[..., :-1, :], labels[..., 1:])


# ----- outputs -----


# What a seq2seq LM head passes on from the base model's output, as transformers' ForConditionalGeneration does.
SEQ2SEQ_PASSED_ON = (
    "decoder_hidden_states", "decoder_attentions", "cross_attentions", "encoder_last_hidden_state",
    "encoder_hidden_states", "encoder_attentions",
)  # fmt: skip


def head_output(
    config: HeadConfig,
    head: PredictionHead,
    outputs: Any,
    model_config: Any,
    input_ids: Any,
    labels: dict[str, torch.Tensor],
    num_choices: int | None,
) -> Any:
    """Run ``head`` on the base model's ``outputs``; the output class and loss of the matching transformers class."""
    hidden = outputs[0]
    extra = {
        "hidden_states": getattr(outputs, "hidden_states", None),
        "attentions": getattr(outputs, "attentions", None),
    }
    kind = config.head_type
    if kind == "question_answering":
        start, end = (part.squeeze(-1).contiguous() for part in head(hidden).split(1, dim=-1))
        loss = None
        if "start_positions" in labels and "end_positions" in labels:
            loss = span_loss(start, end, labels["start_positions"], labels["end_positions"])
        return mo.QuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end, **extra)
    target = labels.get("labels")
    if kind in ("masked_lm", "causal_lm", "seq2seq_lm", "tagging"):
        logits = head(hidden)
        loss = None
        if target is not None:
            loss = causal_loss(logits, target) if kind == "causal_lm" else token_loss(logits, target)
        if kind == "tagging":
            return mo.TokenClassifierOutput(loss=loss, logits=logits, **extra)
        if kind == "masked_lm":
            return mo.MaskedLMOutput(loss=loss, logits=logits, **extra)
        if kind == "causal_lm":
            return mo.CausalLMOutputWithPast(
                loss=loss, logits=logits, past_key_values=getattr(outputs, "past_key_values", None), **extra
            )
        return mo.Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            past_key_values=getattr(outputs, "past_key_values", None),
            **{key: getattr(outputs, key, None) for key in SEQ2SEQ_PASSED_ON},
        )
    logits = head(pool(config, outputs, hidden, input_ids, model_config))
    if kind == "multiple_choice":
        logits = logits.view(-1, num_choices)
        loss = F.cross_entropy(logits, target.view(-1)) if target is not None else None
        return mo.MultipleChoiceModelOutput(loss=loss, logits=logits, **extra)
    loss = classification_loss(config, logits, target) if target is not None else None
    output_class = mo.ImageClassifierOutput if kind == "image_classification" else mo.SequenceClassifierOutput
    return output_class(loss=loss, logits=logits, **extra)
