# AdapterHub 1.3.0, models through its plugin interface with post-sublayer norms (Gemma 2, Gemma 3): the sequential
# bottleneck adapter of every layer reads the *last* layer's norm (init_bottleneck's `lambda: multigetattr(layer, ...)`
# binds `layer` late). By its design it reads x = N(h + r), N the post-sublayer norm (layer_ln_2), h the FFN output,
# r the residual stream, and the layer outputs r + N(h + f(x)); with trained (different) norms, layer 0 uses layer 1's.
import sys

import adapters
import torch
from transformers import Gemma2Config, Gemma2Model


torch.manual_seed(0)
config = Gemma2Config(
    vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, head_dim=8,
)  # fmt: skip
m = Gemma2Model(config).eval()
with torch.no_grad():  # trained models' norms differ from layer to layer
    for name, p in m.named_parameters():
        if "norm" in name:
            p.copy_(torch.randn_like(p) * 0.5)
adapters.init(m)
m.add_adapter("a", adapters.SeqBnConfig(reduction_factor=2, mh_adapter=False), set_active=True)
m.eval()
layer = m.layers[0]
seen = {}
layer.pre_feedforward_layernorm.register_forward_pre_hook(lambda mod, args: seen.__setitem__("r", args[0]))
adapter = layer.output_adapters.adapters["a"]
adapter.adapter_down.register_forward_pre_hook(lambda mod, args: seen.__setitem__("x", args[0]))
with torch.no_grad():
    m(input_ids=torch.randint(3, 99, (2, 6)))
    r, x = seen["r"], seen["x"]
    mlp, normed = layer.mlp, layer.pre_feedforward_layernorm(r)
    h = torch.nn.functional.linear(mlp.act_fn(mlp.gate_proj(normed)) * mlp.up_proj(normed), mlp.down_proj.weight)
    own = (x - layer.post_feedforward_layernorm(h + r)).abs().max().item()
    last = (x - m.layers[-1].post_feedforward_layernorm(h + r)).abs().max().item()
print(f"layer 0's adapter input vs N(h + r) with layer 0's own norm: max diff {own:.3g}")
print(f"layer 0's adapter input vs N(h + r) with the last layer's norm: max diff {last:.3g}")
sys.exit(1 if own > 1e-6 else 0)
