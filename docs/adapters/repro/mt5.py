# AdapterHub 1.3.0 on MT5, which runs its T5 mixins (adapters/models/mt5 imports them from ..t5.mixin_t5): the T5
# defects of t5_static_checkpoint.py and t5_invertible_head.py, reproduced on MT5: (1) a static
# MT5ForConditionalGeneration (untied LM head) or MT5ForQuestionAnswering checkpoint does not load as an
# MT5AdapterModel (ValueError: the state dictionary is corrupted); (2) MT5ForConditionalGeneration given adapters with
# adapters.init runs the invertible adapter forward and never its inverse before the static LM head
import sys
import tempfile

import adapters
import torch
from adapters import MT5AdapterModel
from transformers import MT5Config, MT5ForConditionalGeneration, MT5ForQuestionAnswering


config = MT5Config(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4, tie_word_embeddings=False)
wrong = False
for cls in (MT5ForConditionalGeneration, MT5ForQuestionAnswering):
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        cls(config).save_pretrained(folder)
        try:
            model = MT5AdapterModel.from_pretrained(folder)
            print(f"(1) {cls.__name__}: loads, heads {list(model.heads)}")
        except ValueError as error:
            print(f"(1) {cls.__name__}: ValueError: {error}")
            wrong = True

torch.manual_seed(0)
m = MT5ForConditionalGeneration(config).eval()
adapters.init(m)
m.add_adapter("a", adapters.SeqBnInvConfig(), set_active=True)
calls = []
forward = m.encoder.invertible_adapters_forward
m.encoder.invertible_adapters_forward = lambda h, rev=False: calls.append(rev) or forward(h, rev=rev)
with torch.no_grad():
    m(input_ids=torch.randint(3, 99, (2, 7)), decoder_input_ids=torch.randint(3, 99, (2, 5)))
print(f"(2) invertible adapter calls: forward {calls.count(False)}, inverse {calls.count(True)}")
wrong |= True not in calls
print("DEFECT" if wrong else "fixed")
sys.exit(1 if wrong else 0)
