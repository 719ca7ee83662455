# AdapterHub 1.3.0: Gemma 2's invertible adapter (its plugin interface, model_embeddings="embed_tokens") is hooked on
# embed_tokens, whose output Gemma2Model then multiplies by sqrt(hidden_size): it transforms the unscaled token
# embeddings, not the first layer's input (its placement on its other models: the embedding module's output; on
# Gemma 3 the scaling is inside embed_tokens, so there the two are the same)
import sys

import adapters
import torch
from transformers import Gemma2Config, Gemma2Model


torch.manual_seed(0)
config = Gemma2Config(
    vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
    intermediate_size=37, max_position_embeddings=64, sliding_window=16, pad_token_id=0,
)  # fmt: skip
model = Gemma2Model(config).eval()
adapters.init(model)
model.add_adapter("a", adapters.SeqBnInvConfig(), set_active=True)
with torch.no_grad():  # the layers' bottlenecks add nothing: only the invertible adapter acts
    for name, p in model.named_parameters():
        if "adapter_up" in name:
            p.zero_()
        elif "invertible_adapters" in name:
            p.copy_(torch.randn_like(p) * 0.3)
seen = []
model.layers[0].register_forward_pre_hook(
    lambda module, args, kwargs: seen.append(args[0] if args else kwargs["hidden_states"]), with_kwargs=True
)
ids = torch.randint(3, 128, (2, 6))
with torch.no_grad():
    model(input_ids=ids)
    coupling = model.invertible_adapters["a"]
    scale = config.hidden_size**0.5
    plain = model.embed_tokens.__class__.forward(model.embed_tokens, ids)  # the unscaled token embeddings
    at_embed_tokens = coupling(plain) * scale
    at_first_layer = coupling(plain * scale)
first_input = seen[0]
hooked_before_scaling = torch.allclose(first_input, at_embed_tokens, atol=1e-5)
print("first layer input = sqrt(hidden) * inv(embed_tokens(ids)):", hooked_before_scaling)
print(
    "first layer input = inv(sqrt(hidden) * embed_tokens(ids)):",
    torch.allclose(first_input, at_first_layer, atol=1e-5),
)
print("DEFECT: the invertible adapter transforms the unscaled token embeddings" if hooked_before_scaling else "fixed")
sys.exit(1 if hooked_before_scaling else 0)
