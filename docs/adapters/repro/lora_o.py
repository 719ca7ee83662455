# AdapterHub 1.3.0: LoRA with attn_matrices=["o"] on BERT is accepted and adapts nothing
import adapters
import torch
from transformers import BertConfig, BertModel


cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
m = BertModel(cfg)
adapters.init(m)
m.add_adapter(
    "o_only",
    adapters.LoRAConfig(r=4, attn_matrices=["o"], selfattn_lora=True, output_lora=False, intermediate_lora=False),
)
print("LoRA tensors of o_only:", [k for k, _ in m.named_parameters() if "o_only" in k])

# GPT-2: no LoRA on c_proj (the attention output) either; an "o"-only LoRA lands on c_attn and crashes
from transformers import GPT2Config, GPT2Model  # noqa: E402


g = GPT2Model(GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4))
adapters.init(g)
g.add_adapter(
    "o_only",
    adapters.LoRAConfig(r=4, attn_matrices=["o"], selfattn_lora=True, output_lora=False, intermediate_lora=False),
)
print("GPT-2 LoRA tensors of o_only:", [k for k, _ in g.named_parameters() if "o_only" in k])
ids = torch.randint(3, 99, (2, 7), generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    for name, p in g.named_parameters():
        if "o_only" in name:
            p.copy_(torch.randn_like(p))
    g.eval()
    plain = g(input_ids=ids).last_hidden_state
    g.set_active_adapters("o_only")
    try:
        adapted = g(input_ids=ids).last_hidden_state
        print("GPT-2 output with o_only active equals the plain model's:", torch.equal(plain, adapted))
    except RuntimeError as e:  # a LoRA on c_attn with none of q, k, v enabled
        print("GPT-2 forward pass with o_only active crashes:", e)
