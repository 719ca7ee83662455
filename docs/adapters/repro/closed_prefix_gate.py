# AdapterHub 1.3.0: a gated prefix (UniPELT's prefix part, PrefixTuningConfig(use_gating=True)) with its gate closed
# multiplies the prefix keys and values by 0 but keeps them in the attention: the zero keys still take softmax mass
# (score 0), so a closed gate does not switch the prefix off (GPT-J, whose attention AdapterHub computes in its forward)
import sys

import adapters
import torch
from transformers import GPTJConfig, GPTJModel


torch.manual_seed(0)
m = GPTJModel(GPTJConfig(vocab_size=99, n_embd=32, n_layer=2, n_head=4, rotary_dim=4, n_positions=64)).eval()
adapters.init(m)
m.add_adapter("p", adapters.PrefixTuningConfig(prefix_length=5, use_gating=True), set_active=True)
with torch.no_grad():
    for name, p in m.named_parameters():
        if ".p." in name:
            p.copy_(torch.randn_like(p) * 0.3)
    gates = [mod for name, mod in m.named_modules() if name.endswith("prefix_gates")]
    for module in gates:
        for gate in module.values():
            gate.weight.zero_()
            gate.bias.fill_(-1e4)  # sigmoid(-1e4) = 0: the gate is closed
    ids = torch.randint(3, 99, (2, 6))
    closed = m(input_ids=ids).last_hidden_state
    m.set_active_adapters(None)
    plain = m(input_ids=ids).last_hidden_state
diff = (closed - plain).abs().max().item()
print(f"{sum(len(g) for g in gates)} prefix gates closed; output vs the plain model: max diff {diff:.3g}")
sys.exit(1 if diff > 1e-6 else 0)
