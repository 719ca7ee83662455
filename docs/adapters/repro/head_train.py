# AdapterHub 1.3.0: train_adapter("a") activates adapter a but leaves head b active
import adapters
from transformers import BertConfig


cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
m = adapters.AutoAdapterModel.from_config(cfg)
for n in ("a", "b"):
    m.add_adapter(n, "seq_bn")
    m.add_classification_head(n, num_labels=2)
m.set_active_adapters("b")
m.train_adapter("a")
print("active adapters:", m.active_adapters, "active head:", m.active_head)
