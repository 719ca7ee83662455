# AdapterHub 1.3.0: get_fusion_regularization_loss (AdapterHub's fusion training adds it to the loss) crashes on CLIP,
# whose published table row claims AdapterFusion (✅): it reads config.hidden_size, which a CLIPConfig has only in its
# text and vision configs (AttributeError)
import sys

import adapters
from adapters.composition import Fuse
from transformers import CLIPConfig, CLIPModel


tower = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}
cfg = CLIPConfig(
    text_config={**tower, "vocab_size": 99},
    vision_config={**tower, "image_size": 32, "patch_size": 8},
    projection_dim=16,
)
m = CLIPModel(cfg)
adapters.init(m)
for name in ("a", "b"):
    m.add_adapter(name, adapters.SeqBnConfig())
m.add_adapter_fusion(Fuse("a", "b"))
m.train_adapter_fusion(Fuse("a", "b"))
try:
    loss = m.get_fusion_regularization_loss()
    print("fusion regularization loss:", float(loss))
except AttributeError as e:
    print("get_fusion_regularization_loss on CLIP crashes:", e)
    sys.exit(1)
