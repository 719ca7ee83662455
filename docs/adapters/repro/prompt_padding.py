# AdapterHub 1.3.0: BERT's SDPA attention (the default) extends its 4D mask for the prompt along the queries too
# (prefix_attention_mask(mask, [2, 3]) with 0, "attend"), so the prompt positions attend to padding; through them
# padding reaches the real tokens of the next layer: their output depends on what the padding holds
import adapters
import torch
from transformers import BertConfig, BertModel


ids = torch.randint(3, 99, (1, 8), generator=torch.Generator().manual_seed(1))
mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0, 0]])  # right padding: positions 5, 6, 7 are masked
other = ids.clone()
other[0, 5:] = torch.tensor([7, 8, 9])  # other padding content
for attention in ("sdpa", "eager"):
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
    cfg._attn_implementation = attention
    m = BertModel(cfg).eval()
    adapters.init(m)
    m.add_adapter("a", adapters.PromptTuningConfig(prompt_length=4), set_active=True)
    with torch.no_grad():
        a = m(input_ids=ids, attention_mask=mask).last_hidden_state[:, 4:9]  # the 5 real tokens after the 4 prompts
        b = m(input_ids=other, attention_mask=mask).last_hidden_state[:, 4:9]
    print(
        f"{attention}: the real tokens' output depends on the padding: {not torch.allclose(a, b, atol=1e-6)}", end=""
    )
    print(f" (max diff {(a - b).abs().max().item():.1e})")
