# AdapterHub 1.3.0: Fuse, Split and Average of two invertible adapters (SeqBnInvConfig) are accepted, where the
# expectations manifest leaves them undefined (a refusal naming the block is expected); every setup runs only its
# first adapter's invertible adapter (model_mixin.invertible_adapters_forward: adapter_setup.first()); shown on ALBERT
import sys

import adapters
import torch
from adapters.composition import Average, Fuse, Split
from transformers import AlbertConfig, AlbertModel


torch.manual_seed(0)
config = AlbertConfig(
    vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37
)
accepted = 0
for block in (Fuse("a", "b"), Split("a", "b", splits=[3, 3]), Average("a", "b")):
    model = AlbertModel(config).eval()
    adapters.init(model)
    model.add_adapter("a", adapters.SeqBnInvConfig())
    model.add_adapter("b", adapters.SeqBnInvConfig())
    calls = []
    for name in ("a", "b"):
        model.invertible_adapters[name].register_forward_hook(
            lambda m, args, out, name=name, calls=calls: calls.append(name)
        )
    try:
        if isinstance(block, Fuse):
            model.add_adapter_fusion(block)
        model.set_active_adapters(block)
        with torch.no_grad():
            model(torch.randint(3, 99, (2, 6)))
        print(f"{type(block).__name__} of two seq_bn_inv adapters: accepted; invertible adapters run: {calls}")
        accepted += 1
    except ValueError as error:
        print(f"{type(block).__name__}: refused: {error}")
sys.exit(1 if accepted else 0)
