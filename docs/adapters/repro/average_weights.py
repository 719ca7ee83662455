# AdapterHub 1.3.0: average_adapter with fewer weights than adapters is accepted
import adapters
from transformers import BertConfig, BertModel


cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
m = BertModel(cfg)
adapters.init(m)
for n in ("s1", "s2", "s3"):
    m.add_adapter(n, "seq_bn")
try:
    m.average_adapter("avg", ["s1", "s2", "s3"], weights=[0.5, 0.5])
    print("accepted: adapters", list(m.adapters_config))
except ValueError as e:
    print("refused", e)
