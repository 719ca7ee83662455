"""Generating text with an adapter active, on the architecture's language-modelling class, with the KV cache on."""

from __future__ import annotations

import torch

from conformance import impl
from conformance.capabilities import requires
from conformance.models import (
    adapter_model,
    lm_head_class,
    make_inputs,
    plain_model,
    prompt_inputs,
    randomize_adapter,
)


NEW_TOKENS = 5


def generate(model, inputs: dict[str, torch.Tensor], use_cache: bool):
    prompt = {k: v for k, v in inputs.items() if k != "decoder_input_ids"}  # generate produces the decoder ids
    with torch.no_grad():
        return model.generate(
            **prompt,
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,  # a fixed length, whatever the end-of-sequence token
            do_sample=False,
            num_beams=1,
            use_cache=use_cache,
            output_scores=True,
            return_dict_in_generate=True,
        )


@requires("has_lm_head")
class GenerationChecks:
    def test_generate_with_adapter(self, spec, method, check_seed):
        inputs = prompt_inputs(spec, make_inputs(spec, check_seed))
        class_name = lm_head_class(spec)
        model = adapter_model(spec, class_name)
        model.add_adapter("a", impl.make_config(method.config))
        randomize_adapter(model, "a", check_seed)
        model.set_active_adapters("a")

        cached = generate(model, inputs, use_cache=True)
        main = inputs[spec.modality.main_input]
        batch, prompt_length = main.shape[0], main.shape[-1]
        start = 1 if spec.is_encoder_decoder else prompt_length  # the decoder starts from its start token
        assert tuple(cached.sequences.shape) == (batch, start + NEW_TOKENS)
        uncached = generate(model, inputs, use_cache=False)
        assert torch.equal(cached.sequences, uncached.sequences), "the KV cache changed the greedy output"
        torch.testing.assert_close(torch.stack(cached.scores), torch.stack(uncached.scores), atol=1e-4, rtol=1e-4)

        plain = generate(plain_model(spec, class_name), inputs, use_cache=True)
        # An adapter that is not applied gives the plain scores exactly; one on prompt positions only (ReFT) reaches
        # the generated tokens through attention alone, by ~1e-5 on BLOOM (ALiBi): any difference beyond rounding
        assert not torch.allclose(torch.stack(cached.scores), torch.stack(plain.scores), atol=1e-6, rtol=0), (
            "generating with an active adapter of non-trivial weights gave the plain model's scores"
        )
