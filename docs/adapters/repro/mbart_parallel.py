# AdapterHub 1.3.0: Parallel of two LoRA adapters on MBart (its table row claims Parallel) crashes in AdapterHub's copy
# of MBart's attention (mat1 and mat2 shapes cannot be multiplied: out_proj gets 14 x 64, the two branches' rows
# folded into the features); BART's copy runs the same setup; IA3 adapting q, k, v, o (the suite's config) crashes
# alike, IA3's default (k, v) runs
import sys

import adapters
import torch
from adapters.composition import Parallel
from transformers import BartConfig, BartModel, MBartConfig, MBartModel


SIZES = dict(
    vocab_size=99, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4,
    decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37,
)  # fmt: skip
wrong = False
for name, config_cls, model_cls in (("BART", BartConfig, BartModel), ("MBart", MBartConfig, MBartModel)):
    for label, config in (
        ("LoRA (q, v)", adapters.LoRAConfig()),
        ("IA3 (k, v)", adapters.IA3Config()),
        ("IA3 (q, k, v, o)", adapters.IA3Config(attn_matrices=["q", "k", "v", "o"])),
    ):
        torch.manual_seed(0)
        m = model_cls(config_cls(**SIZES)).eval()
        adapters.init(m)
        m.add_adapter("a", config)
        m.add_adapter("b", config)
        m.set_active_adapters(Parallel("a", "b"))
        try:
            with torch.no_grad():
                out = m(input_ids=torch.randint(3, 99, (2, 7)), decoder_input_ids=torch.randint(3, 99, (2, 5)))
            print(f"{name} Parallel of two {label}: runs, output {tuple(out.last_hidden_state.shape)}")
        except RuntimeError as error:
            print(f"{name} Parallel of two {label}: RuntimeError: {error}")
            wrong |= name == "MBart"
print("DEFECT: MBart's Parallel crashes" if wrong else "fixed")
sys.exit(1 if wrong else 0)
