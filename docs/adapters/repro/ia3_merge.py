# AdapterHub 1.3.0: merging IA3 scales the weight but not the bias, while the unmerged IA3 scales the whole output
import adapters
import torch
from transformers import BertConfig, BertModel


torch.manual_seed(0)
cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
m = BertModel(cfg).eval()
adapters.init(m)
m.add_adapter("a", adapters.IA3Config(), set_active=True)
with torch.no_grad():  # scales other than 1, so that the adapter does something
    for name, p in m.named_parameters():
        if ".loras.a." in name:
            p.copy_(1 + 0.5 * torch.randn_like(p))
    for name, p in m.named_parameters():  # non-zero biases, as in any trained model
        if name.endswith(".bias"):
            p.normal_(0, 0.5)
m.eval()
ids = torch.randint(3, 99, (2, 6))
with torch.no_grad():
    unmerged = m(ids).last_hidden_state
    m.merge_adapter("a")
    merged = m(ids).last_hidden_state
print(
    "merged IA3 equals unmerged:",
    torch.allclose(merged, unmerged, atol=1e-5),
    "max diff",
    (merged - unmerged).abs().max().item(),
)
