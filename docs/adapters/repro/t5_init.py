# AdapterHub 1.3.0: adapters.init on T5 (and MT5, which runs the same mixins) changes a plain model's outputs by
# float rounding: AdapterHub's own copy of T5's attention, given the same inputs and no adapter, rounds differently
# (max diff about 2e-7 in one attention layer, 1e-6 at the output), so nothing comes back bit for bit
import copy
import sys

import adapters
import torch
from transformers import MT5Config, MT5Model, T5Config, T5Model


kw = {"input_ids": torch.randint(3, 99, (2, 8)), "decoder_input_ids": torch.randint(3, 99, (2, 6))}
wrong = False
for cls, config_cls in ((T5Model, T5Config), (MT5Model, MT5Config)):
    torch.manual_seed(0)
    config = config_cls(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4)
    plain = cls(config).eval()
    adapted = copy.deepcopy(plain)
    adapters.init(adapted)  # no adapter added
    seen = {}
    for key, model in (("plain", plain), ("init", adapted)):
        model.encoder.block[0].layer[0].SelfAttention.register_forward_pre_hook(
            lambda module, args, kwargs, key=key, seen=seen: seen.__setitem__(key, (args, kwargs)), with_kwargs=True
        )
    with torch.no_grad():
        before, after = plain(**kw).last_hidden_state, adapted(**kw).last_hidden_state
        args, kwargs = seen["plain"]  # the very same inputs into both attention layers
        layer = [m.encoder.block[0].layer[0].SelfAttention(*args, **kwargs)[0] for m in (plain, adapted)]
    print(
        f"{cls.__name__}: adapters.init alone changes the output by {(before - after).abs().max():.2g} "
        f"(bit for bit: {torch.equal(before, after)}); one attention layer, same inputs: "
        f"{(layer[0] - layer[1]).abs().max():.2g}"
    )
    wrong |= not torch.equal(before, after)
print("DEFECT: a plain model's outputs change" if wrong else "fixed")
sys.exit(1 if wrong else 0)
