# AdapterHub 1.3.0: GPT-2's residual_before_ln="post_add" crash (post_add.py) on the pre-norm models of its plugin
# interface (no layer norm after the sub-layers: Qwen2, Qwen3, Phi): UnboundLocalError in pre_forward
import sys

import adapters
import torch
from transformers import PhiConfig, PhiModel, Qwen2Config, Qwen2Model, Qwen3Config, Qwen3Model


small = dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
crashes = 0
for model_class, config in (
    (Qwen2Model, Qwen2Config(**small, num_key_value_heads=2)),
    (Qwen3Model, Qwen3Config(**small, num_key_value_heads=2, head_dim=8)),
    (PhiModel, PhiConfig(**small)),
):
    m = model_class(config).eval()
    adapters.init(m)
    m.add_adapter("a", adapters.SeqBnConfig(residual_before_ln="post_add"), set_active=True)
    try:
        with torch.no_grad():
            m(input_ids=torch.randint(3, 99, (2, 6)))
        print(f"{model_class.__name__} post_add: ran")
    except UnboundLocalError as e:
        crashes += 1
        print(f"{model_class.__name__} post_add crashes: {e}")
sys.exit(1 if crashes else 0)
