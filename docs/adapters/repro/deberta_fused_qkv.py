# AdapterHub 1.3.0: LoRA (and IA3) on DeBERTa (v1) adapt the wrong rows of its fused in_proj. DeBERTa orders in_proj's
# rows per head ([q_0, k_0, v_0, q_1, k_1, v_1, ...], transformers' DisentangledSelfAttention.transpose_for_scores
# then chunk(3)); AdapterHub's LoRAMergedLinear takes them as three blocks [q | k | v], so a LoRA on "q" changes
# head 0's q, k, v and head 1's q (4 heads), not the 4 query heads
import sys

import adapters
import torch
from transformers import DebertaConfig, DebertaModel


torch.manual_seed(0)
heads, head_dim = 4, 8
config = DebertaConfig(
    vocab_size=99, hidden_size=heads * head_dim, num_hidden_layers=1, num_attention_heads=heads,
    intermediate_size=37, relative_attention=True, pos_att_type="p2c|c2p", max_relative_positions=16,
)  # fmt: skip
model = DebertaModel(config).eval()
adapters.init(model)
model.add_adapter("a", adapters.LoRAConfig(attn_matrices=["q"], r=2), set_active=True)
with torch.no_grad():
    for name, param in model.named_parameters():
        if "loras.a." in name:
            param.normal_()
outputs = []
in_proj = model.encoder.layer[0].attention.self.in_proj
in_proj.register_forward_hook(lambda module, args, out: outputs.append(out))
ids = torch.randint(3, 99, (1, 5))
with torch.no_grad():
    model(ids)
    model.set_active_adapters(None)
    model(ids)
changed = (outputs[0] - outputs[1]).abs().amax(dim=(0, 1)) > 0
kinds = ["qkv"[(row // head_dim) % 3] + str(row // (3 * head_dim)) for row in range(3 * heads * head_dim)]
touched = sorted({kind for kind, hit in zip(kinds, changed.tolist(), strict=True) if hit})
print(f"a LoRA on 'q' changes in_proj's rows of (projection + head): {touched}")
print(f"expected: {['q' + str(h) for h in range(heads)]}")
sys.exit(1 if touched != ["q" + str(h) for h in range(heads)] else 0)
