# AdapterHub 1.3.0: GLOW invertible adapter, prefix-tuning safetensors, GPT-2 sdpa prefix (issue 10 items 4-6)
import tempfile

import adapters
import torch
from transformers import BertConfig, BertModel, GPT2Config, GPT2Model


torch.manual_seed(0)

# 4. the GLOW invertible adapter crashes (hidden sizes 32, 64, 768)
for hidden in (32, 64, 768):
    cfg = BertConfig(
        vocab_size=99, hidden_size=hidden, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37
    )
    m = BertModel(cfg).eval()
    adapters.init(m)
    try:
        m.add_adapter("a", adapters.SeqBnInvConfig(inv_adapter="glow"), set_active=True)
        m(input_ids=torch.randint(3, 99, (2, 7)))
        print(f"glow hidden {hidden}: ran")
    except Exception as e:
        print(f"glow hidden {hidden} crashes:", type(e).__name__, str(e)[:90])

# 5. save_adapter(..., use_safetensors=True) of prefix tuning
cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
m = BertModel(cfg)
adapters.init(m)
m.add_adapter("p", "prefix_tuning")
with tempfile.TemporaryDirectory() as d:
    try:
        m.save_adapter(d, "p", use_safetensors=True)
        print("prefix safetensors: saved")
    except Exception as e:
        print("prefix safetensors save fails:", type(e).__name__, str(e)[:90])


# 6. GPT-2 prefix tuning under sdpa (the default) vs eager
def gpt2(attn):
    torch.manual_seed(1)
    g = GPT2Model(GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4, attn_implementation=attn)).eval()
    adapters.init(g)
    g.add_adapter("p", adapters.PrefixTuningConfig(prefix_length=5), set_active=True)
    with torch.no_grad():
        for k, p in g.named_parameters():
            if ".p." in k:
                p.copy_(torch.randn_like(p) * 0.3)
    return g


ids = torch.randint(3, 99, (2, 7))
mask = torch.ones(2, 7, dtype=torch.long)
mask[0, -2:] = 0
eager, sdpa = gpt2("eager"), gpt2("sdpa")
with torch.no_grad():
    for label, kw in (("no padding", {}), ("padding", {"attention_mask": mask})):
        e, s = eager(input_ids=ids, **kw).last_hidden_state, sdpa(input_ids=ids, **kw).last_hidden_state
        sdpa.set_active_adapters(None)
        plain = sdpa(input_ids=ids, **kw).last_hidden_state
        sdpa.set_active_adapters("p")
        print(
            f"gpt2 prefix, {label}: sdpa vs eager max diff {(e - s).abs().max():.3f}; "
            f"sdpa vs plain model {(s - plain).abs().max():.3f}"
        )
