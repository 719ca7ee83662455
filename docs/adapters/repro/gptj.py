# AdapterHub 1.3.0 on GPT-J: adapters.init changes the plain model's outputs by rounding (its block adds
# (attn + residual) + ffn, transformers attn + ffn + residual); bfloat16 crashes; and GPT-2's defects
# (parallel_generate.py, post_add.py, invertible_static_head.py) hold here too
import sys

import adapters
import torch
from adapters import composition as ac
from transformers import GPTJConfig, GPTJForCausalLM, GPTJModel


config = GPTJConfig(vocab_size=99, n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_positions=64)
ids = torch.randint(3, 99, (2, 8), generator=torch.Generator().manual_seed(0))
defects = 0


def model(cls=GPTJModel, init=True):
    torch.manual_seed(0)
    m = cls(config).eval()
    if init:
        adapters.init(m)
    return m


with torch.no_grad():  # 1. no adapter added: outputs change (rounding)
    diff = (model(init=False)(input_ids=ids)[0] - model()(input_ids=ids)[0]).abs().max().item()
print(f"adapters.init alone changes GPT-J's output: max diff {diff:.2g}")
defects += diff > 0
m = model()  # 2. bfloat16
m.add_adapter("a", "seq_bn", set_active=True)
try:
    with torch.no_grad():
        m.to(torch.bfloat16)(input_ids=ids)
    print("bfloat16: ran")
except RuntimeError as e:
    defects += 1
    print(f"bfloat16 crashes: {str(e)[:90]}")
m = model(GPTJForCausalLM)  # 3. generate under Parallel
for n in ("a", "b"):
    m.add_adapter(n, "seq_bn")
m.set_active_adapters(ac.Parallel("a", "b"))
try:
    m.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=3, do_sample=False, pad_token_id=0)
    print("Parallel generate: ran")
except RuntimeError as e:
    defects += 1
    print(f"Parallel generate crashes: {str(e)[:90]}")
m = model()  # 4. post_add
m.add_adapter("a", adapters.SeqBnConfig(residual_before_ln="post_add"), set_active=True)
try:
    m(input_ids=ids)
    print("post_add: ran")
except UnboundLocalError as e:
    defects += 1
    print(f"post_add crashes: {e}")
m = model(GPTJForCausalLM)  # 5. the invertible adapter's inverse is never applied before lm_head
m.add_adapter("a", adapters.SeqBnInvConfig(), set_active=True)
with torch.no_grad():
    for p in m.transformer.invertible_adapters["a"].parameters():
        p.normal_(0, 0.5)
seen = {}
m.transformer.ln_f.register_forward_hook(lambda mod, args, out: seen.__setitem__("normed", out))
m.lm_head.register_forward_pre_hook(lambda mod, args: seen.__setitem__("head_input", args[0]))
with torch.no_grad():
    m(input_ids=ids)
if torch.equal(seen["normed"], seen["head_input"]):
    defects += 1
    print("invertible adapter: lm_head gets the final norm's output as it is (no inverse)")
sys.exit(1 if defects else 0)
