"""Option names of TRL's and peft's config classes, known without importing them.

Importing trl or peft imports torch (5-50 s); a typo in a train config should be reported in well
under a second. `option_names.json` holds the field names for the package versions it records;
when the installed versions differ it is not used and the classes are imported instead (slow, but
never wrong). Regenerate after an upgrade: `python -m train.option_names`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

TABLE = Path(__file__).with_name("option_names.json")
PACKAGES = ("trl", "transformers", "peft")
TRL_CLASSES = {"sft": "SFTConfig", "dpo": "DPOConfig"}
PEFT_CLASSES = ("LoraConfig", "AdaLoraConfig", "IA3Config", "LoHaConfig", "LoKrConfig", "PrefixTuningConfig",
                "PromptTuningConfig", "PromptEncoderConfig")


def installed_versions() -> dict[str, str | None]:
    from curate.core.version import package_versions

    return package_versions(PACKAGES)


@functools.cache
def _table() -> dict | None:
    if not TABLE.exists():
        return None
    data = json.loads(TABLE.read_text(encoding="utf-8"))
    return data if data.get("versions") == installed_versions() else None


def _init_fields(cls) -> list[str]:
    return sorted(f.name for f in dataclasses.fields(cls) if f.init)


def trl_options(stage: str) -> set[str]:
    """Init fields of trl.SFTConfig / trl.DPOConfig."""
    table = _table()
    if table is not None:
        return set(table["trl"][stage])
    import trl

    return set(_init_fields(getattr(trl, TRL_CLASSES[stage])))


def peft_options(class_name: str) -> set[str]:
    """Fields of a peft config class (e.g. LoraConfig)."""
    table = _table()
    if table is not None and class_name in table["peft"]:
        return set(table["peft"][class_name])
    import peft

    return {f.name for f in dataclasses.fields(getattr(peft, class_name))}


def generate() -> dict:
    """The table for the installed packages (imports trl and peft)."""
    import peft
    import trl

    return {"versions": installed_versions(),
            "trl": {stage: _init_fields(getattr(trl, cls)) for stage, cls in TRL_CLASSES.items()},
            "peft": {cls: sorted(f.name for f in dataclasses.fields(getattr(peft, cls))) for cls in PEFT_CLASSES}}


if __name__ == "__main__":
    TABLE.write_text(json.dumps(generate(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(TABLE)
