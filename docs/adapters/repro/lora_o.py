# AdapterHub 1.3.0: LoRA with attn_matrices=["o"] on BERT is accepted and adapts nothing
import adapters
from transformers import BertConfig, BertModel


cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
m = BertModel(cfg)
adapters.init(m)
m.add_adapter(
    "o_only",
    adapters.LoRAConfig(r=4, attn_matrices=["o"], selfattn_lora=True, output_lora=False, intermediate_lora=False),
)
print("LoRA tensors of o_only:", [k for k, _ in m.named_parameters() if "o_only" in k])
