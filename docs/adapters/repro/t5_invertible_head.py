# AdapterHub 1.3.0: T5ForConditionalGeneration given adapters with adapters.init (as invertible_static_head.py on BERT
# and GPT-2): the encoder's invertible adapter transforms the embeddings, and its inverse never runs before the static
# LM head (no call with rev=True)
import sys

import adapters
import torch
from transformers import T5Config, T5ForConditionalGeneration


torch.manual_seed(0)
m = T5ForConditionalGeneration(T5Config(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4)).eval()
adapters.init(m)
m.add_adapter("a", adapters.SeqBnInvConfig(), set_active=True)
calls = []
forward = m.encoder.invertible_adapters_forward
m.encoder.invertible_adapters_forward = lambda h, rev=False: calls.append(rev) or forward(h, rev=rev)
with torch.no_grad():
    m(input_ids=torch.randint(3, 99, (2, 7)), decoder_input_ids=torch.randint(3, 99, (2, 5)))
print(f"invertible adapter calls: forward {calls.count(False)}, inverse {calls.count(True)}")
wrong = True not in calls
print("DEFECT: the inverse never runs before the LM head" if wrong else "fixed")
sys.exit(1 if wrong else 0)
