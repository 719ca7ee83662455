# AdapterHub 1.3.0: adapters.init on ModernBERT changes the plain model's outputs, with no adapter added. LoRA's wrapper
# of the fused Wqkv (LoRAMergedLinear.wrap) builds an nn.Linear with a bias when the wrapped layer has none
# (ModernBERT's attention_bias=False) and keeps that uninitialised bias: every output changes.
import sys

import adapters
import torch
from transformers import ModernBertConfig, ModernBertModel


torch.manual_seed(0)
config = ModernBertConfig(
    vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
    pad_token_id=0, global_attn_every_n_layers=2, local_attention=4,
)  # fmt: skip
m = ModernBertModel(config).eval()
ids = torch.randint(3, 99, (2, 6))
with torch.no_grad():
    before = m(input_ids=ids).last_hidden_state
    had_bias = m.layers[0].attn.Wqkv.bias is not None
    adapters.init(m)
    after = m(input_ids=ids).last_hidden_state
diff = (before - after).abs().max().item()
print(f"Wqkv bias before adapters.init: {had_bias}, after: {m.layers[0].attn.Wqkv.bias is not None}")
print(f"plain model's output changed by adapters.init (no adapter): max diff {diff:.3g}")
sys.exit(1 if diff > 0 else 0)
