# AdapterHub 1.3.0: Fuse of a parallel bottleneck adapter (par_bn) and an exact copy of it differs from the adapter alone
import adapters
import torch
from adapters.composition import Fuse
from transformers import BertConfig, BertModel


torch.manual_seed(0)
cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
ids = torch.randint(3, 99, (2, 6))
for method in ("seq_bn", "par_bn"):
    m = BertModel(cfg).eval()
    adapters.init(m)
    m.add_adapter("a", method)
    m.add_adapter("b", method)
    with torch.no_grad():  # random weights, b an exact copy of a
        for name, p in m.named_parameters():
            if ".adapters.a." in name:
                p.normal_(0, 0.3)
        for name, p in m.named_parameters():
            if ".adapters.b." in name:
                p.copy_(dict(m.named_parameters())[name.replace(".adapters.b.", ".adapters.a.")])
    m.add_adapter_fusion(Fuse("a", "b"))  # dynamic fusion; any attention over two equal outputs gives that output
    m.eval()
    with torch.no_grad():
        m.set_active_adapters(Fuse("a", "b"))
        fused = m(ids).last_hidden_state
        m.set_active_adapters("a")
        alone = m(ids).last_hidden_state
    print(
        f"{method}: Fuse(a, copy of a) equals a alone:",
        torch.allclose(fused, alone, atol=1e-5),
        "max diff",
        (fused - alone).abs().max().item(),
    )
