# AdapterHub 1.3.0: composition blocks with methods whose docs do not list them: refused when, if at all?
import adapters
import torch
from adapters.composition import Average, BatchSplit, Fuse, Parallel, Split
from transformers import BertConfig, BertModel


cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
ids = torch.randint(1, 99, (2, 8))
for method in ("prefix_tuning", "prompt_tuning", "loreft", "lora", "ia3"):
    for block in (
        Average("a", "b"),
        Split("a", "b", splits=[4, 4]),
        Parallel("a", "b"),
        BatchSplit("a", "b", batch_sizes=[1, 1]),
        Fuse("a", "b"),
    ):
        torch.manual_seed(0)
        m = BertModel(cfg).eval()
        adapters.init(m)
        m.add_adapter("a", method)
        m.add_adapter("b", method)
        try:
            m.set_active_adapters(block)
        except Exception as e:
            print(method, type(block).__name__, "refused at set:", type(e).__name__)
            continue
        try:
            out = m(ids).last_hidden_state
            print(method, type(block).__name__, "runs: output", tuple(out.shape))
        except Exception as e:
            print(method, type(block).__name__, "refused at forward:", type(e).__name__, str(e)[:80])

# a Stack of two prompts, which the suite defines: only the first is applied (ReFT likewise: reft_and_seeds.py)
from adapters.composition import Stack  # noqa: E402


for method in ("prompt_tuning",):
    torch.manual_seed(0)
    m = BertModel(cfg)
    adapters.init(m)
    for name in ("a", "b"):
        m.add_adapter(name, method)
    m.eval()  # the adapters' dropout off
    with torch.no_grad():
        for name, p in m.named_parameters():
            if ".a." in name or ".b." in name:
                p.add_(torch.randn_like(p) * 0.3)
        outputs = {}
        for setup in ("a", "b", Stack("a", "b")):
            m.set_active_adapters(setup)
            outputs[str(setup)] = m(ids).last_hidden_state
    print(method, "Stack(a, b) equals a alone:", torch.equal(outputs["Stack[a, b]"], outputs["a"]), end="; ")
    print("a alone equals b alone:", torch.equal(outputs["a"], outputs["b"]))
