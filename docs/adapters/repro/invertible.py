# AdapterHub 1.3.0: where the NICE invertible adapter acts, and that composition blocks apply only the first adapter's
import adapters
import torch
from adapters.composition import Parallel
from transformers import BertConfig, BertModel


torch.manual_seed(0)
cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
m = BertModel(cfg).eval()
adapters.init(m)
for name in ("a", "b"):
    m.add_adapter(name, adapters.SeqBnInvConfig(init_weights="bert"))
    with torch.no_grad():  # random coupling subnets, so that each invertible adapter does something
        for p in m.invertible_adapters[name].parameters():
            p.normal_(0, 0.5)
m.eval()
ids = torch.randint(3, 99, (2, 6))
seen = {}
m.embeddings.word_embeddings.register_forward_hook(lambda mod, a, out: seen.__setitem__("tokens", out))
m.embeddings.register_forward_hook(lambda mod, a, out: seen.__setitem__("embedded", out), prepend=True)
m.embeddings.register_forward_hook(lambda mod, a, out: seen.__setitem__("after", out))

# placement (by design): the coupling transforms the embedding module's output (token + position embeddings after the
# layer norm), not the token embeddings; on Llama, whose embedding module is the token embedding, the two coincide
m.set_active_adapters("a")
with torch.no_grad():
    m(ids)
    coupling = m.invertible_adapters["a"]
    print("after == coupling(embedding module output):", torch.allclose(seen["after"], coupling(seen["embedded"])))
    print("token embeddings left as they are:", torch.equal(seen["tokens"], m.embeddings.word_embeddings(ids)))

# defect: Parallel(a, b) runs branch b with a's invertible adapter (only the first adapter of a setup is applied)
with torch.no_grad():
    m.set_active_adapters(Parallel("a", "b"))
    branch_b = m(ids).last_hidden_state[2:]
    m.set_active_adapters("b")
    alone_b = m(ids).last_hidden_state
print(
    "Parallel branch b equals b alone:",
    torch.allclose(branch_b, alone_b, atol=1e-5),
    "max diff",
    (branch_b - alone_b).abs().max().item(),
)
