# AdapterHub 1.3.0 on transformers 4.57: a BertGenerationDecoder given adapters.init crashes in every forward pass that
# uses the cache (its default as a decoder): AdapterHub's self-attention indexes past_key_values as the legacy tuples,
# transformers passes a Cache object (TypeError in torch.cat); the plain model runs. Besides (without the cache), as
# on BERT (invertible_static_head.py), its invertible adapter transforms the embeddings and its inverse never runs
# before the LM head
import sys

import adapters
import torch
from transformers import BertGenerationConfig, BertGenerationDecoder


cfg = BertGenerationConfig(
    vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37, is_decoder=True
)
ids = torch.randint(3, 128, (2, 6), generator=torch.Generator().manual_seed(0))
crashed = False
for with_adapters in (False, True):
    m = BertGenerationDecoder(cfg).eval()
    if with_adapters:
        adapters.init(m)
    label = "with adapters.init" if with_adapters else "plain"
    for use_cache in (False, True):
        try:
            with torch.no_grad():
                m(input_ids=ids, use_cache=use_cache)
            print(f"BertGenerationDecoder {label}, use_cache={use_cache}: runs")
        except TypeError as e:
            crashed = True
            print(f"BertGenerationDecoder {label}, use_cache={use_cache}: crashes: {e}")

m = BertGenerationDecoder(cfg).eval()
adapters.init(m)
m.add_adapter("a", adapters.SeqBnInvConfig(), set_active=True)
m.eval()
directions = []  # the rev flag of each call of the invertible adapter
m.bert.invertible_adapters["a"].register_forward_hook(
    lambda mod, args, kwargs, out: directions.append(kwargs.get("rev", args[1] if len(args) > 1 else False)),
    with_kwargs=True,
)
with torch.no_grad():
    m(input_ids=ids, use_cache=False)
print("invertible adapter calls in one forward pass (rev):", directions, "- the inverse (rev=True) never runs")
sys.exit(1 if crashed or True not in directions else 0)
