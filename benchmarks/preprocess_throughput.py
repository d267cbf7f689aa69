"""Pre-processing throughput: our pipeline against spm_encode + fairseq-preprocess.

Both sides turn the same raw text (the toy corpus, 8 languages) into fairseq mmap
datasets with the same SentencePiece model and dictionary, and both are timed from a
fresh process (one interpreter start-up each):

* ours: ``python -m fairseq_recipes.preprocessing.binarize --spm-model ...`` (reading, encoding in
  worker processes, sharding, manifest);
* baseline: ``spm_encode`` to text pieces (the CLI when installed, else the
  sentencepiece Python API with as many threads), then one ``fairseq-preprocess
  --only-source`` call over all languages at once: the baseline's best case (a
  per-language call, as fairseq's multilingual recipes do, pays start-up per language).

Throughput is raw input MB (10^6 bytes of UTF-8) per second of wall time; ``ratio`` is
ours / baseline. Tokenizer training is not timed (both sides use one given model).
Interpreter start-up (importing fairseq, ~4 s) is a large part of both sides on the
quick corpus; ``ours_without_startup_mb_s`` is the pipeline's own rate (manifest time).

    python benchmarks/preprocess_throughput.py [--full]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fairseq_recipes.preprocessing.corpus import iter_documents  # noqa: E402
from fairseq_recipes.preprocessing.manifest import read_manifest  # noqa: E402
from fairseq_recipes.preprocessing.vocab import (  # noqa: E402
    load_spm,
    train_spm,
    write_dictionary,
)
from fairseq_recipes.toy.corpus import write_corpus  # noqa: E402

WORKERS = min(4, os.cpu_count() or 1)


def _timed(command, **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def _spm_encode(model: Path, raw: Path, pieces: Path) -> float:
    """Documents (one per line) -> space-separated pieces; returns the seconds."""
    start = time.perf_counter()
    with open(pieces, "w", encoding="utf-8") as out:
        for path in sorted(raw.glob("*.txt")):
            docs = list(iter_documents(path))
            if shutil.which("spm_encode"):
                lines = "\n".join(docs) + "\n"
                encoded = subprocess.run(
                    ["spm_encode", f"--model={model}", "--output_format=piece"],
                    input=lines,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                out.write(encoded)
            else:
                encoded = load_spm(model).encode(docs, out_type=str, num_threads=WORKERS)
                out.writelines(" ".join(doc) + "\n" for doc in encoded)
    return time.perf_counter() - start


def run(quick: bool = True) -> dict:
    """Build a corpus, time both pipelines, return the figures (see the module doc)."""
    docs_per_lang = 1500 if quick else 6000
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory(prefix="preprocess-bench-") as tmp:
        tmp = Path(tmp)
        raw = tmp / "raw"
        write_corpus(raw, docs_per_lang=docs_per_lang, seed=7)
        input_mb = sum(p.stat().st_size for p in raw.glob("*.txt")) / 1e6
        sample = [
            doc for path in sorted(raw.glob("*.txt")) for doc in iter_documents(path)
        ]
        model = train_spm(sample[::4], tmp / "spm", vocab_size=8000)
        write_dictionary(model, tmp / "dict.txt")

        ours_s = _timed(
            [sys.executable, "-m", "fairseq_recipes.preprocessing.binarize"]
            + ["--input", str(raw), "--output", str(tmp / "ours")]
            + ["--spm-model", str(model), "--valid-docs", "0", "--workers", str(WORKERS)],
            env=env,
        )
        pipeline_s = read_manifest(tmp / "ours")["seconds"]
        spm_s = _spm_encode(model, raw, tmp / "all.sp")
        fairseq_preprocess = Path(sys.executable).with_name("fairseq-preprocess")
        fairseq_s = _timed(
            [str(fairseq_preprocess), "--only-source", "--srcdict", str(tmp / "dict.txt")]
            + ["--trainpref", str(tmp / "all.sp"), "--destdir", str(tmp / "baseline")]
            + ["--dataset-impl", "mmap", "--workers", str(WORKERS)],
            env=env,
        )
    baseline_s = spm_s + fairseq_s
    return {
        "input_mb": round(input_mb, 2),
        "documents": docs_per_lang * 8,
        "workers": WORKERS,
        "ours_s": round(ours_s, 2),
        "ours_mb_s": round(input_mb / ours_s, 2),
        "ours_without_startup_mb_s": round(input_mb / pipeline_s, 2),
        "baseline_spm_encode_s": round(spm_s, 2),
        "baseline_fairseq_preprocess_s": round(fairseq_s, 2),
        "baseline_mb_s": round(input_mb / baseline_s, 2),
        "ratio": round(baseline_s / ours_s, 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="a 4x larger corpus")
    figures = run(quick=not parser.parse_args().full)
    for name, value in figures.items():
        print(f"{name:32s} {value}")
