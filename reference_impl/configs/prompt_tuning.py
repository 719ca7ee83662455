"""Prompt tuning config (Lester et al., 2021): a trained soft prompt inserted into the input embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from .base import AdapterConfig, check, check_choice, register_config


PromptInit = Literal["random_uniform", "from_string"]
Combine = Literal["prefix", "prefix_after_bos", "suffix"]
PromptPlacement = Literal["inputs_embeds", "embeddings_output"]


@register_config
@dataclass(frozen=True)
class PromptTuningConfig(AdapterConfig):
    """``prompt_length`` trained vectors inserted into the input: before it (``"prefix"``), after its first token
    (``"prefix_after_bos"``, which keeps a [CLS]/<bos> first) or after it (``"suffix"``, for encoders).

    ``prompt_init="random_uniform"`` draws them from U(-random_uniform_scale, random_uniform_scale);
    ``"from_string"`` copies the embeddings of the token ids ``prompt_init_ids`` (repeated or cut to the prompt
    length). This implementation never downloads a tokenizer: encode the text yourself and pass the ids.

    ``placement``: where a text model gets the prompt. ``"inputs_embeds"`` (the default): into the embedded input, as
    if the prompt were tokens: the model then embeds the longer sequence, so the prompt gets positions (and token type
    0) and the tokens after it shift. ``"embeddings_output"``: into the output of the module that embeds the input
    (BERT's ``embeddings``: token, position and type embeddings, layer norm, dropout), so the prompt gets none of them
    and the tokens keep their positions; position schemes inside the layers (relative, rotary) still see the longer
    sequence. That is where AdapterHub ``adapters`` puts it. Only models with such a module before their layers
    (BERT-like encoders) have it; decoders that add positions in their own forward (GPT-2, Llama) and encoder-decoders
    that embed in their stacks (T5, BART) refuse it. Vision and audio models always get the prompt in the output of
    the module holding the patch (or frame) embeddings, whichever placement is named. Either way the prompt positions
    are cut from the outputs (AdapterHub keeps them).
    """

    name: ClassVar[str] = "prompt_tuning"
    method: ClassVar[str] = "prompt_tuning"

    prompt_length: int = 10
    prompt_init: PromptInit = "random_uniform"
    prompt_init_ids: tuple[int, ...] = ()
    prompt_init_text: str | None = None
    random_uniform_scale: float = 0.5
    combine: Combine = "prefix"
    placement: PromptPlacement = "inputs_embeds"
    init_weights_seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "prompt_init_ids", tuple(self.prompt_init_ids))
        check(
            not self.leave_out, self, "a soft prompt is inserted once, before the first layer: leave_out must be empty"
        )
        check(
            isinstance(self.prompt_length, int) and self.prompt_length >= 1,
            self,
            f"prompt_length must be a positive integer, got {self.prompt_length!r}",
        )
        check_choice(self, "prompt_init", PromptInit)
        check_choice(self, "combine", Combine)
        check_choice(self, "placement", PromptPlacement)
        check(
            self.random_uniform_scale > 0, self, f"random_uniform_scale must be > 0, got {self.random_uniform_scale}"
        )
        check(
            self.prompt_init_text is None,
            self,
            "prompt_init_text needs a tokenizer, which this offline implementation never downloads: encode the text "
            "with your tokenizer and pass prompt_init_ids=[...] instead",
        )
        ids_ok = all(isinstance(i, int) and i >= 0 for i in self.prompt_init_ids)
        check(ids_ok, self, f"prompt_init_ids must be token ids >= 0, got {list(self.prompt_init_ids)}")
        if self.prompt_init == "from_string":
            check(bool(self.prompt_init_ids), self, "prompt_init='from_string' needs prompt_init_ids (token ids)")
        else:
            check(
                not self.prompt_init_ids,
                self,
                "prompt_init_ids are used only with prompt_init='from_string'; set it, or drop the ids",
            )
