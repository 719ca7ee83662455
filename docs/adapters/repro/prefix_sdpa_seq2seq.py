# AdapterHub 1.3.0: prefix tuning on BART (MBart, PLBart share its mixins), Whisper and a BERT2BERT EncoderDecoder
# under sdpa, the default attention, as GPT-2's (model_level.py) and Llama's (prefix_positions.py): without a decoder
# mask the decoder's self-attention passes no mask and sdpa's is_causal, which aligns the causal mask to the top left
# of the keys the prefix lengthened (query i sees prefix positions 0..i only). Eager attention is right; the encoders
# (no causal mask) agree under both.
import copy
import sys

import adapters
import torch
from transformers import (
    BartConfig,
    BartModel,
    BertConfig,
    EncoderDecoderConfig,
    EncoderDecoderModel,
    WhisperConfig,
    WhisperModel,
)


def build(cls, config, attn):
    torch.manual_seed(1)
    config = copy.deepcopy(config)  # the attention reads the config at each forward: one config per model
    for part in (config, getattr(config, "encoder", None), getattr(config, "decoder", None)):  # BERT2BERT: both
        if part is not None:
            part._attn_implementation = attn
    m = cls(config).eval()
    adapters.init(m)
    m.add_adapter("p", adapters.PrefixTuningConfig(prefix_length=5), set_active=True)
    with torch.no_grad():
        for key, p in m.named_parameters():
            if ".p." in key:
                p.copy_(torch.randn_like(p) * 0.3)
    return m


bart = BartConfig(
    vocab_size=99, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4,
    decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37,
)  # fmt: skip
whisper = WhisperConfig(
    vocab_size=99, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4,
    decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, num_mel_bins=8, max_source_positions=8,
    max_target_positions=16, decoder_start_token_id=1, pad_token_id=0,
)  # fmt: skip
bert = BertConfig(
    vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37,
)  # fmt: skip
bert_decoder = BertConfig(**{**bert.to_dict(), "is_decoder": True, "add_cross_attention": True})
bert2bert = EncoderDecoderConfig.from_encoder_decoder_configs(bert, bert_decoder)
torch.manual_seed(0)
decoder_ids = torch.randint(3, 99, (2, 6))
inputs = {
    "bart": (
        BartModel,
        bart,
        {
            "input_ids": torch.randint(3, 99, (2, 7)),
            "attention_mask": torch.ones(2, 7),
            "decoder_input_ids": decoder_ids,
        },
    ),
    "bert2bert": (
        EncoderDecoderModel,
        bert2bert,
        {"input_ids": torch.randint(3, 99, (2, 7)), "decoder_input_ids": decoder_ids},
    ),
    "whisper": (WhisperModel, whisper, {"input_features": torch.randn(2, 8, 16), "decoder_input_ids": decoder_ids}),
}
wrong = False
for name, (cls, config, kw) in inputs.items():
    eager, sdpa = build(cls, config, "eager"), build(cls, config, "sdpa")
    with torch.no_grad():
        e, s = eager(**kw), sdpa(**kw)
    enc = (e.encoder_last_hidden_state - s.encoder_last_hidden_state).abs().max().item()
    dec = (e[0] - s[0]).abs().max().item()  # the decoder's last hidden state (BERT2BERT: its LM logits)
    print(f"{name} prefix, sdpa vs eager: encoder max diff {enc:.2g}, decoder max diff {dec:.3f}")
    wrong |= dec > 1e-5
print("DEFECT: the decoder's prefix is misaligned under sdpa" if wrong else "fixed: sdpa agrees with eager")
sys.exit(1 if wrong else 0)
