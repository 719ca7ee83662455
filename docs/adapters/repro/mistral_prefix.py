# AdapterHub 1.3.0: prefix tuning on Mistral under sdpa (the default attention) has Llama's defect (prefix_positions.py):
# without padding sdpa's is_causal aligns the causal mask to the top left of the keys the prefix lengthened; with
# padding the prefix is masked out (the output equals the plain model's). Eager attention is unaffected.
import sys

import adapters
import torch
from transformers import MistralConfig, MistralModel


def mistral(attn):
    torch.manual_seed(1)
    config = MistralConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, attn_implementation=attn,
    )  # fmt: skip
    m = MistralModel(config).eval()
    adapters.init(m)
    m.add_adapter("p", adapters.PrefixTuningConfig(prefix_length=5), set_active=True)
    with torch.no_grad():
        for key, p in m.named_parameters():
            if ".p." in key:
                p.copy_(torch.randn_like(p) * 0.3)
    return m


ids = torch.randint(3, 99, (2, 7), generator=torch.Generator().manual_seed(0))
mask = torch.ones(2, 7, dtype=torch.long)
mask[0, :2] = 0
eager, sdpa = mistral("eager"), mistral("sdpa")
worst = 0.0
with torch.no_grad():
    for label, kw in (("no padding", {}), ("padding", {"attention_mask": mask})):
        e, s = eager(input_ids=ids, **kw).last_hidden_state, sdpa(input_ids=ids, **kw).last_hidden_state
        sdpa.set_active_adapters(None)
        plain = sdpa(input_ids=ids, **kw).last_hidden_state
        sdpa.set_active_adapters("p")
        worst = max(worst, (e - s).abs().max().item())
        print(
            f"mistral prefix, {label}: sdpa vs eager max diff {(e - s).abs().max():.3f}; "
            f"sdpa vs plain model {(s - plain).abs().max():.3g}"
        )
sys.exit(1 if worst > 1e-5 else 0)
