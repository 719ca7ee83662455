# AdapterHub 1.3.0: gradient checkpointing crashes on BEiT. AdapterHub's gradient_checkpointing_enable calls
# transformers' enable_input_require_grads, whose hook on the input embeddings calls output.requires_grad_(); BEiT's
# input embeddings (the patch embeddings) return a tuple: every training step then fails (AttributeError). The plain
# model (without adapters.init) trains with checkpointing
import sys

import adapters
import torch
from transformers import BeitConfig, BeitModel


cfg = BeitConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
failed = False
for with_adapters in (False, True):
    m = BeitModel(cfg)
    if with_adapters:
        adapters.init(m)
        m.add_adapter("a", adapters.SeqBnConfig())
        m.train_adapter("a")
    m.gradient_checkpointing_enable()
    m.train()
    label = "with adapters.init and an adapter" if with_adapters else "plain"
    try:
        m(pixel_values=pixels).last_hidden_state.sum().backward()
        print(f"BEiT {label}: a checkpointed training step runs")
    except AttributeError as e:
        failed = True
        print(f"BEiT {label}: a checkpointed training step crashes: {e}")
sys.exit(1 if failed else 0)
