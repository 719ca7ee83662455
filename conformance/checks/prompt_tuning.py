"""Prompt tuning: the model runs as if the prompt vectors were part of the input, padding stays masked, the outputs
line up with the input, and a prompt can start from token embeddings.

Each place (``combine``), and each with ``placement="embeddings_output"`` (after the module that embeds the input,
AdapterHub's placement), is compared with the suite's oracle (``conformance.oracles.prompt_tuning``); stacked prompts
with the plain model run on ``inputs_embeds`` with the prompts inserted by hand.
"""

from __future__ import annotations

import pytest
import torch

from architectures.live import get_path, resolve_layout
from conformance import impl
from conformance.capabilities import requires
from conformance.models import adapter_model, lm_head_class, make_inputs, plain_model, randomize_adapter, run
from conformance.oracles.base import main_tensor
from conformance.oracles.invertible import embedding_modules
from conformance.oracles.prompt_tuning import EMBEDDING
from conformance.oracles.run import expected_output


LENGTH = 4


def _prompted(spec, seed: int, names=("a",), class_name: str | None = None, **options):
    model = adapter_model(spec, class_name)
    for offset, name in enumerate(names):
        model.add_adapter(name, impl.make_config({"config": "prompt_tuning", "prompt_length": LENGTH, **options}))
        randomize_adapter(model, name, seed + offset, std=0.5)
    return model


def _prompt(model, name: str = "a") -> torch.Tensor:
    return impl.adapter_weights(model, name)[EMBEDDING]


def _insert(seq: torch.Tensor, piece: torch.Tensor, combine: str) -> torch.Tensor:
    if combine == "prefix":
        return torch.cat([piece, seq], 1)
    if combine == "prefix_after_bos":
        return torch.cat([seq[:, :1], piece, seq[:, 1:]], 1)
    return torch.cat([seq, piece], 1)


def _by_hand(spec, inputs, prompts, combine: str) -> torch.Tensor:
    """The plain model's output with ``prompts`` inserted into the embedded input, prompt positions cut."""
    plain = plain_model(spec)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    embeds = embedding_modules(plain, spec)[0](ids)  # the (encoder) stack's own: 5.0.0's UMT5 keeps it apart
    keep = torch.ones(ids.shape[1], dtype=torch.bool)
    for prompt in prompts:
        embeds = _insert(embeds, prompt.expand(ids.shape[0], -1, -1), combine)
        mask = _insert(mask, torch.ones(ids.shape[0], len(prompt), dtype=mask.dtype), combine)
        keep = _insert(keep[None], torch.zeros(1, len(prompt), dtype=torch.bool), combine)[0]
    kwargs = {"inputs_embeds": embeds, "attention_mask": mask}
    if spec.is_encoder_decoder:
        return run(plain, {**kwargs, "decoder_input_ids": inputs["decoder_input_ids"]})
    return run(plain, kwargs)[:, keep]


def _combines(spec) -> list[str]:
    return ["prefix", "prefix_after_bos"] + ([] if spec.modality.causal else ["suffix"])


def _every_combine_matches_oracle(spec, seed: int, **options) -> None:
    """Each ``combine`` on padded inputs (padding in front for decoders, behind otherwise) against the oracle."""
    inputs = make_inputs(spec, seed)
    if spec.has_attention_mask:
        inputs["attention_mask"] = inputs["attention_mask"].clone()
        inputs["attention_mask"][0, : 3 if spec.modality == "decoder" else -3 :] = 0
    for combine in _combines(spec):
        config = {"config": "prompt_tuning", "prompt_length": LENGTH, "combine": combine, **options}
        model = _prompted(spec, seed, combine=combine, **options)
        model.set_active_adapters("a")
        expected = expected_output(plain_model(spec), spec, config, impl.adapter_weights(model, "a"), inputs)
        torch.testing.assert_close(run(model, inputs), expected, atol=1e-5, rtol=1e-5, msg=combine)


@pytest.mark.feature("prompt_tuning")
class PromptTuningChecks:
    def test_every_placement_matches_oracle(self, spec, check_seed):
        """Each ``combine`` on padded inputs (padding in front for decoders, behind otherwise) against the oracle."""
        _every_combine_matches_oracle(spec, check_seed)

    @requires("has_embedding_module")
    def test_embeddings_output_placement_matches_the_definition(self, spec, check_seed):
        """``placement="embeddings_output"`` (AdapterHub's): the prompt goes into the output of the module that embeds
        the input (no position, type or layer norm; the tokens keep theirs), each ``combine`` against the oracle."""
        _every_combine_matches_oracle(spec, check_seed, placement="embeddings_output")

    @requires("has_attention_mask")
    def test_stacked_prompts_are_inserted_in_order(self, spec, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = _prompted(spec, check_seed, names=("a", "b"))
        model.set_active_adapters(["a", "b"])
        # a Stack puts prompts that go at one place there in stack order: [a; b] before the first token
        expected = _by_hand(spec, inputs, [torch.cat([_prompt(model, "a"), _prompt(model, "b")])], "prefix")
        torch.testing.assert_close(run(model, inputs), expected, atol=1e-5, rtol=1e-5)

    @requires("has_attention_mask")
    def test_padding_stays_masked(self, spec, check_seed):
        """Right padding changes nothing at the real tokens (an unmasked prompt or pad would)."""
        inputs = make_inputs(spec, check_seed)
        real = inputs["input_ids"].shape[1] - 3
        padded = {**inputs, "attention_mask": inputs["attention_mask"].clone()}
        padded["attention_mask"][0, real:] = 0
        short = {k: v[:1, :real] if k in ("input_ids", "attention_mask") else v[:1] for k, v in inputs.items()}
        for combine in _combines(spec):
            model = _prompted(spec, check_seed, combine=combine)
            model.set_active_adapters("a")
            full, alone = run(model, padded)[:1], run(model, short)
            if not spec.is_encoder_decoder:  # the decoder's positions are the same in both; else compare the reals
                full = full[:, :real]
            torch.testing.assert_close(full, alone, atol=1e-5, rtol=1e-5, msg=combine)

    def test_outputs_line_up_with_the_input(self, spec, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = _prompted(spec, check_seed)
        model.set_active_adapters("a")
        with torch.no_grad():
            outputs = model(**inputs, output_hidden_states=True)
        plain = plain_model(spec)(**inputs, output_hidden_states=True)
        key = "decoder_hidden_states" if spec.is_encoder_decoder else "hidden_states"
        shapes = [tuple(h.shape) for h in outputs[key]]
        assert shapes == [tuple(h.shape) for h in plain[key]], "every hidden state must keep the input's length"
        if spec.is_encoder_decoder:  # the decoder attends to the prompt, so the encoder output keeps it
            length = plain.encoder_last_hidden_state.shape[1] + LENGTH
            assert outputs.encoder_last_hidden_state.shape[1] == length

    @requires("has_lm_head")
    def test_cached_generation_with_left_padding(self, spec, check_seed):
        inputs = make_inputs(spec, check_seed)
        prompt = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"].clone()}
        prompt["attention_mask"][0, :3] = 0
        model = _prompted(spec, check_seed, class_name=lm_head_class(spec))
        model.set_active_adapters("a")
        settings = {"max_new_tokens": 4, "min_new_tokens": 4, "do_sample": False, "output_scores": True}
        with torch.no_grad():
            cached = model.generate(**prompt, **settings, use_cache=True, return_dict_in_generate=True)
            uncached = model.generate(**prompt, **settings, use_cache=False, return_dict_in_generate=True)
        assert torch.equal(cached.sequences, uncached.sequences)
        torch.testing.assert_close(torch.stack(cached.scores), torch.stack(uncached.scores), atol=1e-4, rtol=1e-4)

    @requires("has_attention_mask")
    def test_prompt_starts_from_token_embeddings(self, spec):
        model = adapter_model(spec)
        ids = [5, 9, 7]
        config = {"config": "prompt_tuning", "prompt_length": 5, "prompt_init": "from_string", "prompt_init_ids": ids}
        model.add_adapter("a", impl.make_config(config))
        table = get_path(model.base_model, resolve_layout(spec, model).embeddings).weight
        assert torch.equal(_prompt(model), table[[5, 9, 7, 5, 9]].detach()), "ids are repeated to the prompt length"
        vocabulary = table.shape[0]
        with pytest.raises(ValueError, match="vocabulary"):
            model.add_adapter("b", impl.make_config({**config, "prompt_init_ids": [vocabulary]}))
        assert "b" not in model.adapters_config

    def test_bad_prompt_configs_are_refused(self, spec):
        model = adapter_model(spec)
        with pytest.raises(ValueError, match="prompt_init_ids"):
            impl.make_config({"config": "prompt_tuning", "prompt_init": "from_string", "prompt_init_text": "hi"})
        refused = []
        if spec.modality.causal:
            refused.append({"config": "prompt_tuning", "combine": "suffix"})
        if not spec.modality.token_inputs:
            refused.append({"config": "prompt_tuning", "prompt_init": "from_string", "prompt_init_ids": [1]})
        elif not spec.has_embedding_module:  # no module embeds the input (with positions) before the layers
            refused.append({"config": "prompt_tuning", "placement": "embeddings_output"})
        for config in refused:
            with pytest.raises(ValueError):
                model.add_adapter("a", impl.make_config(config))
            assert not model.adapters_config

    @requires("!has_attention_mask")
    def test_prompt_is_inserted_after_the_embeddings(self, spec, check_seed):
        inputs = make_inputs(spec, check_seed)
        for combine in ("prefix", "prefix_after_bos", "suffix"):
            model = _prompted(spec, check_seed, combine=combine)
            prompt = _prompt(model)
            plain = plain_model(spec)
            parent = resolve_layout(spec, model).embeddings.rsplit(".", 1)[0]
            keep = []

            def by_hand(module, args, output, prompt=prompt, combine=combine, keep=keep):
                output, put = main_tensor(output)
                marks = _insert(torch.zeros(1, output.shape[1]), torch.ones(1, len(prompt)), combine)[0]
                keep.append(marks == 0)
                return put(_insert(output, prompt.expand(output.shape[0], -1, -1), combine))

            get_path(plain.base_model, parent).register_forward_hook(by_hand)
            expected = run(plain, inputs)[:, keep[0]]
            model.set_active_adapters("a")
            torch.testing.assert_close(run(model, inputs), expected, atol=1e-5, rtol=1e-5, msg=combine)
