# AdapterHub 1.3.0: generate() under a Parallel setup crashes on GPT-2 (4 vs 2: the replicated batch meets an unreplicated tensor)
import adapters
import torch
from adapters import composition as ac
from transformers import GPT2Config, GPT2LMHeadModel


torch.manual_seed(0)
g = GPT2LMHeadModel(GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4)).eval()
adapters.init(g)
for n in ("a", "b"):
    g.add_adapter(n, "seq_bn")
g.set_active_adapters(ac.Parallel("a", "b"))
ids = torch.randint(3, 99, (2, 5))
try:
    out = g.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=3, do_sample=False)
    print("gpt2 Parallel generate: ran, output", tuple(out.shape))
except Exception as e:
    print("gpt2 Parallel generate crashes:", type(e).__name__, str(e)[:100])
