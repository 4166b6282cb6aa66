"""Export targets: `curate export --to NAME` -> the writer in curate.export that makes its files.

Names only (no polars), so the CLI builds its choices from this table without importing the writers.
"""

from __future__ import annotations

TARGETS: dict[str, str] = {
    "llamafactory": "export_llamafactory",  # sharegpt JSONL + dataset_info.json + stage configs
    "axolotl": "export_axolotl",  # chat_template datasets
    "trl": "export_trl",  # conversational JSONL + a load_dataset snippet
    "jsonl": "export_jsonl",  # TRL-native records with their provenance
}
