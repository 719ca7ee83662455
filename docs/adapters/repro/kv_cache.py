# AdapterHub 1.3.0 on transformers 4.57.6: adapters.init on Llama and Mistral breaks the KV cache, with no adapter
# added. Their attention classes take `past_key_value`, which transformers 4.57 passes as `past_key_values`: the cache
# is never filled, so each cached decoding step attends to its own token only.
import sys

import adapters
import torch
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM


small = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=37,
)
ids = torch.randint(3, 99, (2, 6), generator=torch.Generator().manual_seed(1))
broken = False
for model_class, config_class in ((LlamaForCausalLM, LlamaConfig), (MistralForCausalLM, MistralConfig)):
    for init in (False, True):
        torch.manual_seed(0)
        m = model_class(config_class(**small)).eval()
        if init:
            adapters.init(m)
        scores = []
        for cache in (True, False):
            with torch.no_grad():
                out = m.generate(
                    input_ids=ids, max_new_tokens=4, do_sample=False, use_cache=cache, pad_token_id=0,
                    output_scores=True, return_dict_in_generate=True,
                )  # fmt: skip
            scores.append(torch.stack(out.scores))
        diff = (scores[0] - scores[1]).abs().max().item()
        broken |= init and diff > 1e-4
        label = "after adapters.init" if init else "plain model        "
        print(f"{model_class.__name__:18} {label}: scores with vs without cache, max diff {diff:.2g}")
sys.exit(1 if broken else 0)
