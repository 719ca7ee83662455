"""The adapter model with flexible heads is a real transformers model: what transformers' common model tests ask of a
``PreTrainedModel``, asked of the implementation's adapter model, with adapters active. Our own checks, modelled on
what those tests cover (save/load, hidden states and attentions, return_dict, padding, determinism, training,
generation, gradient checkpointing, embeddings resizing, attention implementations)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import transformers

from architectures.heads import head_types
from conformance import impl
from conformance.capabilities import requires
from conformance.checks.heads import flex_model, head_inputs, head_labels, head_parameters, logits_of
from conformance.heads import HEADS
from conformance.interface import implementation_gap
from conformance.methods import METHODS
from conformance.models import make_inputs, prompt_inputs, randomize_adapter


ATOL = 1e-5
# The adapters every check of this module runs with: a LoRA and a bottleneck adapter, stacked. One that the
# architecture or the implementation declares it cannot take there (a gap) is left out.
SETUP_METHODS = ("lora", "seq_bn")


def head_kind(spec: Any) -> str:
    """The head these checks use: the family's LM head where it has one (generation), else its first head type."""
    offered = head_types(spec)
    for kind in ("causal_lm", "seq2seq_lm"):
        if kind in offered:
            return kind
    return offered[0]


def adapted(spec: Any, seed: int, kind: str | None = None, attn_implementation: str | None = None) -> Any:
    """The adapter model with a head and two active, non-trivial adapters (stacked), in eval mode."""
    model = flex_model(spec, attn_implementation)
    kind = kind or head_kind(spec)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # a head draws its initial weights: the same for the same check
        getattr(model, HEADS[kind].add)("h", **HEADS[kind].kwargs)
    names = []
    for offset, method in enumerate(SETUP_METHODS):
        if spec.gap_reason(METHODS[method].feature, method) or _unstackable(spec, method):
            continue
        model.add_adapter(method, impl.make_config(METHODS[method].config))
        randomize_adapter(model, method, seed + offset, std=0.05)
        names.append(method)
    model.set_active_adapters(impl.composition().Stack(*names))
    model.active_head = "h"
    return model.eval()


def _unstackable(spec: Any, method: str) -> bool:
    """Does the implementation declare that it cannot take ``method`` into a Stack on this architecture (AdapterHub's
    LoRA on GPT-2)?"""
    implementation = impl.current()
    return implementation_gap(implementation.gaps_on(spec), "stack", method, None, spec.name) is not None


def outputs_of(model: Any, inputs: dict[str, Any], **kwargs: Any) -> Any:
    with torch.no_grad():
        return model(**inputs, **kwargs)


@pytest.mark.feature("adapter_model")
class AdapterModelChecks:
    def test_is_a_pretrained_model(self, spec, check_seed):
        model = adapted(spec, check_seed)
        assert isinstance(model, transformers.PreTrainedModel), f"{type(model).__name__} is not a PreTrainedModel"
        assert model.config is model.base_model.config, "the adapter model and its base model must share one config"
        counted = sum(p.numel() for p in model.parameters())
        assert model.num_parameters() == counted
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        assert model.num_parameters(only_trainable=True) == trainable

    def test_save_pretrained_round_trip(self, spec, check_seed, tmp_path):
        model = adapted(spec, check_seed)
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        expected = logits_of(outputs_of(model, inputs))
        model.save_pretrained(tmp_path / "model")
        loaded = impl.load_adapter_model(tmp_path / "model").eval()
        assert isinstance(loaded, transformers.PreTrainedModel)
        loaded.set_active_adapters(model.active_adapters)
        loaded.active_head = "h"
        torch.testing.assert_close(logits_of(outputs_of(loaded, inputs)), expected, atol=ATOL, rtol=0)

    def test_return_dict_false_gives_the_same_tuple(self, spec, check_seed):
        model = adapted(spec, check_seed)
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        as_dict = outputs_of(model, inputs)
        as_tuple = outputs_of(model, inputs, return_dict=False)
        assert isinstance(as_tuple, tuple), f"return_dict=False gave {type(as_tuple).__name__}"
        first = next(v for v in as_dict.values() if isinstance(v, torch.Tensor))
        torch.testing.assert_close(as_tuple[0], first, atol=0, rtol=0)

    def test_hidden_states_are_the_base_models(self, spec, check_seed):
        model = adapted(spec, check_seed)
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        output = outputs_of(model, inputs, output_hidden_states=True)
        states = getattr(output, "hidden_states", None)
        if states is None:  # encoder-decoders report both stacks
            states = getattr(output, "decoder_hidden_states", None)
        assert states is not None and len(states) >= 2, "output_hidden_states=True returned no hidden states"
        base_inputs = {k: v for k, v in inputs.items() if k != "labels"}
        base = outputs_of(model.base_model, base_inputs, output_hidden_states=True)
        base_states = getattr(base, "hidden_states", None) or base.decoder_hidden_states
        assert len(states) == len(base_states)
        for mine, theirs in zip(states, base_states, strict=True):
            torch.testing.assert_close(mine, theirs, atol=0, rtol=0)

    @requires("supports_sdpa")
    def test_attentions_with_eager_attention(self, spec, check_seed):
        # built with eager: some families pick their attention classes at construction (transformers 5.0's BEiT),
        # where set_attn_implementation changes nothing
        model = adapted(spec, check_seed, attn_implementation="eager")
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        output = outputs_of(model, inputs, output_attentions=True)
        attentions = getattr(output, "attentions", None) or getattr(output, "decoder_attentions", None)
        assert attentions, "output_attentions=True returned no attention weights"
        for weights in attentions:
            sums = weights.sum(-1)
            torch.testing.assert_close(sums, torch.ones_like(sums), atol=1e-5, rtol=0)

    @requires("supports_sdpa")
    def test_eager_and_sdpa_agree(self, spec, check_seed):
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        sdpa, eager = (
            logits_of(outputs_of(adapted(spec, check_seed, attn_implementation=name), inputs))
            for name in ("sdpa", "eager")
        )
        torch.testing.assert_close(sdpa, eager, atol=1e-4, rtol=1e-4)

    def test_eval_is_deterministic(self, spec, check_seed):
        model = adapted(spec, check_seed)
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        assert torch.equal(logits_of(outputs_of(model, inputs)), logits_of(outputs_of(model, inputs)))

    @requires("has_attention_mask")
    def test_padded_batch_equals_single_examples(self, spec, check_seed):
        """Each example alone gives what it gives inside a padded batch (decoders pad on the left)."""
        kind = head_kind(spec)
        if kind not in ("causal_lm", "tagging", "masked_lm"):
            kind = "tagging" if "tagging" in head_types(spec) and impl.offers_head(spec, "tagging") else kind
        model = adapted(spec, check_seed, kind)
        config = spec.make_config()
        pad = config.pad_token_id if config.pad_token_id is not None else 0
        generator = torch.Generator().manual_seed(check_seed)
        lengths = (8, 5)
        left = spec.modality == "decoder"
        ids = torch.full((2, max(lengths)), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        singles = []
        for row, length in enumerate(lengths):
            tokens = torch.randint(3, config.vocab_size, (length,), generator=generator)
            where = slice(max(lengths) - length, None) if left else slice(0, length)
            ids[row, where], mask[row, where] = tokens, 1
            singles.append({"input_ids": tokens[None], "attention_mask": torch.ones(1, length, dtype=torch.long)})
        extra = {}
        if spec.is_encoder_decoder:
            extra = {"decoder_input_ids": torch.randint(3, config.vocab_size, (1, 4), generator=generator)}
        batch = {"input_ids": ids, "attention_mask": mask, **_rows(extra, 2)}
        if left:  # each token keeps its own position, as generate() makes sure
            batch["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
        batched = logits_of(outputs_of(model, batch))
        for row, (length, single) in enumerate(zip(lengths, singles, strict=True)):
            alone = logits_of(outputs_of(model, {**single, **extra}))[0]
            if kind == "seq2seq_lm" or alone.dim() == 1:  # one output per example, not per input token
                torch.testing.assert_close(batched[row], alone, atol=1e-4, rtol=1e-4)
                continue
            where = slice(max(lengths) - length, None) if left else slice(0, length)
            torch.testing.assert_close(batched[row, where], alone, atol=1e-4, rtol=1e-4)

    def test_training_reaches_adapters_and_heads_only(self, spec, check_seed):
        model = adapted(spec, check_seed)
        model.train_adapter(model.active_adapters)
        model.active_head = "h"
        kind = head_kind(spec)
        inputs = head_inputs(spec, kind, check_seed)
        labels = head_labels(spec, kind, 3, check_seed)
        model(**inputs, **labels).loss.backward()
        base = {id(p) for p in model.base_model.parameters()}
        head = {k for k, p in head_parameters(model, "h").items() if id(p) not in base}  # a tied output is the base's
        adapters = {k for m in SETUP_METHODS if m in model.adapters_config for k in impl.adapter_parameters(model, m)}
        learning = head | adapters
        with_grad = {k for k, p in model.named_parameters() if p.grad is not None}
        assert with_grad - learning == set(), f"gradients reached frozen weights {sorted(with_grad - learning)[:5]}"
        missing = {k for k in learning if k not in with_grad}
        assert not missing, f"no gradient reached {sorted(missing)[:5]}"

    @requires("has_lm_head")
    def test_generate_greedy_and_beam_with_and_without_cache(self, spec, check_seed):
        model = adapted(spec, check_seed)
        config = spec.make_config()
        prompt = prompt_inputs(spec, make_inputs(spec, check_seed, batch=2))  # the modality's inputs
        # exactly 4 new tokens: a random model may emit its end-of-sequence token first, and the cache must matter
        options = {
            "max_new_tokens": 4,
            "min_new_tokens": 4,
            "do_sample": False,
            "pad_token_id": config.pad_token_id or 0,
        }
        if spec.is_encoder_decoder:
            options["decoder_start_token_id"] = config.decoder_start_token_id
        found = {}
        for beams in (1, 2):
            for cache in (True, False):
                with torch.no_grad():
                    out = model.generate(**prompt, num_beams=beams, use_cache=cache, **options)
                found[(beams, cache)] = out
            assert torch.equal(found[(beams, True)], found[(beams, False)]), f"num_beams={beams}: cache changes output"
        assert found[(1, True)].shape[0] == 2 and found[(1, True)].shape[1] >= 4

    @requires("supports_gradient_checkpointing")
    def test_gradient_checkpointing_gives_the_same_gradients(self, spec, check_seed):
        kind = head_kind(spec)
        inputs = head_inputs(spec, kind, check_seed)
        labels = head_labels(spec, kind, 3, check_seed)
        grads = []
        for checkpointing in (False, True):
            model = adapted(spec, check_seed)
            model.train_adapter(model.active_adapters)  # training mode: transformers checkpoints only then
            model.active_head = "h"
            if checkpointing:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(check_seed)  # the same dropout masks; recomputation restores the RNG state
                model(**inputs, **labels).loss.backward()
            grads.append({k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None})
        assert grads[0].keys() == grads[1].keys()
        for key in grads[0]:
            torch.testing.assert_close(grads[1][key], grads[0][key], atol=1e-5, rtol=1e-4, msg=key)

    @requires("has_lm_head")
    def test_resize_token_embeddings_keeps_heads_tied(self, spec, check_seed):
        model = adapted(spec, check_seed)
        vocab = model.get_input_embeddings().weight.shape[0]
        model.resize_token_embeddings(vocab + 8)
        embeddings = model.get_input_embeddings().weight
        assert embeddings.shape[0] == vocab + 8
        head = model.get_output_embeddings()
        assert head is not None and head.weight.shape[0] == vocab + 8, "the LM head did not follow the new vocabulary"
        if impl.head_config(model, "h")["tie_output"]:
            assert head.weight is embeddings, "a tied LM head must share the resized embeddings"
        inputs = head_inputs(spec, head_kind(spec), check_seed)
        assert logits_of(outputs_of(model, inputs)).shape[-1] == vocab + 8


def _rows(inputs: dict[str, torch.Tensor], rows: int) -> dict[str, torch.Tensor]:
    return {k: v.expand(rows, *v.shape[1:]) for k, v in inputs.items()}
