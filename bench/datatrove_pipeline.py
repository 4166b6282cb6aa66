"""datatrove's language-ID + exact dedup + MinHash pipeline, timed; run by curate_bench.py inside its own venv.

    <venv>/bin/python bench/datatrove_pipeline.py WORK_DIR LID_MODEL

WORK_DIR/in/docs.jsonl holds one document per record ({"id", "text"}: every turn, as zhtune's
near-dedup compares it). The same stages as zhtune's build, with datatrove's own blocks:
LanguageFilter (fastText lid.176, here the .ftz zhtune ships, since this machine cannot download
lid.176.bin; keep zh at score >= 0.5 as zhtune does), exact dedup (signature, find, filter) and
MinHash dedup with `MinhashConfig()` and `language="cmn"` (spaCy + jieba words; in datatrove 0.10.1
`zh` splits only at whitespace), one task each, in this process. Prints one line: RESULT {json}.
"""


import gzip
import json
import sys
import time
from pathlib import Path

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig, ExactDedupFilter, ExactDedupSignature, ExactFindDedups
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
                                              MinhashDedupSignature)
from datatrove.pipeline.filters.language_filter import LanguageFilter
from datatrove.pipeline.readers.jsonl import JsonlReader
from datatrove.pipeline.writers.jsonl import JsonlWriter


def text_of(doc: Document) -> bytes:
    return doc.text.encode("utf-8")


def main() -> int:
    work, model = sys.argv[1], sys.argv[2]
    import datatrove.utils.lid

    datatrove.utils.lid.cached_asset_path_or_download = lambda *a, **k: model  # the local model, not a download
    lid = LanguageFilter(languages=["zh"], language_threshold=0.5)
    exact = ExactDedupConfig(content_getter=text_of)
    minhash = MinhashConfig()
    seconds: dict[str, float] = {}

    def run(step: str, pipeline: list, tasks: int = 1) -> None:
        start = time.perf_counter()
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=f"{work}/logs/{step}").run()
        seconds[step.split("-")[0]] = seconds.get(step.split("-")[0], 0.0) + time.perf_counter() - start

    run("language", [JsonlReader(f"{work}/in"), lid, JsonlWriter(f"{work}/lang")])
    run("exact-1", [JsonlReader(f"{work}/lang"), ExactDedupSignature(f"{work}/esigs", config=exact)])
    run("exact-2", [ExactFindDedups(f"{work}/esigs", f"{work}/edups", config=exact)])
    run("exact-3", [JsonlReader(f"{work}/lang"), ExactDedupFilter(f"{work}/edups", config=exact), JsonlWriter(f"{work}/exact")])
    run("minhash-1", [JsonlReader(f"{work}/exact"), MinhashDedupSignature(f"{work}/msigs", config=minhash, language="cmn")])
    run("minhash-2", [MinhashDedupBuckets(f"{work}/msigs", f"{work}/buckets", config=minhash)], tasks=minhash.num_buckets)
    run("minhash-3", [MinhashDedupCluster(f"{work}/buckets", f"{work}/remove", config=minhash)])
    run("minhash-4", [JsonlReader(f"{work}/exact"), MinhashDedupFilter(f"{work}/remove"), JsonlWriter(f"{work}/out")])
    kept = sum(1 for p in Path(f"{work}/out").glob("*.jsonl.gz") for _ in gzip.open(p, "rt"))
    print("RESULT " + json.dumps({"seconds": seconds, "total_s": sum(seconds.values()), "kept": kept}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
