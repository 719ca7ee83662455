# AdapterHub 1.3.0 on BART, MBart and PLBart (one set of mixins): (1) generate()'s cached decoding steps differ from
# the uncached ones with a prefix under sdpa (the decoder prefix's misalignment, prefix_sdpa_seq2seq.py; eager agrees);
# (2) with ReFT too: a cached decoding step (one new token) is edited as prefix position 0 (reft_cache.py); (3) a
# closed gated prefix (UniPELT's) differs between sdpa and eager (the same misalignment); (4) XForConditionalGeneration
# transforms the embeddings with the invertible adapter and never runs its inverse before the static LM head
# (t5_invertible_head.py); (5) save_pretrained of a model with an invertible adapter writes it under
# encoder.invertible_adapters too, which adapters.load_model reports as unexpected keys
import copy
import sys
import tempfile

import adapters
import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    MBartConfig,
    MBartForConditionalGeneration,
    PLBartConfig,
    PLBartForConditionalGeneration,
)


SIZES = dict(
    vocab_size=99, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4,
    decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37,
)  # fmt: skip
FAMILY = {
    "BART": (BartConfig, BartForConditionalGeneration),
    "MBart": (MBartConfig, MBartForConditionalGeneration),
    "PLBart": (PLBartConfig, PLBartForConditionalGeneration),
}


def build(name, config, attn="sdpa", close_gates=False):
    config_cls, model_cls = FAMILY[name]
    torch.manual_seed(1)
    cfg = config_cls(**SIZES)
    cfg._attn_implementation = attn
    m = model_cls(copy.deepcopy(cfg)).eval()
    adapters.init(m)
    m.add_adapter("a", config, set_active=True)
    m.eval()
    with torch.no_grad():
        for key, p in m.named_parameters():
            if ".a." in key and "parametrizations" not in key:  # LoReFT's orthogonal R: noise would make it 0
                p.copy_(torch.randn_like(p) * 0.3)
            if close_gates and "gate" in key:  # sigmoid(-40): closed
                p.fill_(-40.0 if key.endswith("bias") else 0.0)
    return m


def cached_vs_uncached(m, ids):
    """generate()'s scores of 5 greedy tokens with and without the KV cache: max difference."""
    kw = dict(max_new_tokens=5, min_new_tokens=5, do_sample=False, num_beams=1, output_scores=True)
    with torch.no_grad():
        runs = [m.generate(input_ids=ids, use_cache=c, return_dict_in_generate=True, **kw) for c in (True, False)]
    cached, uncached = torch.stack(runs[0].scores), torch.stack(runs[1].scores)
    finite = cached.isfinite()  # min_new_tokens sets the end token's score to -inf
    return (cached[finite] - uncached[finite]).abs().max().item()


torch.manual_seed(0)
ids, dec = torch.randint(3, 99, (2, 7)), torch.randint(3, 99, (2, 6))
wrong = False
for name in FAMILY:
    prefix = adapters.PrefixTuningConfig(prefix_length=5)
    d = {attn: cached_vs_uncached(build(name, prefix, attn), ids) for attn in ("sdpa", "eager")}
    print(
        f"{name} (1) prefix, generate() scores cached vs uncached: sdpa max diff {d['sdpa']:.3g}, eager {d['eager']:.2g}"
    )
    reft = cached_vs_uncached(build(name, adapters.LoReftConfig(r=2, dropout=0.0)), ids)
    print(f"{name} (2) LoReFT (prefix positions 0-2), generate() scores cached vs uncached: max diff {reft:.3g}")
    gated = adapters.PrefixTuningConfig(prefix_length=5, use_gating=True)
    with torch.no_grad():
        closed = [build(name, gated, attn, close_gates=True)(input_ids=ids, decoder_input_ids=dec).logits
                  for attn in ("sdpa", "eager")]  # fmt: skip
    gate = (closed[0] - closed[1]).abs().max().item()
    print(f"{name} (3) closed gated prefix, sdpa vs eager: max diff {gate:.3g}")
    m = build(name, adapters.SeqBnInvConfig())
    calls = []
    forward = m.model.invertible_adapters_forward
    m.model.invertible_adapters_forward = lambda h, rev=False, f=forward, c=calls: c.append(rev) or f(h, rev=rev)
    with torch.no_grad():
        m(input_ids=ids, decoder_input_ids=dec)
    print(f"{name} (4) invertible adapter calls: forward {calls.count(False)}, inverse {calls.count(True)}")
    m.model.invertible_adapters_forward = forward
    with tempfile.TemporaryDirectory() as tmp:
        m.save_pretrained(tmp)
        loaded, info = adapters.load_model(tmp, FAMILY[name][1], output_loading_info=True)
    print(f"{name} (5) save_pretrained + adapters.load_model: {len(info['unexpected_keys'])} unexpected keys, e.g. "
          f"{sorted(info['unexpected_keys'])[:1]}")  # fmt: skip
    wrong |= d["sdpa"] > 1e-4 >= d["eager"] or reft > 1e-4 or gate > 1e-4 or True not in calls
    wrong |= bool(info["unexpected_keys"])
print("DEFECT: see the lines above" if wrong else "fixed")
sys.exit(1 if wrong else 0)
