"""The suite's config dicts as AdapterHub ``adapters`` configs.

The suite names methods as AdapterHub does (``seq_bn``, ``lora``, ``mam``, ...) and uses AdapterHub's field names, so
a dict translates by loading its name with the other fields as overrides; the unions take their parts as configs.
"""

from __future__ import annotations

from typing import Any


# Union methods: the dict keys that hold a part's config dict, as AdapterHub's union classes name their arguments.
UNION_PARTS: dict[str, tuple[str, ...]] = {
    "mam": ("prefix_tuning", "adapter"),
    "unipelt": ("prefix_tuning", "adapter", "lora"),
}


def to_adapters_config(data: dict[str, Any]) -> Any:
    import adapters

    if "config" not in data:
        raise ValueError(f"a config dict names its method under 'config' (e.g. {{'config': 'lora'}}); got {data!r}")
    fields = dict(data)
    name = fields.pop("config")
    if fields.get("init_weights") == "mam":  # the suite's (the reference's) name of AdapterHub's "mam_adapter"
        fields["init_weights"] = "mam_adapter"
    if name in UNION_PARTS:
        parts = {key: to_adapters_config(fields.pop(key)) for key in UNION_PARTS[name] if key in fields}
        union = {"mam": adapters.MAMConfig, "unipelt": adapters.UniPELTConfig}[name]
        # The union's other fields (leave_out, init_weights_seed) apply to each part that has them, as the suite
        # means them. Not AdapterConfig.load(union, **fields): AdapterHub drops overrides of a union silently.
        unknown = [k for k in fields if not any(hasattr(part, k) for part in parts.values())]
        if unknown:
            raise ValueError(f"no part of AdapterHub's {union.__name__} has the fields {unknown}")
        parts = {
            key: part.replace(**{k: v for k, v in fields.items() if hasattr(part, k)}) for key, part in parts.items()
        }
        return union(**parts)
    # AdapterHub has one invertible-adapter placement, the first layer's input (its post_embedding_forward): the
    # reference's "stack_input"; without the field, its gap (gaps.py) covers the checks of the default placement
    placement = fields.pop("inv_adapter_placement", "stack_input")
    if placement != "stack_input":
        raise NotImplementedError(
            f"AdapterHub places the invertible adapter at the first layer's input only, not {placement!r}"
        )
    # AdapterHub puts a prompt into the embedding module's output only: the reference's placement="embeddings_output"
    if name == "prompt_tuning" and fields.pop("placement", "embeddings_output") != "embeddings_output":
        raise NotImplementedError(
            "AdapterHub puts the prompt into the embedding module's output only, not inputs_embeds"
        )
    if name not in adapters.ADAPTER_CONFIG_MAP:
        raise ValueError(f"AdapterHub has no adapter config named {name!r}")
    return adapters.AdapterConfig.load(name, **fields)
