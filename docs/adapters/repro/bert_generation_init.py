# AdapterHub 1.3.0: adapters.init changes a plain BertGenerationEncoder's outputs (no adapter added): not bit for bit
# equal (max diff about 3e-8 on this tiny model, with an attention mask); AdapterHub replaces the self-attention with
# its own forward (BertGenerationSelfAttentionWithAdapters), and a plain BERT stays bit for bit equal
import sys

import adapters
import torch
from transformers import BertConfig, BertGenerationConfig, BertGenerationEncoder, BertModel


tiny = {
    "vocab_size": 128,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
}
changed = False
for model_class, config in (
    (BertGenerationEncoder, BertGenerationConfig(**tiny, max_position_embeddings=64, pad_token_id=0)),
    (BertModel, BertConfig(**tiny, max_position_embeddings=64, pad_token_id=0)),
):
    worst = 0.0
    for seed in range(5):
        torch.manual_seed(seed)
        m = model_class(config).eval()
        ids = torch.randint(3, 128, (2, 8))
        mask = torch.ones(2, 8, dtype=torch.long)
        with torch.no_grad():
            plain = m(input_ids=ids, attention_mask=mask).last_hidden_state
            adapters.init(m)
            m.eval()
            worst = max(worst, (m(input_ids=ids, attention_mask=mask).last_hidden_state - plain).abs().max().item())
    print(f"{model_class.__name__}: adapters.init changes the outputs by up to {worst:.1e} (5 seeds)")
    changed |= model_class is BertGenerationEncoder and worst > 0
sys.exit(1 if changed else 0)
