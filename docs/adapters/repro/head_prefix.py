# AdapterHub 1.3.0: save_head("m") also writes head "ml" (its tensors are selected by the name as a prefix), and
# load_head of that folder into a model with a head "ml" overwrites ml's weights with the saved ones
import sys
import tempfile

import adapters
import torch
from safetensors.torch import load_file
from transformers import BertConfig


def config():  # a config each: AdapterHub records its heads in the model's config object
    return BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)


m = adapters.AutoAdapterModel.from_config(config())
m.add_classification_head("m", num_labels=2)
m.add_classification_head("ml", num_labels=3)
folder = tempfile.mkdtemp()
m.save_head(folder, "m", use_safetensors=True)
keys = sorted(load_file(f"{folder}/model_head.safetensors"))
print("saved with head m:", keys)

other = adapters.AutoAdapterModel.from_config(config())
other.add_classification_head("ml", num_labels=3)
before = other.heads["ml"][4].weight.detach().clone()
other.load_head(folder, use_safetensors=True)
overwritten = not torch.equal(other.heads["ml"][4].weight, before)
print("loading head m changed the other model's head ml:", overwritten)
sys.exit(1 if any(k.startswith("heads.ml.") for k in keys) or overwritten else 0)
