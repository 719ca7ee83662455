# AdapterHub 1.3.0: defects of GPT-2 that Llama and Mistral share (parallel_generate.py, post_add.py,
# invertible_static_head.py), each shown here on both; and a Llama question-answering checkpoint that does not load
import sys
import tempfile

import adapters
import torch
from adapters import composition as ac
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForQuestionAnswering,
    LlamaModel,
    MistralConfig,
    MistralForCausalLM,
    MistralModel,
)


small = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=37,
)
ids = torch.randint(3, 99, (2, 5), generator=torch.Generator().manual_seed(0))
defects = 0
for name, config_class, base_class, lm_class in (
    ("llama", LlamaConfig, LlamaModel, LlamaForCausalLM),
    ("mistral", MistralConfig, MistralModel, MistralForCausalLM),
):
    torch.manual_seed(0)
    # 1. generate() under Parallel crashes (the replicated batch meets an unreplicated tensor), whatever the method
    m = lm_class(config_class(**small)).eval()
    adapters.init(m)
    for n in ("a", "b"):
        m.add_adapter(n, "seq_bn")
    m.set_active_adapters(ac.Parallel("a", "b"))
    try:
        m.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=3, do_sample=False)
        print(f"{name} Parallel generate: ran")
    except RuntimeError as e:
        defects += 1
        print(f"{name} Parallel generate crashes: {str(e)[:90]}")
    # 2. residual_before_ln="post_add" crashes (pre-norm: no layer norm is passed)
    m = base_class(config_class(**small)).eval()
    adapters.init(m)
    m.add_adapter("a", adapters.SeqBnConfig(residual_before_ln="post_add"), set_active=True)
    try:
        m(input_ids=ids)
        print(f"{name} post_add: ran")
    except UnboundLocalError as e:
        defects += 1
        print(f"{name} post_add crashes: {e}")
    # 3. the static LM head model applies the invertible adapter to the embeddings, never its inverse before lm_head
    m = lm_class(config_class(**small)).eval()
    adapters.init(m)
    m.add_adapter("a", adapters.SeqBnInvConfig(), set_active=True)
    with torch.no_grad():
        for p in m.model.invertible_adapters["a"].parameters():
            p.normal_(0, 0.5)
    seen = {}
    m.model.norm.register_forward_hook(lambda mod, args, out, seen=seen: seen.__setitem__("normed", out))
    m.lm_head.register_forward_pre_hook(lambda mod, args, seen=seen: seen.__setitem__("head_input", args[0]))
    with torch.no_grad():
        m(input_ids=ids)
    if torch.equal(seen["normed"], seen["head_input"]):
        defects += 1
        print(f"{name} invertible adapter: lm_head gets the final norm's output as it is (no inverse)")
# 4. (Llama only) a LlamaForQuestionAnswering checkpoint (its base model is `transformer`, not `model` as in Mistral's)
# does not load as an adapter model
with tempfile.TemporaryDirectory() as directory:
    LlamaForQuestionAnswering(LlamaConfig(**small)).save_pretrained(directory)
    try:
        adapters.AutoAdapterModel.from_pretrained(directory)
        print("LlamaForQuestionAnswering checkpoint: loads as an adapter model")
    except ValueError as e:
        defects += 1
        print(f"LlamaForQuestionAnswering checkpoint does not load as an adapter model: {e}")
sys.exit(1 if defects else 0)
