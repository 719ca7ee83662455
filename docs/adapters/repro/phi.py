# AdapterHub 1.3.0 on Phi (its plugin interface; bottleneck adapters claimed): the FFN's adapter gets no residual input
# (layer_pre_ffn=None), so a parallel bottleneck adapter (par_bn, which reads the residual input) crashes, and so do
# Split and BatchSplit of any bottleneck adapter (they slice the residual input)
import sys

import adapters
import torch
from adapters import composition as ac
from transformers import PhiConfig, PhiModel


config = PhiConfig(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
ids = torch.randint(3, 99, (2, 8), generator=torch.Generator().manual_seed(0))
crashes = 0
for label, configs, setup in (
    ("par_bn", ("par_bn",), "a"),
    ("Split of two seq_bn", ("seq_bn", "seq_bn"), ac.Split("a", "b", splits=[4, 4])),
    ("BatchSplit of two seq_bn", ("seq_bn", "seq_bn"), ac.BatchSplit("a", "b", batch_sizes=[1, 1])),
):
    torch.manual_seed(0)
    m = PhiModel(config).eval()
    adapters.init(m)
    for name, adapter_config in zip("ab", configs, strict=False):  # par_bn alone: one adapter
        m.add_adapter(name, adapter_config)
    m.set_active_adapters(setup)
    try:
        with torch.no_grad():
            m(input_ids=ids)
        print(f"phi {label}: ran")
    except TypeError as e:
        crashes += 1
        print(f"phi {label} crashes: {e}")
sys.exit(1 if crashes else 0)
