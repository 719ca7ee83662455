# AdapterHub 1.3.0: adapters.init on a DeBERTa (v1) model changes its outputs. DeBERTa's fused in_proj has no bias;
# AdapterHub's LoRAMergedLinear.wrap builds its replacement with a bias (nn.Linear's default) and copies only the
# weight, so every layer's q, k and v gain a freshly drawn random bias before any adapter is added
import sys

import adapters
import torch
from transformers import DebertaConfig, DebertaModel


torch.manual_seed(0)
config = DebertaConfig(
    vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
    relative_attention=True, pos_att_type="p2c|c2p", max_relative_positions=16,
)  # fmt: skip
model = DebertaModel(config).eval()
ids = torch.randint(3, 99, (2, 6))
with torch.no_grad():
    plain = model(ids).last_hidden_state
    had_bias = model.encoder.layer[0].attention.self.in_proj.bias is not None
    adapters.init(model)
    after = model(ids).last_hidden_state
bias = model.encoder.layer[0].attention.self.in_proj.bias
print(f"in_proj bias before init: {had_bias}; after: {bias is not None} (max |bias| {bias.abs().max():.3f})")
diff = (after - plain).abs().max().item()
print(f"adapters.init alone changes DeBERTa's outputs: max diff {diff:.3g}")
sys.exit(1 if diff > 0 else 0)
