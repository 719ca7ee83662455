# AdapterHub 1.3.0: Compacter's shared PHM rule is not restored by save_adapter / load_adapter; init_weights="mam_adapter"
# crashes for PHM layers
import tempfile

import adapters
import torch
from transformers import BertConfig, BertModel


cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
ids = torch.randint(3, 99, (2, 7))


def model():
    torch.manual_seed(0)
    m = BertModel(cfg).eval()
    adapters.init(m)
    return m


source = model()
source.add_adapter("a", adapters.CompacterConfig(reduction_factor=4, phm_dim=4), set_active=True)
with torch.no_grad():
    for k, p in source.named_parameters():
        if ".a." in k:
            p.copy_(torch.randn_like(p) * 0.1)
with tempfile.TemporaryDirectory() as d:
    source.save_adapter(d, "a", use_safetensors=True)
    target = model()
    target.load_adapter(d, set_active=True, use_safetensors=True)
with torch.no_grad():
    diff = (source(input_ids=ids).last_hidden_state - target(input_ids=ids).last_hidden_state).abs().max()
    rules = [(k, p) for k, p in source.named_parameters() if "phm_rule" in k]
    loaded = dict(target.named_parameters())
    print("compacter save/load: output max diff", f"{diff:.2e}")
    for k, p in rules:
        print(" ", k, "restored:", torch.equal(p, loaded[k]))
try:
    model().add_adapter("m", adapters.CompacterConfig(reduction_factor=4, phm_dim=4, init_weights="mam_adapter"))
    print("compacter init_weights=mam_adapter: accepted")
except Exception as e:
    print("compacter init_weights=mam_adapter crashes:", type(e).__name__, e)

# Compacter++ with shared_W_phm: Average(a, a) of one adapter differs from a alone
from adapters import composition as ac  # noqa: E402


m = model()
m.add_adapter("a", adapters.CompacterPlusPlusConfig(reduction_factor=8, phm_dim=2, shared_W_phm=True))
m.add_adapter("b", adapters.CompacterPlusPlusConfig(reduction_factor=8, phm_dim=2, shared_W_phm=True))
with torch.no_grad():
    for k, p in m.named_parameters():
        if ".a." in k or ".b." in k:
            p.copy_(torch.randn_like(p) * 0.3)
    m.set_active_adapters("a")
    alone = m(input_ids=ids).last_hidden_state
    m.set_active_adapters(ac.Average("a", "a"))
    print(
        "compacter++ Average(a, a) vs a alone: max diff",
        f"{(m(input_ids=ids).last_hidden_state - alone).abs().max():.3f}",
    )

# save_pretrained / load_model of a model with a Compacter
with tempfile.TemporaryDirectory() as d:
    source = model()
    source.add_adapter("a", adapters.CompacterConfig(reduction_factor=4, phm_dim=4))
    source.save_pretrained(d)
    try:
        adapters.load_model(d, BertModel)
        print("compacter load_model: loaded")
    except Exception as e:
        print("compacter load_model crashes:", type(e).__name__, e)

# an in_features that phm_dim does not divide is refused by an assert: AssertionError, and nothing at all under python -O
import subprocess  # noqa: E402
import sys  # noqa: E402


attempt = (
    "import adapters; from transformers import BertConfig, BertModel\n"
    "m = BertModel(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, "
    "intermediate_size=37)); adapters.init(m)\n"
    "try:\n    m.add_adapter('a', adapters.CompacterConfig(phm_dim=3)); print('accepted')\n"
    "except Exception as e:\n    print('refused with', type(e).__name__)"
)
for flags in ([], ["-O"]):
    result = subprocess.run([sys.executable, *flags, "-c", attempt], capture_output=True, text=True)
    print(f"phm_dim=3 on hidden size 32, python {' '.join(flags) or '(no -O)'}:", result.stdout.strip())
