"""Where AdapterHub ``adapters`` differs from the suite's expectations by its documented design: {key: reason}
(keys as ``conformance.interface.implementation_gap`` reads them). Shown as gaps, never as passes; anything that
fails and is not here is a failure (AdapterHub's defects included)."""

from __future__ import annotations


# AdapterHub's own model table leaves these cells blank: the method is not implemented for the architecture.
_NO_PROMPT_TUNING = "AdapterHub does not implement prompt tuning for {} (a blank cell of its model table)"

_REFUSED_AT_FORWARD = (
    "AdapterHub refuses {} with prefix tuning at the forward pass (NotImplementedError), not in set_active_adapters"
)

GAPS: dict[str, str] = {
    "TestMerge::test_merged_adapter_stays_merged_when_deactivated": (
        "AdapterHub undoes a merge when the active setup changes (set_active_adapters(None) unmerges)"
    ),
    "TestMerge::test_reset_restores_weights_bit_for_bit": (
        "AdapterHub's reset_adapter subtracts the merged update again: weights return up to float rounding "
        "(3e-8 on a tiny BERT), not bit for bit (test_reset_restores_outputs checks them within the merge tolerance)"
    ),
    "TestBatchSplit::test_batch_split_of_wrong_size_is_refused": (
        "AdapterHub refuses a batch whose size is not the sum of batch_sizes with an IndexError (documented), the "
        "suite expects a ValueError"
    ),
    "TestUnsupportedBlocks::test_average_refused[prefix_tuning]": _REFUSED_AT_FORWARD.format("Average"),
    "TestUnsupportedBlocks::test_split_refused[prefix_tuning]": _REFUSED_AT_FORWARD.format("Split"),
    **{
        f"{arch}/prompt_tuning": _NO_PROMPT_TUNING.format(title)
        for arch, title in (("gpt2", "GPT-2"), ("t5", "T5"), ("llama", "Llama"), ("mistral", "Mistral"))
    },
    "TestHeads::test_loading_a_head_over_an_existing_one_is_refused": (
        "AdapterHub's load_head replaces a head of the same name with a warning ('Overwriting existing head')"
    ),
    "TestHeads::test_deleting_a_missing_head_is_refused": (
        "AdapterHub's delete_head of a head it does not have logs and returns (documented leniency), no error"
    ),
    "TestHeads::test_full_model_save_load_restores_the_active_head": (
        "AdapterHub does not save which head is active: after load_model the last loaded head is active"
    ),
    "TestLifecycle::test_add_twice_error_says_overwrite_ok": (
        "AdapterHub refuses a second add_adapter of a name with a message that names the adapter but not "
        "overwrite_ok (the refusal and overwrite_ok=True are checked by test_add_twice_needs_overwrite)"
    ),
    "TestStack::test_comma_separated_names_are_a_stack": (
        "AdapterHub reads a string setup as one adapter name ('a,b' is looked up as a name); a Stack is spelled "
        "Stack('a', 'b') or ['a', 'b']"
    ),
    "TestFullModel::test_save_pretrained_restores_the_active_setup": (
        "AdapterHub's save_pretrained / load_model restore the adapters and their weights but not which are active"
    ),
    "TestPromptTuning::test_prompt_starts_from_token_embeddings": (
        "AdapterHub initialises a prompt from text through a tokenizer (prompt_init_text), not from token ids"
    ),
    "TestFullModel::test_failed_load_builds_nothing": (
        "save_pretrained keeps the adapters' weights in the model's own weights file: there is no adapter file "
        "whose corruption this check can isolate"
    ),
    "TestLifecycle::test_init_adds_no_tensors": (
        "adapters.init adds prompt tuning's copy of the input embeddings (prompt_tuning.base_model_embeddings) to "
        "the state dict, whether or not a prompt is ever added"
    ),
    "TestClassConversion::test_static_to_flex_to_static": (
        "AdapterHub converts a static head into an adapter model's head when loading, but has no conversion back"
    ),
}
