# AdapterHub 1.3.0: adapters.init on an X-MOD model deletes X-MOD's own language modules (every layer's
# output.adapter_modules, XmodModelAdaptersMixin.init_adapters) without a word, so the plain model's outputs change
# before any adapter is added; lang_ids is refused afterwards. AdapterHub means its own converted checkpoint
# (AdapterHub/xmod-base, the language modules as adapters to load), but a transformers X-MOD given to
# adapters.init silently loses them. With the language modules' output zeroed, the two agree
import copy
import sys

import adapters
import torch
from transformers import XmodConfig, XmodModel


torch.manual_seed(0)
config = XmodConfig(
    vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
    languages=["en_XX", "de_DE"], default_language="en_XX",
)  # fmt: skip
model = XmodModel(config).eval()
ids = torch.randint(3, 99, (2, 6))
with torch.no_grad():
    plain = model(ids).last_hidden_state
    hub = copy.deepcopy(model)
    adapters.init(hub)
    diff = (hub(ids).last_hidden_state - plain).abs().max().item()
    for name, param in model.named_parameters():
        if "adapter_modules" in name and "dense2" in name:
            param.zero_()  # the language modules add nothing
    silenced = (hub(ids).last_hidden_state - model(ids).last_hidden_state).abs().max().item()


def count(m):
    return sum("adapter_modules" in name for name, _ in m.named_parameters())


print(f"language-module tensors: {count(model)} in X-MOD, {count(hub)} after adapters.init")
print(f"adapters.init alone changes X-MOD's outputs: max diff {diff:.3g}")
print(f"against X-MOD with its language modules' output zeroed: max diff {silenced:.3g}")
sys.exit(1 if diff > 0 else 0)
