# AdapterHub 1.3.0: prefix tuning on Llama under sdpa, and T5's relative position bias with a prefix
import adapters
import torch
from transformers import LlamaConfig, LlamaModel, T5Config, T5Model


torch.manual_seed(0)


def randomize_prefix(model, name="p"):
    with torch.no_grad():
        for key, p in model.named_parameters():
            if f".{name}." in key:
                p.copy_(torch.randn_like(p) * 0.3)


# Llama under sdpa, the default attention, as GPT-2 in model_level.py: without padding the
# mask is None, and sdpa's is_causal aligns the causal mask to the top left of the lengthened keys (query i sees
# prefix positions 0..i only); with padding the boolean mask's prefix columns are inverted to False (masked out)
def llama(attn):
    torch.manual_seed(1)
    config = LlamaConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, attn_implementation=attn,
    )  # fmt: skip
    m = LlamaModel(config).eval()
    adapters.init(m)
    m.add_adapter("p", adapters.PrefixTuningConfig(prefix_length=5), set_active=True)
    randomize_prefix(m)
    return m


ids = torch.randint(3, 99, (2, 7))
mask = torch.ones(2, 7, dtype=torch.long)
mask[0, :2] = 0
eager, sdpa = llama("eager"), llama("sdpa")
with torch.no_grad():
    for label, kw in (("no padding", {}), ("padding", {"attention_mask": mask})):
        e, s = eager(input_ids=ids, **kw).last_hidden_state, sdpa(input_ids=ids, **kw).last_hidden_state
        sdpa.set_active_adapters(None)
        plain = sdpa(input_ids=ids, **kw).last_hidden_state
        sdpa.set_active_adapters("p")
        print(
            f"llama prefix, {label}: sdpa vs eager max diff {(e - s).abs().max():.3f}; "
            f"sdpa vs plain model {(s - plain).abs().max():.3g}"
        )

# T5: the first layer computes the relative position bias for L queries and P + L keys (prefix first), with the
# queries at positions 0..L-1: the prefix gets position buckets, and every token-to-token bias is the one of a query
# standing P positions earlier (a token's distance to itself becomes P, not 0)
torch.manual_seed(0)
t5 = T5Model(T5Config(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4)).eval()
adapters.init(t5)
P, L = 5, 7
t5.add_adapter("p", adapters.PrefixTuningConfig(prefix_length=P), set_active=True)
randomize_prefix(t5)
attention = t5.encoder.block[0].layer[0].SelfAttention
seen = []
handle = attention.register_forward_hook(lambda module, args, output: seen.append(output[1]))
ids = torch.randint(3, 99, (1, L))
with torch.no_grad():  # the model, not its encoder alone: AdapterHub's forward context holds the prefixes
    t5(input_ids=ids, decoder_input_ids=ids[:, :3])
    t5.set_active_adapters(None)
    t5(input_ids=ids, decoder_input_ids=ids[:, :3])
    with_prefix, plain = seen
    shifted = attention.compute_bias(L, L, cache_position=torch.arange(L) - P)  # queries P positions earlier
handle.remove()
print("t5 bias shape with prefix:", tuple(with_prefix.shape), "plain:", tuple(plain.shape))
print("t5 prefix columns carry a position bias:", with_prefix[..., :P].abs().max().item() > 0)
print("t5 token columns equal the plain model's bias:", torch.allclose(with_prefix[..., P:], plain))
print("t5 token columns equal the bias of queries shifted by -P:", torch.allclose(with_prefix[..., P:], shifted))
