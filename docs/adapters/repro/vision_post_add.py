# AdapterHub 1.3.0: a bottleneck adapter with residual_before_ln="post_add" crashes on the pre-norm vision encoders
# ViT, BEiT and CLIP's, as on GPT-2 (post_add.py): AdapterHub passes them no layer norm, and
# BottleneckLayer.pre_forward leaves `residual` unset (UnboundLocalError)
import sys

import adapters
import torch
from transformers import BeitConfig, BeitModel, CLIPVisionConfig, CLIPVisionModel, ViTConfig, ViTModel


tiny = {"image_size": 32, "patch_size": 8, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4}
pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
crashed = []
for model_class, config_class in ((ViTModel, ViTConfig), (BeitModel, BeitConfig), (CLIPVisionModel, CLIPVisionConfig)):
    m = model_class(config_class(**tiny, intermediate_size=37)).eval()
    adapters.init(m)
    m.add_adapter("a", adapters.SeqBnConfig(residual_before_ln="post_add"), set_active=True)
    m.eval()
    try:
        with torch.no_grad():
            m(pixel_values=pixels)
        print(f"post_add on {model_class.__name__}: ran")
    except UnboundLocalError as e:
        crashed.append(model_class.__name__)
        print(f"post_add on {model_class.__name__} crashes: {e}")
sys.exit(1 if crashed else 0)
