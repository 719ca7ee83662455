# AdapterHub 1.3.0: composition defects of par_bn, Average and LoRA Stack (issue 10 items 1-3)
import adapters
import torch
from adapters import composition as ac
from transformers import BertConfig, BertModel


torch.manual_seed(0)
cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
ids = torch.randint(3, 99, (2, 7))


def model_with(config, names=("a", "b"), **extra):
    m = BertModel(cfg).eval()
    adapters.init(m)
    for n in names:
        m.add_adapter(n, config=config, **extra)
        with torch.no_grad():
            for k, p in m.named_parameters():
                if f".{n}." in k:
                    p.copy_(torch.randn_like(p) * 0.3)
    return m


def out(m, setup):
    m.set_active_adapters(setup)
    with torch.no_grad():
        return m(input_ids=ids).last_hidden_state


# 1. Stack(a, b) of two par_bn equals b alone; Parallel of two par_bn crashes
m = model_with("par_bn")
print("par_bn Stack(a,b) == b alone:", torch.allclose(out(m, ac.Stack("a", "b")), out(m, "b")))
try:
    out(m, ac.Parallel("a", "b"))
    print("par_bn Parallel: ran")
except Exception as e:
    print("par_bn Parallel crashes:", type(e).__name__, str(e)[:100])

# 2. Average(a, b, weights=[1, 0]) should equal a alone
for config in ("seq_bn", "lora"):
    m = model_with(config)
    diff = (out(m, ac.Average("a", "b", weights=[1.0, 0.0])) - out(m, "a")).abs().max().item()
    print(f"{config} Average(a, b, weights=[1, 0]) vs a alone: max diff {diff:.3f}")

# 3. Stack of LoRAs with output_lora=True
m = model_with(adapters.LoRAConfig(selfattn_lora=False, output_lora=True))
try:
    out(m, ac.Stack("a", "b"))
    print("LoRA output_lora Stack: ran")
except Exception as e:
    print("LoRA output_lora Stack crashes:", type(e).__name__, str(e)[:100])

# 3b. a Stack of LoRAs feeds a's update B_a A_a x (not x) into b: with b's B = 0, Stack(a, b) is the plain model
m = model_with(adapters.LoRAConfig(attn_matrices=["q", "v"]))
with torch.no_grad():
    for k, p in m.named_parameters():
        if ".b.lora_B" in k:
            p.zero_()
m.set_active_adapters(None)
with torch.no_grad():
    plain = m(input_ids=ids).last_hidden_state
stacked = out(m, ac.Stack("a", "b"))
print("LoRA Stack(a, b) with b's B = 0 equals a alone:", torch.allclose(stacked, out(m, "a"), atol=1e-6), end="; ")
print("equals the plain model:", torch.allclose(stacked, plain, atol=1e-6))

# 4. LoRA / IA3 on a fused qkv projection (GPT-2's c_attn) refuse every composition block, Stack included: documented
# (its composition table: 'except for Deberta and GPT-2'), declared an implementation gap, not a defect
from transformers import GPT2Config, GPT2Model  # noqa: E402


g = GPT2Model(GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4)).eval()
adapters.init(g)
for n in ("a", "b"):
    g.add_adapter(n, "lora")
g.set_active_adapters(ac.Stack("a", "b"))
try:
    g(input_ids=ids)
    print("gpt2 LoRA Stack: ran")
except ValueError as e:
    print("gpt2 LoRA Stack refused:", e)
