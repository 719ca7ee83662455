# AdapterHub 1.3.0: ReFT on T5 (an encoder-decoder) counts the decoder's positions with the encoder's attention mask:
# with suffix positions the decoder layers index past the end of a shorter decoder sequence (RuntimeError); a left-padded
# encoder row shifts the decoder's prefix positions by the encoder's padding (the decoder's own rows are not padded);
# under a KV cache a decoding step is edited as position 0
import sys

import adapters
import torch
from transformers import T5Config, T5Model


def t5(**reft):
    torch.manual_seed(0)
    model = T5Model(T5Config(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4)).eval()
    adapters.init(model)
    model.add_adapter("a", adapters.NoReftConfig(r=4, **reft), set_active=True)
    return model


ids, decoder_ids = torch.randint(3, 99, (2, 8)), torch.randint(3, 99, (2, 6))
mask = torch.ones(2, 8, dtype=torch.long)
wrong = False
try:
    with torch.no_grad():
        t5(prefix_positions=0, suffix_positions=2)(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids)
    print("suffix positions: runs")
except RuntimeError as error:
    print(f"suffix positions, encoder length 8, decoder length 6: RuntimeError: {error}")
    wrong = True

model = t5(prefix_positions=2)
seen = []
block = model.decoder.block[0]
block.layer[-1].register_forward_hook(lambda module, args, output: seen.append(output))  # before the edit
block.register_forward_hook(lambda module, args, output: seen.append(output[0]))  # after AdapterHub's edit hook
padded = mask.clone()
padded[0, :3] = 0  # the first encoder row left-padded by 3; the decoder rows are not padded
with torch.no_grad():
    model(input_ids=ids, attention_mask=padded, decoder_input_ids=decoder_ids)
edited = ((seen[1] - seen[0]).abs().amax(-1) > 0).int().tolist()
print("decoder positions a prefix of 2 edits (padded encoder row, full row):", edited)
wrong |= edited[0] != [1, 1, 0, 0, 0, 0]

# a cached decoding step (one new decoder token at position 5) is edited as prefix position 0 (reft_cache.py on T5)
model = t5(prefix_positions=1)
seen = []
block = model.decoder.block[0]
block.layer[-1].register_forward_hook(lambda module, args, output: seen.append(output))
block.register_forward_hook(lambda module, args, output: seen.append(output[0]))
with torch.no_grad():
    cache = model(input_ids=ids, decoder_input_ids=decoder_ids[:, :5], use_cache=True).past_key_values
    model(input_ids=ids, decoder_input_ids=decoder_ids[:, 5:], past_key_values=cache, use_cache=True)
step_edited = bool((seen[3] - seen[2]).abs().amax() > 0)
print("a cached step at decoder position 5 is edited by a prefix of 1:", step_edited)
wrong |= step_edited
print("DEFECT" if wrong else "fixed")
sys.exit(1 if wrong else 0)
