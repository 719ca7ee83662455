"""HuBERT: wav2vec 2.0's modules (convolutional feature encoder, post-norm transformer encoder with a convolutional
positional embedding), pre-trained to predict cluster ids of masked frames. Only the default (post-norm) config is
certified, as for wav2vec2."""

from .registry import register
from .spec import ArchitectureSpec
from .wav2vec2 import AUDIO_GAPS, WAV2VEC2_LAYOUT, audio_heads


def tiny_config():
    from transformers import HubertConfig

    # as wav2vec2's tiny config: two small convolutions (stride 4 x 2), no SpecAugment masking, no layer drop
    return HubertConfig(
        vocab_size=32, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        conv_dim=(16, 16), conv_stride=(4, 2), conv_kernel=(8, 4), num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=4, mask_time_prob=0.0, layerdrop=0.0, pad_token_id=0, classifier_proj_size=16,
    )  # fmt: skip


SPEC = register(
    ArchitectureSpec(
        name="hubert",
        modality="audio_encoder",
        make_config=tiny_config,
        base_class="HubertModel",
        layouts=(WAV2VEC2_LAYOUT,),
        gaps=AUDIO_GAPS,
        **audio_heads("Hubert", ("ForCTC", "ForSequenceClassification")),
    ),
    module=__name__,
)
