# AdapterHub 1.3.0: a static BertForMaskedLM checkpoint loaded as an adapter model loses its output bias (the head's
# logits differ); a BertForNextSentencePrediction checkpoint loads with no head at all
import tempfile

import torch
from adapters import AutoAdapterModel
from transformers import BertConfig, BertForMaskedLM, BertForNextSentencePrediction


torch.manual_seed(0)
cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
ids = torch.randint(3, 99, (2, 6))
static = BertForMaskedLM(cfg).eval()
with torch.no_grad():
    static.cls.predictions.bias.normal_(0, 0.5)  # a trained output bias
with tempfile.TemporaryDirectory() as directory:
    static.save_pretrained(directory)
    flex = AutoAdapterModel.from_pretrained(directory).eval()  # logs the output bias as newly initialised
with torch.no_grad():
    expected, got = static(ids).logits, flex(ids).logits
print(
    "MLM head: logits equal the static model's:",
    torch.allclose(got, expected, atol=1e-5),
    "max diff",
    (got - expected).abs().max().item(),
)

with tempfile.TemporaryDirectory() as directory:
    BertForNextSentencePrediction(cfg).save_pretrained(directory)
    flex = AutoAdapterModel.from_pretrained(directory)
print("NSP checkpoint: heads after loading:", list(flex.heads), "active head:", flex.active_head)
