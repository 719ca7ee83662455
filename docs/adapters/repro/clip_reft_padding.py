# AdapterHub 1.3.0: ReFT on CLIP with padded text: AdapterHub takes the prefix / suffix positions of every tower from
# the forward pass's attention mask (the text's), so the padding of the text moves where ReFT edits the image tower,
# which has no padding: the image embeddings change with the text's attention mask
import sys

import adapters
import torch
from transformers import CLIPConfig, CLIPModel


torch.manual_seed(0)
tower = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}
cfg = CLIPConfig(
    text_config={**tower, "vocab_size": 99},
    vision_config={**tower, "image_size": 32, "patch_size": 8},
    projection_dim=16,
)
m = CLIPModel(cfg).eval()
adapters.init(m)
m.add_adapter("a", adapters.LoReftConfig(prefix_positions=3, suffix_positions=3), set_active=True)
m.eval()
with torch.no_grad():
    for name, p in m.named_parameters():
        if ".a." in name:
            p.add_(torch.randn_like(p) * 0.3)
    ids = torch.randint(3, 99, (2, 8))
    pixels = torch.randn(2, 3, 32, 32)
    full = torch.ones(2, 8, dtype=torch.long)
    padded = full.clone()
    padded[0, -3:] = 0  # right padding in the first text
    image_full = m(input_ids=ids, pixel_values=pixels, attention_mask=full).image_embeds
    image_padded = m(input_ids=ids, pixel_values=pixels, attention_mask=padded).image_embeds
    m.set_active_adapters(None)
    plain_full = m(input_ids=ids, pixel_values=pixels, attention_mask=full).image_embeds
    plain_padded = m(input_ids=ids, pixel_values=pixels, attention_mask=padded).image_embeds
diff = (image_full - image_padded).abs().max().item()
print(f"plain model: image embeddings change with the text's mask by {(plain_full - plain_padded).abs().max():.2e}")
print(f"with LoReFT: image embeddings change with the text's mask by {diff:.2e}")
sys.exit(1 if diff > 1e-6 else 0)
