# AdapterHub 1.3.0: a bottleneck adapter with residual_before_ln="post_add" crashes on GPT-2 (a pre-norm model, where
# AdapterHub passes no layer norm): UnboundLocalError in BottleneckLayer.pre_forward
import adapters
import torch
from transformers import GPT2Config, GPT2Model


g = GPT2Model(GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4)).eval()
adapters.init(g)
g.add_adapter("a", adapters.SeqBnConfig(residual_before_ln="post_add"), set_active=True)
try:
    g(torch.randint(3, 99, (2, 6)))
    print("post_add on GPT-2: ran")
except UnboundLocalError as e:
    print("post_add on GPT-2 crashes:", e)
