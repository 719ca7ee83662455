# AdapterHub 1.3.0: on ALBERT the bottleneck after the attention (mh_adapter: DoubleSeqBnConfig, Compacter) gets its
# arguments swapped: AlbertAttentionWithAdapters (and the SDPA variant) calls attention_adapters(hidden_states,
# projected_context_layer, LayerNorm), so the adapter transforms the attention's input (the residual), not the
# attention's output; BERT's and every other mixin pass (output, residual)
import sys

import adapters
import torch
from transformers import AlbertConfig, AlbertModel


torch.manual_seed(0)
config = AlbertConfig(
    vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
    intermediate_size=37,
)  # fmt: skip
model = AlbertModel(config).eval()
adapters.init(model)
model.add_adapter("a", adapters.DoubleSeqBnConfig(), set_active=True)
attention = model.encoder.albert_layer_groups[0].albert_layers[0].attention
seen = {}
attention.register_forward_hook(lambda module, args, out: seen.update(attention_input=args[0]))
attention.dense.register_forward_hook(lambda module, args, out: seen.update(attention_output=out))
down = attention.attention_adapters.adapters["a"].adapter_down
down.register_forward_hook(lambda module, args, out: seen.update(adapter_input=args[0]))
with torch.no_grad():
    model(torch.randint(3, 99, (2, 6)))
to_output = (seen["adapter_input"] - seen["attention_output"]).abs().max().item()
to_input = (seen["adapter_input"] - seen["attention_input"]).abs().max().item()
print(f"the attention adapter's input differs from the attention's output by {to_output:.3g}")
print(f"and from the attention's input (the residual) by {to_input:.3g}")
sys.exit(1 if to_output > 0 else 0)
