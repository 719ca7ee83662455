"""Modalities: what a model takes as input, what its heads read, what generation means for it.

A check or the reference implementation asks the spec's ``Modality`` (``spec.modality.token_inputs``,
``spec.modality.make_inputs(...)``) instead of comparing modality names, so a new modality is added here, in one
place. A ``Modality`` is its name (a ``str``): results files store it as such and ``spec.modality == "vision"`` still
reads naturally.

Config values are read with ``config_value``: the attribute itself (transformers' ``attribute_map`` turns ``n_embd``
into ``hidden_size`` and so on), then a spec alias, then the nested configs (``text_config``, ``vision_config``,
``encoder``) of composite models such as CLIP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal


Generation = Literal["causal", "seq2seq"] | None
MainInput = Literal["input_ids", "pixel_values", "input_features", "input_values"]

# Sub-configs of composite models, searched in this order when the top config lacks a value.
NESTED_CONFIGS = ("text_config", "vision_config", "audio_config", "encoder", "decoder")


def config_value(config: Any, name: str, aliases: Mapping[str, str] | None = None, default: Any = ...) -> Any:
    """``config.<name>``: directly (transformers' attribute_map applies), through a spec alias, or from a nested
    sub-config; ``default`` when given and nothing has it, else AttributeError naming where it looked."""
    for key in (name, (aliases or {}).get(name)):
        if key and hasattr(config, key):
            return getattr(config, key)
    for nested in NESTED_CONFIGS:
        sub = getattr(config, nested, None)
        if sub is not None and not isinstance(sub, (str, int, float, bool, dict)):
            found = config_value(sub, name, aliases, default=None)
            if found is not None:
                return found
    if default is not ...:
        return default
    raise AttributeError(
        f"{type(config).__name__} has no {name!r} (nor an alias, nor in {', '.join(NESTED_CONFIGS)}); "
        f"add ArchitectureSpec.config_aliases={{{name!r}: '<attribute>'}}"
    )


class Modality(str):
    """One modality. Immutable; equal to (and hashed as) its name."""

    main_input: MainInput  # what the embeddings read
    token_inputs: bool  # takes token ids (a vocabulary, padding, prompts initialised from tokens)
    attention_mask: bool  # takes an attention mask over its input positions
    encoder_decoder: bool  # a second stack generates from decoder_input_ids
    causal: bool  # a decoder-only model: left padding, prompts only before the input, reads the last token
    generation: Generation  # what ``generate`` means: continue the input (causal) or decode from it (seq2seq)
    pooling: str  # where a sequence head reads by default: first, last or eos
    head_types: tuple[str, ...]  # the flexible head types an adapter model offers by default
    extra_inputs: tuple[str, ...]  # further inputs a forward needs besides the main one (CLIP: pixel_values)

    def __new__(
        cls,
        name: str,
        *,
        main_input: MainInput,
        attention_mask: bool,
        pooling: str,
        head_types: tuple[str, ...],
        encoder_decoder: bool = False,
        causal: bool = False,
        generation: Generation = None,
        extra_inputs: tuple[str, ...] = (),
    ) -> Modality:
        self = super().__new__(cls, name)
        values = {
            "main_input": main_input,
            "token_inputs": main_input == "input_ids",
            "attention_mask": attention_mask,
            "encoder_decoder": encoder_decoder,
            "causal": causal,
            "generation": generation,
            "pooling": pooling,
            "head_types": tuple(head_types),
            "extra_inputs": tuple(extra_inputs),
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)
        return self

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"Modality {str(self)!r} is immutable")

    def __reduce__(self) -> tuple:
        return (by_name, (str(self),))

    def __deepcopy__(self, memo: dict) -> Modality:
        return self

    @property
    def name(self) -> str:
        return str(self)

    # ----- inputs -----

    def make_inputs(
        self,
        config: Any,
        generator: Any,
        batch: int,
        length: int,
        decoder_length: int,
        aliases: Mapping[str, str] | None = None,
        low_id: int = 2,
    ) -> dict[str, Any]:
        """Seeded random inputs for one forward: token ids, pixels or audio, plus the mask and decoder ids."""
        import torch

        inputs: dict[str, Any] = {}
        for name in (self.main_input, *self.extra_inputs):
            inputs[name] = _random_input(name, config, generator, batch, length, aliases, low_id)
        if self.attention_mask:
            inputs["attention_mask"] = torch.ones(batch, length, dtype=torch.long)
        if self.encoder_decoder:
            vocab = config_value(config, "vocab_size", aliases)
            inputs["decoder_input_ids"] = torch.randint(low_id, vocab, (batch, decoder_length), generator=generator)
        return inputs


def _random_input(
    name: str, config: Any, generator: Any, batch: int, length: int, aliases: Mapping[str, str] | None, low_id: int
) -> Any:
    import torch

    value = lambda key: config_value(config, key, aliases)  # noqa: E731
    if name == "input_ids":
        return torch.randint(low_id, value("vocab_size"), (batch, length), generator=generator)
    if name == "pixel_values":
        size = value("image_size")
        size = size if isinstance(size, int) else size[0]
        return torch.rand(batch, value("num_channels"), size, size, generator=generator)
    if name == "input_features":  # log-mel frames; Whisper's encoder wants exactly 2 * max_source_positions
        frames = 2 * value("max_source_positions")
        return torch.randn(batch, value("num_mel_bins"), frames, generator=generator)
    if name == "input_values":  # a raw waveform, exactly long enough for ``length`` frames after the conv strides
        return torch.randn(
            batch, _samples_for_frames(value("conv_kernel"), value("conv_stride"), length), generator=generator
        )
    raise ValueError(f"no input generator for {name!r}")


def _samples_for_frames(kernels: Any, strides: Any, frames: int) -> int:
    """The fewest waveform samples from which a stack of unpadded 1-D convolutions makes ``frames`` frames, so that
    the layers an adapter sits in see ``length`` positions, as they do for tokens."""
    samples = frames
    for kernel, stride in reversed(list(zip(kernels, strides, strict=True))):
        samples = (samples - 1) * stride + kernel
    return samples


_TEXT_HEADS = ("classification", "multilabel_classification", "tagging", "multiple_choice", "question_answering")

MODALITY_LIST: tuple[Modality, ...] = (
    Modality(
        "text_encoder",
        main_input="input_ids",
        attention_mask=True,
        pooling="first",
        head_types=(*_TEXT_HEADS, "masked_lm"),
    ),
    Modality(
        "decoder",
        main_input="input_ids",
        attention_mask=True,
        causal=True,
        generation="causal",
        pooling="last",
        head_types=("classification", "multilabel_classification", "tagging", "question_answering", "causal_lm"),
    ),
    Modality(
        "encoder_decoder",
        main_input="input_ids",
        attention_mask=True,
        encoder_decoder=True,
        generation="seq2seq",
        pooling="eos",
        head_types=("classification", "multilabel_classification", "question_answering", "seq2seq_lm"),
    ),
    Modality(
        "vision",
        main_input="pixel_values",
        attention_mask=False,
        pooling="first",
        head_types=("image_classification",),
    ),
    # Whisper: log-mel features into the encoder, text out of the decoder
    Modality(
        "speech_encoder_decoder",
        main_input="input_features",
        attention_mask=False,
        encoder_decoder=True,
        generation="seq2seq",
        pooling="eos",
        head_types=("seq2seq_lm",),
    ),
    # wav2vec2, HuBERT: a raw waveform through a convolutional feature encoder, then a transformer encoder over the
    # frames; the base configs take no attention mask (group-norm feature encoder), heads read every frame
    Modality(
        "audio_encoder",
        main_input="input_values",
        attention_mask=False,
        pooling="first",
        head_types=("tagging",),
    ),
    # CLIP's dual model: token ids and pixels, each through its own tower
    Modality(
        "text_image",
        main_input="input_ids",
        attention_mask=True,
        pooling="eos",
        head_types=(),
        extra_inputs=("pixel_values",),
    ),
)
MODALITIES: dict[str, Modality] = {m.name: m for m in MODALITY_LIST}


def by_name(name: str | Modality) -> Modality:
    if isinstance(name, Modality):
        return name
    try:
        return MODALITIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown modality {name!r}; expected one of {', '.join(MODALITIES)}") from None
