# AdapterHub 1.3.0: ViT refuses invertible adapters, which its published model table claims for ViT (✅)
import sys

import adapters
from transformers import ViTConfig, ViTModel


cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
m = ViTModel(cfg)
adapters.init(m)
print("ViT supports the invertible method:", m.supports_adapter("invertible"))
refused = []
for name, config in (
    ("seq_bn_inv", adapters.SeqBnInvConfig()),
    ("double_seq_bn_inv", adapters.DoubleSeqBnInvConfig()),
):
    try:
        m.add_adapter(name, config)
        print(f"add_adapter({name}): accepted")
    except ValueError as e:
        refused.append(name)
        print(f"add_adapter({name}) refused: {str(e)[-40:]}")  # "... is not supported by this model."
# ViT's model mixin has no InvertibleAdaptersMixin (BERT's has): supports_adapter checks for it
sys.exit(1 if refused else 0)
