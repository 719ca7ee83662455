# AdapterHub 1.3.0: add_adapter_fusion of two MAM (or UniPELT) adapters crashes inside AdapterHub with an unpacking
# error ("not enough values to unpack"), where Fuse is undefined for prefix tuning (they hold a prefix) and a refusal
# naming Fuse is expected; shown on ALBERT and BERT
import sys

import adapters
import torch
from adapters.composition import Fuse
from transformers import AlbertConfig, AlbertModel, BertConfig, BertModel


torch.manual_seed(0)
small = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
crashed = 0
for build in (lambda: AlbertModel(AlbertConfig(embedding_size=16, **small)), lambda: BertModel(BertConfig(**small))):
    for config in (adapters.MAMConfig, adapters.UniPELTConfig):
        model = build()
        adapters.init(model)
        model.add_adapter("a", config())
        model.add_adapter("b", config())
        try:
            model.add_adapter_fusion(Fuse("a", "b"))
            print(f"{type(model).__name__}, {config.__name__}: Fuse accepted")
        except Exception as error:  # noqa: BLE001 - what AdapterHub raises is the point
            print(f"{type(model).__name__}, {config.__name__}: {type(error).__name__}: {error}")
            crashed += "Fuse" not in str(error)
sys.exit(1 if crashed else 0)
