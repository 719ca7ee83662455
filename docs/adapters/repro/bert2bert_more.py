# AdapterHub 1.3.0 on a BERT2BERT EncoderDecoderModel (its table: every column but Parallel and prompt tuning "if the
# used encoder and decoder model class are supported", as BERT's are), besides bert2bert.py:
# 1. get_fusion_regularization_loss (added to the loss when training a fusion) crashes: it reads config.hidden_size,
#    which an EncoderDecoderConfig keeps only in its encoder and decoder configs (as clip_fusion_loss.py on CLIP)
# 2. ReFT under the KV cache: a cached decoding step (one new decoder token) is edited as prefix position 0, as on
#    GPT-2 (reft_cache.py): generate()'s cached and uncached scores differ
# 3. a closed gated prefix (UniPELT's prefix part, its gate at sigmoid(-40)) differs between sdpa and eager: the zero
#    prefix is misaligned under sdpa as an open one is (prefix_sdpa_seq2seq.py)
# 4. save_adapter(use_safetensors=True) of a Compacter or an invertible adapter crashes: the model-level tensors
#    (Compacter's shared PHM parameters, the invertible adapter) are the same tensors under encoder. and decoder.bert.
#    names, which safetensors refuses ("Some tensors share memory")
import copy
import sys
import tempfile

import adapters
import torch
from adapters.composition import Fuse
from transformers import BertConfig, EncoderDecoderConfig, EncoderDecoderModel


def bert2bert(config=None, attn="sdpa", close_gates=False):
    torch.manual_seed(0)
    bert = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37)
    decoder = BertConfig(**{**bert.to_dict(), "is_decoder": True, "add_cross_attention": True})
    cfg = EncoderDecoderConfig.from_encoder_decoder_configs(bert, decoder)
    cfg.encoder._attn_implementation = cfg.decoder._attn_implementation = attn
    model = EncoderDecoderModel(copy.deepcopy(cfg)).eval()
    model.generation_config.decoder_start_token_id, model.generation_config.pad_token_id = 1, 0
    adapters.init(model)
    if config is not None:
        model.add_adapter("a", config, set_active=True)
        model.eval()
        with torch.no_grad():
            for key, p in model.named_parameters():
                if ".a." in key and "parametrizations" not in key:  # LoReFT's orthogonal R stays orthogonal
                    p.copy_(torch.randn_like(p) * 0.3)
                if close_gates and "gate" in key:  # sigmoid(-40): closed
                    p.fill_(-40.0 if key.endswith("bias") else 0.0)
    return model


torch.manual_seed(1)
ids, dec = torch.randint(3, 99, (2, 7)), torch.randint(3, 99, (2, 5))
wrong = False

model = bert2bert()
for name in ("a", "b"):
    model.add_adapter(name, adapters.SeqBnConfig())
model.add_adapter_fusion(Fuse("a", "b"))
model.train_adapter_fusion(Fuse("a", "b"))
try:
    print("1. fusion regularization loss:", float(model.get_fusion_regularization_loss()))
except AttributeError as error:
    print(f"1. get_fusion_regularization_loss: AttributeError: {error}")
    wrong = True

model = bert2bert(adapters.LoReftConfig(r=2, dropout=0.0))
kw = dict(max_new_tokens=5, min_new_tokens=5, do_sample=False, num_beams=1, output_scores=True)
with torch.no_grad():
    runs = [model.generate(input_ids=ids, use_cache=c, return_dict_in_generate=True, **kw) for c in (True, False)]
cached, uncached = torch.stack(runs[0].scores), torch.stack(runs[1].scores)
finite = cached.isfinite()  # min_new_tokens sets the end token's score to -inf
reft = (cached[finite] - uncached[finite]).abs().max().item()
print(f"2. LoReFT (prefix positions 0-2), generate() scores cached vs uncached: max diff {reft:.3g}")
wrong |= reft > 1e-4

gated = adapters.PrefixTuningConfig(prefix_length=5, use_gating=True)
with torch.no_grad():
    closed = [bert2bert(gated, attn, close_gates=True)(input_ids=ids, decoder_input_ids=dec).logits
              for attn in ("sdpa", "eager")]  # fmt: skip
gate = (closed[0] - closed[1]).abs().max().item()
print(f"3. closed gated prefix, sdpa vs eager: max diff {gate:.3g}")
wrong |= gate > 1e-4

for config in (adapters.CompacterConfig(reduction_factor=4), adapters.SeqBnInvConfig()):
    model = bert2bert(config)
    with tempfile.TemporaryDirectory() as folder:
        try:
            model.save_adapter(folder, "a", use_safetensors=True)
            print(f"4. {type(config).__name__}: save_adapter(use_safetensors=True) saves")
        except RuntimeError as error:
            shared = str(error).split("again: ")[1].split("]")[0][:110]
            print(f"4. {type(config).__name__}: save_adapter(use_safetensors=True): RuntimeError, shared {shared}...")
            wrong = True
print("DEFECT: see the lines above" if wrong else "fixed")
sys.exit(1 if wrong else 0)
