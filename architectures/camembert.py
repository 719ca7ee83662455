"""CamemBERT: RoBERTa's modules and heads (French)."""

from .bert import BERT_LAYOUT
from .registry import register
from .roberta import poolerless_multiple_choice, roberta_heads
from .spec import ArchitectureSpec
from .versions import transformers_in


def tiny_config():
    from transformers import CamembertConfig

    return CamembertConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=64, pad_token_id=1,
    )  # fmt: skip


# transformers 5.0 to 5.3: CamembertConfig lost tie_word_embeddings, so the LM classes tie nothing
UNTIED_LM = (
    "transformers 5.0 to 5.3's CamembertConfig has no tie_word_embeddings, so this class leaves its decoder untied "
    "from the word embeddings and lm_head.bias unused: it is not the head of any CamemBERT checkpoint (fixed in 5.4)"
)
BROKEN = {
    **({"ForMaskedLM": UNTIED_LM, "ForCausalLM": UNTIED_LM} if transformers_in("5.0", "5.4") else {}),
    **poolerless_multiple_choice("Camembert"),
}

SPEC = register(
    ArchitectureSpec(
        name="camembert",
        modality="text_encoder",
        make_config=tiny_config,
        base_class="CamembertModel",
        layouts=(BERT_LAYOUT,),
        **roberta_heads("Camembert", BROKEN),
    ),
    module=__name__,
)
