# AdapterHub 1.3.0: Parallel of LoRA or IA3 adapters on ViT, whose published table row claims the Parallel block (✅):
# its self-attention reads the batch size before a wrapped projection replicates the batch, so
# `.view(batch, -1, heads, head_size)` folds the second branch into the sequence: with the query adapted it crashes
# (34 vs 17 positions), with only key and value adapted (IA3's default) it runs and every query attends to both
# branches' keys: branch a differs from a alone
import sys

import adapters
import torch
from adapters.composition import Parallel
from transformers import ViTConfig, ViTModel


cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
wrong = []
for name, config in (
    ("seq_bn", adapters.SeqBnConfig()),  # for comparison: bottleneck adapters run in Parallel
    ("lora q, k, v", adapters.LoRAConfig(attn_matrices=["q", "k", "v"])),
    ("ia3 k, v", adapters.IA3Config()),
):
    torch.manual_seed(0)
    m = ViTModel(cfg).eval()
    adapters.init(m)
    for adapter in ("a", "b"):
        m.add_adapter(adapter, config)
    with torch.no_grad():  # non-trivial weights, so that the branches differ
        for key, p in m.named_parameters():
            if ".a." in key or ".b." in key:
                p.add_(torch.randn_like(p) * 0.1)
    m.eval()
    with torch.no_grad():
        m.set_active_adapters("a")
        alone = m(pixel_values=pixels).last_hidden_state
        m.set_active_adapters(Parallel("a", "b"))
        try:
            both = m(pixel_values=pixels).last_hidden_state
        except RuntimeError as e:
            wrong.append(name)
            print(f"{name}: Parallel(a, b) crashes: {e}")
            continue
    diff = (both[:2] - alone).abs().max().item()
    print(f"{name}: Parallel(a, b) runs; branch a vs a alone: max diff {diff:.2e}")
    if diff > 1e-5:
        wrong.append(name)
sys.exit(1 if wrong else 0)
