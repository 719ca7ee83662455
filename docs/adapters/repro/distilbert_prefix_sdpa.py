# AdapterHub 1.3.0: prefix tuning on DistilBERT under SDPA attention (the default) disagrees with the same model under
# eager attention (whose masking of the prefix is the definition's): with a padded batch the real tokens' outputs
# differ: the prefix mask is padded with ones (its "attend" in a 0/1 mask, invert_mask=False) into the additive float
# mask SDPA gets (0 = attend), so every prefix score gains +1 (unpadded batches have no mask; MAM, UniPELT hold a prefix)
import sys

import adapters
import torch
from transformers import DistilBertConfig, DistilBertModel


torch.manual_seed(0)
config = DistilBertConfig(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37)
ids = torch.randint(3, 99, (2, 6))
mask = torch.ones_like(ids)
mask[0, :2] = 0  # the first row left-padded
outputs = {}
for attention in ("eager", "sdpa"):
    config._attn_implementation = attention
    torch.manual_seed(1)
    model = DistilBertModel(config).eval()
    adapters.init(model)
    model.add_adapter("p", adapters.PrefixTuningConfig(flat=True, prefix_length=5), set_active=True)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "prefix_tuning" in name:
                param.normal_()
        outputs[attention] = model(ids, attention_mask=mask).last_hidden_state
real = mask.bool()
diff = (outputs["eager"] - outputs["sdpa"])[real].abs().max().item()
print(f"prefix tuning, padded batch: eager vs sdpa at the real tokens, max diff {diff:.3g}")
sys.exit(1 if diff > 1e-5 else 0)
