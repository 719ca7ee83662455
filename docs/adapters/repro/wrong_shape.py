# AdapterHub 1.3.0: load_adapter of weights whose shapes do not fit the saved config
import shutil
import tempfile

import adapters
import torch
from transformers import BertConfig, BertModel


cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)


def model():
    torch.manual_seed(0)
    m = BertModel(cfg)
    adapters.init(m)
    return m


src = model()
src.add_adapter("a", "seq_bn")
src.add_adapter("resized", adapters.SeqBnConfig(reduction_factor=8))
d = tempfile.mkdtemp()
src.save_adapter(f"{d}/a", "a", use_safetensors=True)
src.save_adapter(f"{d}/r", "resized", use_safetensors=True)
shutil.copy(f"{d}/r/adapter.safetensors", f"{d}/a/adapter.safetensors")
tgt = model()
tgt.add_adapter("a", "seq_bn")
before = {k: v.clone() for k, v in tgt.state_dict().items()}
try:
    tgt.load_adapter(f"{d}/a", overwrite_ok=True, use_safetensors=True)
    print("no error")
except Exception as e:
    print("raised", type(e).__name__, str(e)[:200])
after = tgt.state_dict()
print(
    "keys same:",
    after.keys() == before.keys(),
    "changed:",
    [k for k in before if k in after and not torch.equal(before[k], after[k])][:4],
)
print("shapes", {k: tuple(v.shape) for k, v in after.items() if "adapter_down.0.weight" in k})

# IA3, one tensor enlarged in the file: a RuntimeError, raised after the tensors that fit were written
from safetensors.torch import load_file, save_file  # noqa: E402


src = model()
src.add_adapter("a", "ia3")
src.save_adapter(f"{d}/ia3", "a", use_safetensors=True)
tensors = load_file(f"{d}/ia3/adapter.safetensors")
first = sorted(tensors)[0]
tensors[first] = torch.cat([tensors[first], tensors[first][:1]])
save_file(tensors, f"{d}/ia3/adapter.safetensors")
tgt = model()
tgt.add_adapter("a", "ia3")
with torch.no_grad():
    for name, p in tgt.named_parameters():
        if ".a." in name:
            p.copy_(torch.randn_like(p))
before = {k: v.clone() for k, v in tgt.state_dict().items()}
try:
    tgt.load_adapter(f"{d}/ia3", overwrite_ok=True, use_safetensors=True)
    print("ia3: no error")
except Exception as e:
    print("ia3: raised", type(e).__name__, str(e).splitlines()[0])
changed = [k for k in before if not torch.equal(before[k], tgt.state_dict()[k])]
print(f"ia3: tensors changed by the failed load: {len(changed)}, e.g. {changed[:2]}")
