# AdapterHub 1.3.0: DoRA differs from its definition, and Parallel / BatchSplit use the last adapter's magnitude
import adapters
import torch
from adapters.composition import Parallel
from transformers import BertConfig, BertModel


torch.manual_seed(0)
cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37)
m = BertModel(cfg).eval()
adapters.init(m)
config = adapters.DoRAConfig(r=4, alpha=8, attn_matrices=["q"], output_lora=False, intermediate_lora=False)
for name in ("a", "b"):
    m.add_adapter(name, config)
query = m.encoder.layer[0].attention.self.query
with torch.no_grad():  # random LoRA factors and magnitudes, so that each adapter does something
    for name in ("a", "b"):
        lora = query.loras[name]
        lora.lora_A.normal_(0, 0.3)
        lora.lora_B.normal_(0, 0.3)
        lora.m.weight.mul_(1 + 0.5 * torch.rand_like(lora.m.weight))
m.eval()

# DoRA (Liu et al., 2024): W' = m * (W0 + s BA) / ||W0 + s BA|| (row norms), output W' x + bias, s = alpha / r
x = torch.randn(2, 5, 32)
lora = query.loras["a"]
s = lora.scaling
direction = query.weight + s * lora.lora_B @ lora.lora_A
expected = x @ (lora.m.weight * direction / direction.norm(dim=1, keepdim=True)).T + query.bias
m.set_active_adapters("a")
with torch.no_grad():
    actual = query(x)
print(
    "DoRA matches its definition:",
    torch.allclose(actual, expected, atol=1e-5),
    "max diff",
    (actual - expected).abs().max().item(),
)
print("  (AdapterHub divides by ||W0 + BA|| without the scaling s and scales the bias too)")

# Parallel(a, b): branch a must equal a alone; AdapterHub applies the last adapter's (b's) magnitude and norm
ids = torch.randint(3, 99, (2, 6))
with torch.no_grad():
    m.set_active_adapters(Parallel("a", "b"))
    branch_a = m(ids).last_hidden_state[:2]
    m.set_active_adapters("a")
    alone_a = m(ids).last_hidden_state
print(
    "Parallel branch a equals a alone:",
    torch.allclose(branch_a, alone_a, atol=1e-5),
    "max diff",
    (branch_a - alone_a).abs().max().item(),
)
