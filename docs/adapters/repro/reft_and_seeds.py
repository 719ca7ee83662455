# AdapterHub 1.3.0: ReFT Stack and averaging, init_weights_seed of MAM / UniPELT, DoRA on GPT-2 (issue 10 item 7)
import adapters
import torch
from adapters import composition as ac
from transformers import BertConfig, BertModel, GPT2Config, GPT2Model


torch.manual_seed(0)
cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
ids = torch.randint(3, 99, (2, 7))


def loreft_model():
    m = BertModel(cfg).eval()
    adapters.init(m)
    for n in ("a", "b"):
        m.add_adapter(n, adapters.LoReftConfig(r=4))
        with torch.no_grad():
            for k, p in m.named_parameters():
                if f".{n}." in k and "learned_source" in k:
                    p.copy_(torch.randn_like(p) * 0.3)
            for module in m.modules():  # an orthonormal R, written through the parametrisation
                if type(module).__name__ == "ReftLayer" and n in module.refts:
                    for unit in module.refts[n].units:
                        unit.projection.weight = torch.linalg.qr(torch.randn(32, 4)).Q.T.contiguous()
    return m.eval()  # the adapters are added after eval(): without this their dropout (0.05) runs


def out(m, setup):
    m.set_active_adapters(setup)
    with torch.no_grad():
        return m(input_ids=ids).last_hidden_state


m = loreft_model()
print("loreft Stack(a, b) == a alone:", torch.allclose(out(m, ac.Stack("a", "b")), out(m, "a")))
print("loreft Stack(b, a) == b alone:", torch.allclose(out(m, ac.Stack("b", "a")), out(m, "b")))
print("loreft a alone == b alone:", torch.allclose(out(m, "a"), out(m, "b")))
m.average_adapter("mean", ["a", "b"], weights=[0.5, 0.5])
for module in m.modules():
    if type(module).__name__ == "ReftLayer" and "mean" in module.refts:
        R = module.refts["mean"].units[0].projection.weight
        print("averaged LoReFT R R^T diagonal (1 if orthonormal):", (R @ R.T).diag())
        break

for config in ("mam", "unipelt"):
    m = BertModel(cfg)
    adapters.init(m)
    try:
        loaded = adapters.AdapterConfig.load(config, init_weights_seed=3, leave_out=[0])
        m.add_adapter("a", config=loaded)
        kept = [(type(part).__name__, part.init_weights_seed, part.leave_out) for part in loaded.configs]
        print(f"{config} init_weights_seed=3, leave_out=[0]: accepted, the parts keep (seed, leave_out):", kept)
    except Exception as e:
        print(f"{config} init_weights_seed rejected:", type(e).__name__, str(e)[:90])

g = GPT2Model(GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4)).eval()
adapters.init(g)
try:
    g.add_adapter("d", adapters.DoRAConfig(), set_active=True)
    g(input_ids=ids)
    print("DoRA on GPT-2: ran")
except Exception as e:
    print("DoRA on GPT-2 crashes:", type(e).__name__, str(e)[:90])

# DiReFT save_adapter / load_adapter: the loaded adapter is a plain ReftConfig and behaves differently
import tempfile  # noqa: E402


m = BertModel(cfg).eval()
adapters.init(m)
m.add_adapter("d", adapters.DiReftConfig(r=2, dropout=0.0), set_active=True)
with torch.no_grad():
    for k, p in m.named_parameters():
        if ".d." in k:
            p.copy_(torch.randn_like(p) * 0.3)
with tempfile.TemporaryDirectory() as d:
    m.save_adapter(d, "d", use_safetensors=True)
    t = BertModel(cfg).eval()
    t.load_state_dict(m.state_dict(), strict=False)
    adapters.init(t)
    t.load_adapter(d, set_active=True, use_safetensors=True)
with torch.no_grad():
    diff = (m(input_ids=ids).last_hidden_state - t(input_ids=ids).last_hidden_state).abs().max()
print(
    "DiReFT reloaded config:",
    type(t.adapters_config.match("d", adapters.ReftConfig)).__name__,
    "max diff",
    f"{diff:.3f}",
)
