# AdapterHub 1.3.0: ReFT on CLIP's image tower. The definition edits each tower at its own first / last positions (the
# image tower has no padding). With suffix positions AdapterHub's image tower depends on the text's attention mask
# (right-padding the text, or an all-ones mask instead of none, changes its output); with prefix positions only the
# image tower is not edited at all (its output equals the plain model's; the text tower's is edited)
import sys

import adapters
import torch
from transformers import CLIPConfig, CLIPModel


tower = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}
cfg = CLIPConfig(
    text_config={**tower, "vocab_size": 99},
    vision_config={**tower, "image_size": 32, "patch_size": 8},
    projection_dim=16,
)
ids = torch.randint(3, 99, (2, 8), generator=torch.Generator().manual_seed(0))
pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
full = torch.ones(2, 8, dtype=torch.long)
right_padded = full.clone()
right_padded[0, -3:] = 0
wrong = False
for positions in ({"suffix_positions": 2}, {"prefix_positions": 2}):
    torch.manual_seed(0)
    m = CLIPModel(cfg).eval()
    adapters.init(m)
    m.add_adapter("a", adapters.LoReftConfig(**positions), set_active=True)
    m.eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if ".a." in name:
                p.add_(torch.randn_like(p) * 0.3)
        image = {
            label: m(input_ids=ids, pixel_values=pixels, attention_mask=mask).vision_model_output.last_hidden_state
            for label, mask in (("full", full), ("right-padded", right_padded), ("no mask", None))
        }
        m.set_active_adapters(None)
        plain = m(input_ids=ids, pixel_values=pixels, attention_mask=full).vision_model_output.last_hidden_state
    by_mask = max((image["full"] - image[k]).abs().max().item() for k in ("right-padded", "no mask"))
    edit = (image["full"] - plain).abs().max().item()
    print(
        f"LoReFT {positions}: image tower vs the plain model {edit:.2e}; changes with the text's mask by {by_mask:.2e}"
    )
    wrong |= by_mask > 1e-6 or edit < 1e-6
sys.exit(1 if wrong else 0)
