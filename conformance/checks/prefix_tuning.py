"""Prefix tuning (and the unions that hold it): the prefix reaches every attention it should and nothing else.

Generation with the KV cache is checked for every method in ``generation``; these checks add what is particular to
a prefix: padding must stay invisible, a left-out layer must stay untouched, every prefix parameter must matter, and
the attention implementations (eager, sdpa) must agree.
"""

from __future__ import annotations

import torch

from architectures.live import MODEL_SEED, model_class
from conformance import impl
from conformance.capabilities import requires
from conformance.models import (
    adapter_model,
    main_output,
    make_inputs,
    model_layers,
    plain_model,
    randomize_adapter,
    run,
)
from conformance.oracles.run import expected_output


PADDED = 3  # padded positions in the first example of a batch
ATOL = 1e-5


def with_adapter(model, method, seed: int):
    model.add_adapter("a", impl.make_config(method.config))
    randomize_adapter(model, "a", seed)
    model.set_active_adapters("a")
    return model


def padded_inputs(spec, seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Inputs whose first example is padded (on the left for decoders, on the right otherwise), and its real mask."""
    inputs = make_inputs(spec, seed)
    mask = inputs["attention_mask"].clone()
    if spec.modality.causal:
        mask[0, :PADDED] = 0
    else:
        mask[0, -PADDED:] = 0
    inputs["attention_mask"] = mask
    return inputs, mask[0].bool()


def _seen(real: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """The output positions a padded example's real tokens decide: its real tokens' own, and any after the tokens'
    (another tower's, CLIP's image patches), which padding must not reach either."""
    after = torch.ones(output.shape[1] - real.shape[0], dtype=torch.bool)
    return torch.cat([real, after])


@torch.no_grad()
def roughened(model, seed: int, std: float = 0.1):
    """``model`` with noise on every weight: tiny models' near-zero parts (relative-position embeddings, biases)
    then matter, so a prefix column that meets the wrong position term shows."""
    generator = torch.Generator().manual_seed(seed)
    for _, param in sorted(model.named_parameters()):
        param.add_(torch.randn(param.shape, generator=generator) * std)
    return model


@torch.no_grad()
def first_layer_outputs(spec, model, inputs, count: int = 2) -> list[torch.Tensor]:
    """The output of each of the first ``count`` layers of the spec's layer lists, from its first call. Read off the
    layers, not transformers' ``hidden_states``: a model whose layers share weights across depth (ALBERT) reports
    one hidden state per step, and a step of transformers 4.x runs a whole group of layers."""
    found: dict[int, torch.Tensor] = {}

    def keep(index):
        def hook(module, args, output):
            found.setdefault(index, output[0] if isinstance(output, tuple) else output)

        return hook

    handles = [layer.register_forward_hook(keep(i)) for i, layer in enumerate(model_layers(model, spec)[:count])]
    try:
        model(**inputs)
    finally:
        for handle in handles:
            handle.remove()
    return [found[i] for i in range(count)]


def model_with_attention(spec, implementation: str):
    """The tiny base model built with ``implementation`` ("eager", "sdpa"), with the weights of ``plain_model``."""
    config = spec.make_config()
    config._attn_implementation = implementation
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(MODEL_SEED)
        model = model_class(spec)(config).eval()
    assert model.config._attn_implementation == implementation, f"{spec.name} did not build with {implementation}"
    return impl.init(model, spec)


def config_variants(spec, method) -> list[dict]:
    """The options prefix tuning's definition depends on, each on its own: which attentions get a prefix, its length,
    and the flat (not reparametrised) form."""
    variants = [{}, {"leave_out": [0]}, {"flat": True}, {"prefix_length": 3}]
    if spec.is_encoder_decoder:
        variants += [{"encoder_prefix": False}, {"cross_prefix": False}]
    return [{**method.config, **options} for options in variants]


@requires("prefix")
class PrefixTuningChecks:
    @requires("!union")  # a union's other parts have oracles of their own
    def test_options_and_padding_match_oracle(self, spec, method, check_seed):
        inputs, _ = padded_inputs(spec, check_seed) if spec.has_attention_mask else (make_inputs(spec, check_seed), 0)
        for config in config_variants(spec, method):
            model = adapter_model(spec)
            model.add_adapter("a", impl.make_config(config), set_active=True)
            randomize_adapter(model, "a", check_seed)
            expected = expected_output(plain_model(spec), spec, config, impl.adapter_weights(model, "a"), inputs)
            torch.testing.assert_close(
                run(model, inputs), expected, atol=ATOL, rtol=1e-4, msg=lambda m, config=config: f"{config}: {m}"
            )

    def test_left_out_layer_is_untouched(self, spec, method, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = adapter_model(spec)
        model.add_adapter("a", impl.make_config({**method.config, "leave_out": [0]}))
        randomize_adapter(model, "a", check_seed)
        model.set_active_adapters("a")
        got = first_layer_outputs(spec, model, inputs)
        want = first_layer_outputs(spec, plain_model(spec), inputs)
        assert torch.equal(got[0], want[0]), "layer 0 was left out, yet its output changed"
        assert not torch.allclose(got[1], want[1], atol=1e-4), "layer 1 has the adapter, yet its output is unchanged"

    @requires("has_attention_mask")
    def test_padding_stays_invisible(self, spec, method, check_seed):
        inputs, real = padded_inputs(spec, check_seed)
        model = roughened(adapter_model(spec), check_seed)
        without = run(model, inputs)
        model = with_adapter(model, method, check_seed)
        out = run(model, inputs)
        assert not torch.allclose(out, without, atol=1e-4), "the prefix did nothing"

        other = dict(inputs)  # other tokens at the padded positions: nothing else may change
        other["input_ids"] = inputs["input_ids"].clone()
        other["input_ids"][0, ~real] = (other["input_ids"][0, ~real] + 17) % spec.config_value(
            spec.make_config(), "vocab_size"
        )
        changed = run(model, other)
        seen = slice(None) if spec.is_encoder_decoder else _seen(real, out)  # an encoder-decoder's: the decoder's
        torch.testing.assert_close(changed[0, seen], out[0, seen], atol=ATOL, rtol=0)
        torch.testing.assert_close(changed[1], out[1], atol=ATOL, rtol=0)

        if not spec.modality.causal:  # right padding: the real tokens alone give the same outputs
            alone = {k: v[:1, : int(real.sum())] for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            alone |= {k: inputs[k][:1] for k in spec.modality.extra_inputs}
            if spec.is_encoder_decoder:
                alone["decoder_input_ids"] = inputs["decoder_input_ids"][:1]
            torch.testing.assert_close(run(model, alone)[0], out[0, seen], atol=ATOL, rtol=0)

    def test_every_parameter_matters(self, spec, method, check_seed):
        inputs = make_inputs(spec, check_seed)
        model = with_adapter(adapter_model(spec), method, check_seed)
        main_output(model(**inputs)).square().sum().backward()
        params = impl.adapter_parameters(model, "a")
        dead = sorted(k for k, p in params.items() if p.grad is None or not p.grad.abs().sum() > 0)
        assert not dead, f"parameters that do not reach the output (an attention the prefix misses?): {dead[:4]}"

    @requires("supports_sdpa")
    def test_eager_and_sdpa_agree(self, spec, method, check_seed):
        inputs, _ = padded_inputs(spec, check_seed) if spec.has_attention_mask else (make_inputs(spec, check_seed), 0)
        outputs = {}
        for implementation in ("eager", "sdpa"):
            model = with_adapter(model_with_attention(spec, implementation), method, check_seed)
            outputs[implementation] = run(model, inputs)
        torch.testing.assert_close(outputs["sdpa"], outputs["eager"], atol=ATOL, rtol=1e-4)
