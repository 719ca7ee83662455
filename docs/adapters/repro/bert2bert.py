# AdapterHub 1.3.0 on a BERT2BERT EncoderDecoderModel (its table: supported where encoder and decoder are):
# 1. a bottleneck adapter after the attention (mh_adapter: DoubleSeqBnConfig, Compacter) is added after the decoder's
#    cross-attention too, though BnConfig's cross_adapter (documented: "add adapter modules after the cross attention
#    block of each decoder layer in an encoder-decoder model. Defaults to False") is False; on BART it is not
# 2. the invertible adapter transforms the encoder's embeddings, and the inverse AdapterHub wires for the decoder
#    ("only the reverse pass in the LM head should be active") is never run: the decoder is a static BertLMHeadModel
#    (as invertible_static_head.py)
# 3. the decoder shares the encoder's invertible adapter under other names: save_pretrained (safetensors) refuses the
#    shared tensors
# 4. generate() with a prefix-tuning adapter crashes ('ForwardContext' object has no attribute 'prefix_states')
# 5. output_adapter_fusion_attentions=True / output_adapter_gating_scores=True return nothing (no such output key)
# 6. leave_out numbers the encoder's and the decoder's layers each from 0: leave_out=[1] leaves out layer 1 of both
#    (BART numbers the decoder's layers after the encoder's: leave_out=[1] is the encoder's layer 1 only)
import sys
import tempfile

import adapters
import torch
from adapters.composition import Fuse
from transformers import BertConfig, EncoderDecoderConfig, EncoderDecoderModel


def bert2bert():
    torch.manual_seed(0)
    bert = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37)
    decoder = BertConfig(**{**bert.to_dict(), "is_decoder": True, "add_cross_attention": True})
    model = EncoderDecoderModel(EncoderDecoderConfig.from_encoder_decoder_configs(bert, decoder)).eval()
    adapters.init(model)
    return model


torch.manual_seed(1)
kw = {"input_ids": torch.randint(3, 99, (2, 7)), "decoder_input_ids": torch.randint(3, 99, (2, 5))}
wrong = False

model = bert2bert()
config = adapters.DoubleSeqBnConfig()
model.add_adapter("a", config, set_active=True)
cross = [name for name, _ in model.named_parameters() if "crossattention" in name and ".adapters.a." in name]
with torch.no_grad():  # only the cross-attention's adapter adds anything
    for name, p in model.named_parameters():
        if ".adapters.a." in name:
            p.copy_(torch.randn_like(p) * 0.3 if "crossattention" in name else torch.zeros_like(p))
    adapted = model(**kw).logits
    model.set_active_adapters(None)
    plain = model(**kw).logits
print(f"DoubleSeqBnConfig cross_adapter={config.cross_adapter}: parameters after the cross-attention: {len(cross)}")
print(f"  the cross-attention's adapter alone changes the output by {(adapted - plain).abs().max():.3f}")
wrong |= bool(cross) and not config.cross_adapter

model = bert2bert()
model.add_adapter("a", adapters.SeqBnInvConfig(), set_active=True)
calls = []
decoder_base = model.decoder.base_model
inverse = decoder_base.invertible_adapters_forward
decoder_base.invertible_adapters_forward = lambda h, rev=False: calls.append(rev) or inverse(h, rev=rev)
with torch.no_grad():
    for p in model.encoder.invertible_adapters["a"].parameters():
        p.normal_(0, 0.5)
    model(**kw)
print(f"invertible adapter: the decoder's reverse pass ran {calls.count(True)} times (the inverse is never applied)")
wrong |= True not in calls

with tempfile.TemporaryDirectory() as folder:
    try:
        model.save_pretrained(folder)
        print("invertible adapter: save_pretrained saves")
    except RuntimeError as error:
        print(f"invertible adapter: save_pretrained: RuntimeError: {str(error).splitlines()[0][:150]}")
        wrong = True

model = bert2bert()
model.generation_config.decoder_start_token_id, model.generation_config.pad_token_id = 1, 0
model.add_adapter("p", adapters.PrefixTuningConfig(prefix_length=5), set_active=True)
try:
    with torch.no_grad():
        model.generate(input_ids=kw["input_ids"], max_new_tokens=3)
    print("prefix tuning: generate runs")
except AttributeError as error:
    print(f"prefix tuning: generate: AttributeError: {error}")
    wrong = True

model = bert2bert()
model.add_adapter("a", adapters.SeqBnConfig())
model.add_adapter("b", adapters.SeqBnConfig())
model.add_adapter_fusion(Fuse("a", "b"))
model.set_active_adapters(Fuse("a", "b"))
model.add_adapter("u", adapters.UniPELTConfig())
with torch.no_grad():
    fused = model(**kw, output_adapter_fusion_attentions=True)
    model.set_active_adapters("u")
    gated = model(**kw, output_adapter_gating_scores=True)
print("outputs with fusion attentions asked for:", list(fused.keys()))
print("outputs with gating scores asked for:", list(gated.keys()))
wrong |= "adapter_fusion_attentions" not in fused or "adapter_gating_scores" not in gated

model = bert2bert()  # one layer per side: leave_out=[0] should leave out the encoder's layer only
model.add_adapter("a", adapters.SeqBnConfig(leave_out=[0]))
adapted = sorted({n.split(".adapters.a.")[0] for n, _ in model.named_parameters() if ".adapters.a." in n})
print("leave_out=[0] (the encoder's one layer): layers with the adapter:", adapted)
wrong |= not any(name.startswith("decoder.") for name in adapted)

print("DEFECT" if wrong else "fixed")
sys.exit(1 if wrong else 0)
