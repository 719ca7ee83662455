# AdapterHub 1.3.0: ReFT under a KV cache edits positions relative to each forward pass, not to the sequence: a cached
# decoding step (one new token) is taken for position 0 and edited as a prefix position
import adapters
import torch
from transformers import GPT2Config, GPT2Model


torch.manual_seed(0)
m = GPT2Model(GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4)).eval()
adapters.init(m)
m.add_adapter("a", adapters.LoReftConfig(r=2, prefix_positions=1, suffix_positions=0, dropout=0.0), set_active=True)
m.eval()  # added after eval()
with torch.no_grad():
    for name, p in m.named_parameters():
        if "learned_source" in name:
            p.copy_(torch.randn_like(p))
ids = torch.randint(3, 99, (1, 6))
with torch.no_grad():
    full = m(input_ids=ids).last_hidden_state  # position 0 is edited, position 5 is not
    first = m(input_ids=ids[:, :5], use_cache=True)
    step = m(input_ids=ids[:, 5:], past_key_values=first.past_key_values).last_hidden_state
print("cached step for position 5 equals the uncached output:", torch.allclose(step[:, 0], full[:, 5], atol=1e-5))
print("max diff:", (step[:, 0] - full[:, 5]).abs().max().item())
