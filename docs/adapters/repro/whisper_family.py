# AdapterHub 1.3.0 on Whisper (its table claims the methods used here): (1) generate() under Parallel crashes (4 vs 2:
# AdapterHub replicates only the main input, input_features, as GPT-2's input_ids in parallel_generate.py); (2)
# WhisperAdapterModel's _reorder_cache lacks @staticmethod: beam search with the cache crashes (TypeError); (3)
# generate()'s cached decoding steps differ from the uncached ones with a prefix under sdpa (the decoder prefix's
# misalignment, prefix_sdpa_seq2seq.py; eager agrees); (4) with ReFT too: a cached decoding step (one new token) is
# edited as prefix position 0 (reft_cache.py); (5) a closed gated prefix (UniPELT's) differs between sdpa and eager
# (the same misalignment); (6) save_pretrained of a model with an invertible adapter writes it under
# encoder.invertible_adapters too, which adapters.load_model reports as unexpected keys
import copy
import sys
import tempfile

import adapters
import torch
from adapters import WhisperAdapterModel
from adapters.composition import Parallel
from transformers import WhisperConfig, WhisperForConditionalGeneration


CONFIG = WhisperConfig(
    vocab_size=99, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4,
    decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, num_mel_bins=8, max_source_positions=8,
    max_target_positions=16, decoder_start_token_id=1, pad_token_id=0, eos_token_id=2, bos_token_id=1,
    begin_suppress_tokens=None, suppress_tokens=None,
)  # fmt: skip


def build(config=None, attn="sdpa", close_gates=False, names=("a",)):
    torch.manual_seed(1)
    cfg = copy.deepcopy(CONFIG)
    cfg._attn_implementation = attn
    m = WhisperForConditionalGeneration(cfg).eval()
    adapters.init(m)
    for name in names if config is not None else ():
        m.add_adapter(name, config, set_active=True)
    m.eval()
    with torch.no_grad():
        for key, p in m.named_parameters():
            if any(f".{n}." in key for n in names) and "parametrizations" not in key:  # LoReFT's R stays orthogonal
                p.copy_(torch.randn_like(p) * 0.3)
            if close_gates and "gate" in key:  # sigmoid(-40): closed
                p.fill_(-40.0 if key.endswith("bias") else 0.0)
    return m


GEN = dict(max_new_tokens=5, min_new_tokens=5, do_sample=False, num_beams=1)


def cached_vs_uncached(m, feats):
    """generate()'s scores of 5 greedy tokens with and without the KV cache: max difference."""
    with torch.no_grad():
        runs = [
            m.generate(input_features=feats, use_cache=c, return_dict_in_generate=True, output_scores=True, **GEN)
            for c in (True, False)
        ]
    cached, uncached = torch.stack(runs[0].scores), torch.stack(runs[1].scores)
    finite = cached.isfinite()  # min_new_tokens sets the end token's score to -inf
    return (cached[finite] - uncached[finite]).abs().max().item()


torch.manual_seed(0)
feats, dec = torch.randn(2, 8, 16), torch.randint(3, 99, (2, 6))
wrong = False

m = build(adapters.SeqBnConfig(), names=("a", "b"))
m.set_active_adapters(Parallel("a", "b"))
try:
    with torch.no_grad():
        print("(1) generate() under Parallel: ran, output", tuple(m.generate(input_features=feats, **GEN).shape))
except RuntimeError as error:
    print(f"(1) generate() under Parallel: RuntimeError: {error}")
    wrong = True

torch.manual_seed(1)
head_model = WhisperAdapterModel(copy.deepcopy(CONFIG)).eval()
head_model.add_seq2seq_lm_head("h")
try:
    with torch.no_grad():
        head_model.generate(input_features=feats, **{**GEN, "num_beams": 2}, use_cache=True)
    print("(2) WhisperAdapterModel beam search with the cache: ran")
except TypeError as error:
    print(f"(2) WhisperAdapterModel beam search with the cache: TypeError: {error}")
    wrong = True

prefix = adapters.PrefixTuningConfig(prefix_length=5)
d = {attn: cached_vs_uncached(build(prefix, attn), feats) for attn in ("sdpa", "eager")}
print(f"(3) prefix, generate() scores cached vs uncached: sdpa max diff {d['sdpa']:.3g}, eager {d['eager']:.2g}")
reft = cached_vs_uncached(build(adapters.LoReftConfig(r=2, dropout=0.0)), feats)
print(f"(4) LoReFT (prefix positions 0-2), generate() scores cached vs uncached: max diff {reft:.3g}")
gated = adapters.PrefixTuningConfig(prefix_length=5, use_gating=True)
with torch.no_grad():
    closed = [build(gated, attn, close_gates=True)(input_features=feats, decoder_input_ids=dec).logits
              for attn in ("sdpa", "eager")]  # fmt: skip
gate = (closed[0] - closed[1]).abs().max().item()
print(f"(5) closed gated prefix, sdpa vs eager: max diff {gate:.3g}")
wrong |= d["sdpa"] > 1e-4 >= d["eager"] or reft > 1e-4 or gate > 1e-4

m = build(adapters.SeqBnInvConfig())
with tempfile.TemporaryDirectory() as tmp:
    m.save_pretrained(tmp)
    loaded, info = adapters.load_model(tmp, WhisperForConditionalGeneration, output_loading_info=True)
print(f"(6) save_pretrained + adapters.load_model: {len(info['unexpected_keys'])} unexpected keys, e.g. "
      f"{sorted(info['unexpected_keys'])[:1]}")  # fmt: skip
wrong |= bool(info["unexpected_keys"])
print("DEFECT: see the lines above" if wrong else "fixed")
sys.exit(1 if wrong else 0)
