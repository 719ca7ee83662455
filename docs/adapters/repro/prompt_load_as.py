# AdapterHub 1.3.0: a prompt-tuning adapter loaded under another name (load_as) keeps its fresh prompt, not the saved one
import tempfile

import adapters
import torch
from transformers import BertConfig, BertModel


cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
ids = torch.randint(3, 99, (2, 7), generator=torch.Generator().manual_seed(0))


def model():
    torch.manual_seed(0)
    m = BertModel(cfg).eval()
    adapters.init(m)
    return m


def out(m):
    with torch.no_grad():
        return m(input_ids=ids).last_hidden_state


source = model()
source.add_adapter("a", adapters.PromptTuningConfig(prompt_length=4), set_active=True)
with torch.no_grad():
    for name, p in source.named_parameters():
        if ".a." in name:
            p.copy_(torch.randn_like(p))
directory = tempfile.mkdtemp()
source.save_adapter(directory, "a", use_safetensors=True)
for load_as in ("a", "b"):
    target = model()
    target.load_adapter(directory, load_as=load_as, set_active=True, use_safetensors=True)
    prompts = [p for n, p in target.named_parameters() if f"prompt_tunings.{load_as}." in n]
    saved = [p for n, p in source.named_parameters() if "prompt_tunings.a." in n]
    print(f"load_as={load_as!r}: prompt equals the saved one:", torch.equal(prompts[0], saved[0]), end="; ")
    print("outputs equal the source's:", torch.equal(out(target), out(source)))
