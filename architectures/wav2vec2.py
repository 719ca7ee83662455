"""wav2vec 2.0: a raw waveform through a convolutional feature encoder and a feature projection, then a post-norm
transformer encoder with a convolutional positional embedding (``encoder.pos_conv_embed``) over the frames.

The default config is certified: group-norm feature encoder, post-norm layers (``do_stable_layer_norm=False``); the
stable-layer-norm variant (large checkpoints) moves the norms before each branch and is another layout. Adapters sit
in the encoder layers, which see one position per frame (the waveform shortened by the product of the conv strides).
``WAV2VEC2_LAYOUT`` serves the families that copy these modules (HuBERT).
"""

from .heads import HeadMap
from .registry import register
from .spec import ArchitectureSpec, AttentionSpec, LayerStackSpec, ModuleLayout
from .versions import transformers_at_least


def tiny_config():
    from transformers import Wav2Vec2Config

    # two small convolutions (stride 4 x 2); no SpecAugment masking and no layer drop: both are random in training
    return Wav2Vec2Config(
        vocab_size=32, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
        conv_dim=(16, 16), conv_stride=(4, 2), conv_kernel=(8, 4), num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=4, mask_time_prob=0.0, layerdrop=0.0, pad_token_id=0, classifier_proj_size=16,
        tdnn_dim=(16, 16), tdnn_kernel=(3, 1), tdnn_dilation=(1, 1), xvector_output_dim=16, codevector_dim=16,
        proj_codevector_dim=16, num_codevectors_per_group=8, num_codevector_groups=2,
    )  # fmt: skip


WAV2VEC2_LAYOUT = ModuleLayout(
    name="wav2vec2",
    # the projection of the conv features to the hidden size: what the encoder layers read, as a patch embedding
    embeddings="feature_projection.projection",
    stacks=(
        LayerStackSpec(
            name="encoder",
            path="encoder.layers",
            self_attention=AttentionSpec(
                module="attention",
                output="attention.out_proj",
                q="attention.q_proj",
                k="attention.k_proj",
                v="attention.v_proj",
            ),
            ffn_in="feed_forward.intermediate_dense",
            ffn_out="feed_forward.output_dense",
            attention_norm="layer_norm",
            ffn_norm="final_layer_norm",
            norm_position="post",
        ),
    ),
)


# Why no static head class of a wav2vec2-like family is a flexible head, by class suffix. The per-frame heads have
# the logits of a tagging head (one linear layer over every frame) but other losses.
AUDIO_HEAD_GAPS = {
    "ForCTC": "its logits are a tagging head's (one linear layer over every frame), but its loss is CTC over "
    "unaligned label sequences; a flexible tagging head's loss is cross-entropy per frame",
    "ForSequenceClassification": "projects every frame, then classifies their mean over time; a flexible "
    "classification head reads one position",
    "ForAudioFrameClassification": "its logits are a tagging head's, but its loss takes a label vector per frame "
    "(argmax of one-hot labels); a flexible tagging head takes a label id per frame",
    "ForXVector": "a TDNN (dilated 1-D convolutions) with statistics pooling and an AM-softmax loss for speaker "
    "embeddings; no flexible head type has convolutions or pooling over time",
    "ForPreTraining": "self-supervised pre-training: a Gumbel vector quantizer and a contrastive loss over masked "
    "frames; no flexible head type predicts quantized codes",
    "ForMaskedLM": "a deprecated alias of the CTC model in transformers 4.x (the same lm_head over frames, without "
    "a loss), removed in 5.0",
}


def audio_heads(prefix: str, suffixes: tuple[str, ...]) -> dict:
    """``head_classes`` and ``heads`` for a wav2vec2-like family whose classes are ``<prefix><suffix>``."""
    gaps = {prefix + suffix: AUDIO_HEAD_GAPS[suffix] for suffix in suffixes}
    return {"head_classes": tuple(gaps), "heads": HeadMap(mapped=(), gaps=gaps)}


AUDIO_GAPS = {
    "prompt_tuning": "not implemented for audio encoders, a limitation of this repository, not of the model: the "
    "prompt-tuning oracle has no audio path, and the reference inserts a non-token prompt after a vision model's "
    "patch embeddings (wav2vec2's feature projection returns a tuple there)",
}
# 4.x still has the deprecated ForMaskedLM
SUFFIXES = ("ForCTC", "ForSequenceClassification", "ForAudioFrameClassification", "ForXVector", "ForPreTraining")
SUFFIXES += () if transformers_at_least("5.0") else ("ForMaskedLM",)

SPEC = register(
    ArchitectureSpec(
        name="wav2vec2",
        modality="audio_encoder",
        make_config=tiny_config,
        base_class="Wav2Vec2Model",
        layouts=(WAV2VEC2_LAYOUT,),
        gaps=AUDIO_GAPS,
        **audio_heads("Wav2Vec2", SUFFIXES),
    ),
    module=__name__,
)
