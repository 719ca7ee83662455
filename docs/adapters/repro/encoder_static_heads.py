# AdapterHub 1.3.0 on the encoders beyond BERT and RoBERTa (XLM-R, ELECTRA, DistilBERT, ALBERT, DeBERTa-v2;
# static_heads.py, invertible_static_head.py show BERT's):
# 1. a static masked-LM (or causal-LM) checkpoint loaded as an adapter model drops the trained output bias: the
#    logits differ;
# 2. a static LM head model given adapters with adapters.init transforms the embeddings with the invertible adapter
#    but never runs its inverse before the LM head.
# usage: python encoder_static_heads.py [class ...] (default: all below); exits non-zero while a defect shows
import sys
import tempfile

import adapters
import torch
import transformers
from adapters import AutoAdapterModel


SMALL = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
CONFIGS = {
    "XLMRoberta": lambda: transformers.XLMRobertaConfig(**SMALL),
    "Electra": lambda: transformers.ElectraConfig(embedding_size=32, **SMALL),
    "DistilBert": lambda: transformers.DistilBertConfig(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37),
    "Albert": lambda: transformers.AlbertConfig(embedding_size=16, **SMALL),
    "DebertaV2": lambda: transformers.DebertaV2Config(relative_attention=True, pos_att_type=["p2c", "c2p"], **SMALL),
}
CLASSES = sys.argv[1:] or [
    "XLMRobertaForMaskedLM", "XLMRobertaForCausalLM", "ElectraForMaskedLM", "ElectraForCausalLM",
    "DistilBertForMaskedLM", "AlbertForMaskedLM", "DebertaV2ForMaskedLM",
]  # fmt: skip
defects = 0
torch.manual_seed(0)
ids = torch.randint(3, 99, (2, 6))
for name in CLASSES:
    config = CONFIGS[name.split("For")[0]]()
    config.is_decoder = name.endswith("CausalLM")
    static = getattr(transformers, name)(config).eval()
    with torch.no_grad():
        static.get_output_embeddings().bias.normal_(0, 0.5)  # a trained output bias
    with tempfile.TemporaryDirectory() as directory:
        static.save_pretrained(directory)
        flex = AutoAdapterModel.from_pretrained(directory).eval()
    with torch.no_grad():
        diff = (flex(ids).logits - static(ids).logits).abs().max().item()
    print(f"{name} loaded as an adapter model: logits max diff {diff:.3g}")
    defects += diff > 1e-5

    adapters.init(static)
    static.add_adapter("a", adapters.SeqBnInvConfig(), set_active=True)
    calls = []
    block = static.base_model.invertible_adapters["a"]
    block.register_forward_hook(
        lambda module, args, kwargs, out, calls=calls: calls.append(kwargs.get("rev", False)), with_kwargs=True
    )
    with torch.no_grad():
        static(ids)
    print(f"{name} with adapters.init and an invertible adapter: runs it as (rev) {calls} (the inverse: True)")
    defects += True not in calls
sys.exit(1 if defects else 0)
