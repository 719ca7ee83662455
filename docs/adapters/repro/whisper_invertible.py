# AdapterHub 1.3.0: Whisper's invertible adapter (claimed in its model table) is hooked on encoder.layer_norm, the
# encoder's FINAL layer norm after all its layers: it transforms the encoder's output, not the input embeddings the
# layers read (MAD-X's placement, and AdapterHub's own on BERT: the embedding module's output)
import sys

import adapters
import torch
from transformers import WhisperConfig, WhisperModel


torch.manual_seed(0)
config = WhisperConfig(
    vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=4,
    decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, num_mel_bins=8, max_source_positions=8,
    max_target_positions=16, decoder_start_token_id=1, pad_token_id=0,
)  # fmt: skip
model = WhisperModel(config).eval()
adapters.init(model)
model.add_adapter("a", adapters.SeqBnInvConfig(), set_active=True)
with torch.no_grad():  # the layers' bottlenecks add nothing: only the invertible adapter acts
    for name, p in model.named_parameters():
        if "adapter_up" in name:
            p.zero_()
        elif "invertible_adapters" in name:
            p.copy_(torch.randn_like(p) * 0.3)
seen = []
model.encoder.layers[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
kw = {"input_features": torch.randn(2, 8, 16), "decoder_input_ids": torch.randint(3, 99, (2, 5))}
with torch.no_grad():
    adapted = model(**kw).encoder_last_hidden_state
    model.set_active_adapters(None)
    plain = model(**kw).encoder_last_hidden_state
    model.set_active_adapters("a")
    transformed = model.encoder.invertible_adapters["a"](plain)
first_layer_input_changed = not torch.equal(seen[0], seen[1])
output_is_transformed = torch.allclose(adapted, transformed, atol=1e-6)
print("the first encoder layer's input is changed by the invertible adapter:", first_layer_input_changed)
print("the encoder's output is the invertible adapter applied to the plain encoder output:", output_is_transformed)
wrong = output_is_transformed and not first_layer_input_changed
print("DEFECT: the invertible adapter transforms the encoder's output" if wrong else "fixed")
sys.exit(1 if wrong else 0)
