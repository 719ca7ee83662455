# AdapterHub 1.3.0: UniPELT's gated LoRA: the gate replaces alpha / r (alpha has no effect), averaged over the sequence
import adapters
import torch
from transformers import BertConfig, BertModel


torch.manual_seed(0)
cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37)
base = BertModel(cfg).eval()
ids = torch.randint(3, 99, (2, 6))
outputs, seen = {}, {}  # seen: the query projection's input and output in a forward pass
for alpha in (2, 8):  # UniPELTConfig's own default is LoRAConfig(r=8, alpha=2), made use_gating=True
    m = BertModel(cfg).eval()
    m.load_state_dict(base.state_dict())
    adapters.init(m)
    m.add_adapter("g", adapters.LoRAConfig(r=8, alpha=alpha, use_gating=True), set_active=True)
    query = m.encoder.layer[0].attention.self.query
    lora = query.loras["g"]
    with torch.no_grad():
        torch.manual_seed(1)
        for p in lora.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
        handle = query.register_forward_hook(lambda mod, args, out: seen.update(x=args[0], out=out))
        m(input_ids=ids)  # a forward pass, not the projection alone: AdapterHub's gates need its forward context
        handle.remove()
        x, outputs[alpha] = seen["x"], seen["out"]
        delta = x @ lora.lora_A.T @ lora.lora_B.T
        g = torch.sigmoid(lora.gate(x))  # (batch, tokens, 1): one gate per token
        plain = torch.nn.functional.linear(x, query.weight, query.bias)
        per_token_scaled = plain + g * delta * lora.scaling
        mean_unscaled = plain + g.mean(1, keepdim=True) * delta
    print(f"alpha={alpha} (alpha / r = {lora.scaling}):")
    print("  equals W x + mean_t(g) * B A x (no alpha / r):", torch.allclose(outputs[alpha], mean_unscaled, atol=1e-6))
    print("  equals W x + g_t * (alpha / r) * B A x:", torch.allclose(outputs[alpha], per_token_scaled, atol=1e-6))
print("alpha=2 and alpha=8 give the same output:", torch.equal(outputs[2], outputs[8]))

# Parallel of two UniPELTs crashes: the gated prefix's gate reads a slice of the unreplicated batch (empty for branch b)
from adapters import composition as ac  # noqa: E402


m = BertModel(cfg).eval()
adapters.init(m)
for name in ("a", "b"):
    m.add_adapter(name, adapters.UniPELTConfig())
m.eval()
m.set_active_adapters(ac.Parallel("a", "b"))
try:
    with torch.no_grad():
        m(input_ids=ids)
    print("UniPELT Parallel(a, b): ran")
except Exception as e:
    print("UniPELT Parallel(a, b) crashes:", type(e).__name__, str(e)[:100])

# the gates' mean over the sequence counts padded positions: padding changes the outputs of the real tokens
m = BertModel(cfg).eval()
adapters.init(m)
m.add_adapter("u", adapters.UniPELTConfig(), set_active=True)
m.eval()
with torch.no_grad():
    for name, p in m.named_parameters():
        if ".u." in name:
            p.add_(torch.randn_like(p) * 0.3)
    short = m(input_ids=ids[:1]).last_hidden_state
    padded_ids = torch.cat([ids[:1], torch.zeros(1, 3, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 6), torch.zeros(1, 3)], dim=1).long()
    padded = m(input_ids=padded_ids, attention_mask=mask).last_hidden_state[:, :6]
print("UniPELT: padding changes the real tokens' outputs, max diff", f"{(padded - short).abs().max():.4f}")
m.set_active_adapters(None)
with torch.no_grad():
    short = m(input_ids=ids[:1]).last_hidden_state
    padded = m(input_ids=padded_ids, attention_mask=mask).last_hidden_state[:, :6]
print("  the plain model: max diff", f"{(padded - short).abs().max():.6f}")
