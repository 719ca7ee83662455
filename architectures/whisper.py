"""Whisper: a pre-norm speech encoder-decoder. The encoder reads log-mel features through two convolutions (no token
embeddings, no attention mask); the decoder is BART-like with cross-attention and generates text."""

from .bart import SPLIT_GAP, bart_layout
from .heads import HeadMap, StaticHead
from .registry import register
from .spec import ArchitectureSpec


def tiny_config():
    from transformers import WhisperConfig

    return WhisperConfig(
        vocab_size=128, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, num_mel_bins=8, max_source_positions=16,
        max_target_positions=64, pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
        suppress_tokens=None, begin_suppress_tokens=None,
    )  # fmt: skip


# BART's module names and pre-norm order; the token embeddings are the decoder's
LAYOUT = bart_layout("pre", "whisper", embeddings="decoder.embed_tokens")

SPEC = register(
    ArchitectureSpec(
        name="whisper",
        modality="speech_encoder_decoder",
        make_config=tiny_config,
        base_class="WhisperModel",
        head_classes=("WhisperForConditionalGeneration", "WhisperForCausalLM", "WhisperForAudioClassification"),
        layouts=(LAYOUT,),
        gaps={
            "split": SPLIT_GAP,
            "prompt_tuning": "prompt tuning prepends trained token embeddings to the input, and Whisper's encoder "
            "reads audio features, not tokens",
        },
        heads=HeadMap(
            mapped=(StaticHead("WhisperForConditionalGeneration", "seq2seq_lm"),),
            gaps={
                "WhisperForCausalLM": "is the decoder alone used as a causal LM (without the audio encoder); a "
                "flexible head sits on the whole encoder-decoder model",
                "WhisperForAudioClassification": "classifies the mean of the encoder's outputs over time; a flexible "
                "head reads one position",
            },
        ),
    ),
    module=__name__,
)
