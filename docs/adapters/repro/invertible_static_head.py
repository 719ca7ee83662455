# AdapterHub 1.3.0: a static LM head model (adapters.init) transforms the embeddings with the invertible adapter but
# never applies its inverse before the LM head (only AdapterHub's flexible LM heads do)
import adapters
import torch
from transformers import BertConfig, BertForMaskedLM


torch.manual_seed(0)
cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
m = BertForMaskedLM(cfg).eval()
adapters.init(m)
m.add_adapter("a", adapters.SeqBnInvConfig(), set_active=True)
with torch.no_grad():  # random coupling subnets, so that the invertible adapter does something
    for p in m.bert.invertible_adapters["a"].parameters():
        p.normal_(0, 0.5)
seen = {}
m.bert.embeddings.register_forward_hook(lambda mod, args, out: seen.__setitem__("embedded", out))
m.cls.predictions.transform.register_forward_hook(lambda mod, args, out: seen.__setitem__("head_transform", out))
m.cls.predictions.decoder.register_forward_pre_hook(lambda mod, args: seen.__setitem__("decoder_input", args[0]))
ids = torch.randint(3, 99, (2, 6))
with torch.no_grad():
    m(input_ids=ids)
    active = seen["embedded"].clone()
    m.set_active_adapters(None)
    m(input_ids=ids)
print("the embeddings are transformed:", not torch.equal(active, seen["embedded"]))
m.set_active_adapters("a")
with torch.no_grad():
    m(input_ids=ids)
print(
    "the output embeddings get the head's output as it is (no inverse):",
    torch.equal(seen["head_transform"], seen["decoder_input"]),
)
