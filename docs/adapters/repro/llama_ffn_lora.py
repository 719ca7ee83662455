# AdapterHub 1.3.0: on Llama and Mistral, intermediate_lora and output_lora are swapped against its other models
import adapters
import torch
from transformers import LlamaConfig, LlamaModel, MistralConfig, MistralModel, Qwen2Config, Qwen2Model


small = dict(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=37)
for model_class, config_class in ((LlamaModel, LlamaConfig), (MistralModel, MistralConfig), (Qwen2Model, Qwen2Config)):
    for location in ("intermediate_lora", "output_lora"):
        torch.manual_seed(0)
        m = model_class(config_class(**small))
        adapters.init(m)
        m.add_adapter("a", adapters.LoRAConfig(r=4, selfattn_lora=False, **{location: True}))
        mlp = m.layers[0].mlp
        wrapped = [n for n in ("gate_proj", "up_proj", "down_proj") if "a" in getattr(getattr(mlp, n), "loras", {})]
        print(f"{model_class.__name__:12} {location:17} adapts mlp.{wrapped}")
# Qwen2 (and Gemma2/3, Qwen3: AdapterHub's AdapterModelInterface, layer_intermediate_proj="mlp.up_proj",
# layer_output_proj="mlp.down_proj"), BERT (intermediate.dense / output.dense), BART (fc1 / fc2) and T5 (wi / wo) put
# intermediate_lora on the FFN's input projection and output_lora on its output projection, as the LoRAConfig
# docstring says ("intermediate MLP weights" / "output MLP weights"). The Llama and Mistral mixins wrap
# down_proj (the FFN's output) as "intermediate" and up_proj (an input projection) as "output".
