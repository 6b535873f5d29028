"""The GPU check (benchmarks/gpu_check.sh): everything but the GPU itself.

Its tiny rehearsal runs the whole check on a CPU with only what the lent GPU image has: the
packages that image lacks are hidden from the check's processes (imports and distribution metadata
alike), so a module-level import of one of them anywhere on the check's path fails here first.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"
# What the lent image lacks (docs/gpu-check.md), plus what only they pull in.
IMAGE_LACKS = (
    "pandas",
    "mteb",
    "datasets",
    "deepspeed",
    "snakemake",
    "flash_attn",
    "pyarrow",
    "jsonschema",
    "matplotlib",
    "schedulefree",  # unless its wheel is carried (benchmarks/gpu_wheels.txt): the AdamW fallback runs
)
# A sitecustomize module, found on PYTHONPATH by every Python process of the check (its profiling
# workers too): it wraps every import finder so that these names are neither importable nor listed
# as installed distributions.
HIDE_PACKAGES = f"""
import sys

HIDDEN = {set(IMAGE_LACKS)!r}


def hidden(name):
    return bool(name) and name.replace("-", "_").lower().partition(".")[0] in HIDDEN


class Hide:
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        find = getattr(self.finder, "find_spec", None)
        return None if hidden(name) or find is None else find(name, path, target)

    def find_distributions(self, *args, **kwargs):
        find = getattr(self.finder, "find_distributions", None)
        dists = find(*args, **kwargs) if find else ()
        return (d for d in dists if not hidden(d.metadata["Name"]))

    def __getattr__(self, attr):
        return getattr(self.finder, attr)


sys.meta_path[:] = [Hide(finder) for finder in sys.meta_path]
"""


def load_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def check():
    return load_check()


@pytest.mark.slow
def test_the_tiny_rehearsal_prints_every_figure_with_only_what_the_gpu_image_has(tmp_path):
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE_PACKAGES, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "PYTHONPATH": str(hide),
        "GPU_CHECK_TINY": "1",
        "GPU_CHECK_JSON": str(tmp_path / "out" / "gpu_check.json"),
        "GPU_CHECK_PEAK_TFLOPS": "1",  # a CPU has no entry in the table of peaks
    }
    proc = subprocess.run(["bash", str(SCRIPT)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "installed here: none" in proc.stdout  # the image's missing packages really were missing

    result = json.loads((tmp_path / "out" / "gpu_check.json").read_text(encoding="utf-8"))
    expected = {
        *(
            f"table2.{mode}.{arm}.{what}"
            for mode in ("forward", "encode")
            for arm in ("encoder", "decoder")
            for what in ("samples_per_s", "peak_memory_mb")
        ),
        "table2.forward.speedup",
        "table2.encode.speedup",
        *(
            f"pretrain.{arm}.{what}"
            for arm in ("encoder", "decoder")
            for what in ("tokens_per_s", "peak_memory_mb", "mfu")
        ),
    }
    assert set(result["figures"]) == expected
    assert all(math.isfinite(v) and v > 0 for v in result["figures"].values()), result["figures"]

    block = result["summary"]
    assert block in proc.stdout and proc.stdout.rstrip().endswith(")")  # the last thing printed, then the time
    assert "nan" not in block.lower() and "inf" not in block.lower()
    for line in (
        "| encoder | encode |",
        "| decoder | forward |",
        "| speedup encoder/decoder | encode |",
        "| encoder | MLM |",
        "| decoder | CLM |",
    ):
        assert line in block
    assert "encoder: bidirectional on cpu" in block and "decoder: bidirectional on cpu" in block
    assert "with is_causal=True: causal: ok" in block and "MISMATCH" not in block
    assert "versions: python" in block and "transformers" in block and "absent: schedulefree" in block


def test_the_paper_size_is_the_papers_pair_on_sarashinas_vocabulary(check, tmp_path):
    """The configs the check builds at paper size: both arms at 0.5B non-embedding parameters (within
    the preset's 1%), on a 102,400-token vocabulary whose special ids lie inside it."""
    from transformers import AutoConfig, AutoTokenizer

    from twinarch.pretrain.models import count_config_parameters

    config = check.load_paper_config()
    size = check.paper_size(config)
    assert size.model_size is None  # each arm's own: paper-0.5b
    assert (size.pretrain_seq_len, size.per_device_batch_size, size.gradient_accumulation_steps) == (1024, 16, 32)
    tokenizer_dir = check.build_shared_tokenizer(size.vocab_size, tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    assert len(tokenizer) == 102_400
    assert tokenizer("w0 w1 w102392", add_special_tokens=False)["input_ids"] == [7, 8, 102_399]
    for arm, folder in check.write_model_configs(config, size, tokenizer, tmp_path).items():
        model_config = AutoConfig.from_pretrained(str(folder))
        assert model_config.vocab_size == 102_400
        ids = [getattr(model_config, k) for k in ("pad_token_id", "bos_token_id", "eos_token_id")]
        assert all(0 <= i < 102_400 for i in ids), (arm, ids)
        counts = count_config_parameters(model_config)
        assert abs(counts.non_embedding - 500_000_000) / 500_000_000 <= 0.005, (arm, counts)


def test_random_texts_are_as_many_tokens_as_words(check, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(check.build_shared_tokenizer(64, tmp_path)))
    texts = check.random_texts(tokenizer, count=5, words=12, seed=0)
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert [len(row) for row in ids] == [12] * 5
    assert min(min(row) for row in ids) >= len(tokenizer.all_special_ids)
    assert texts == check.random_texts(tokenizer, count=5, words=12, seed=0)


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H200", 989.4),
        ("NVIDIA H200 NVL", 835.5),
        ("NVIDIA H100 80GB HBM3", 989.4),
        ("NVIDIA H100 PCIe", 756.5),
        ("NVIDIA A100-SXM4-80GB", 312.0),
    ],
)
def test_the_peak_is_the_devices_dense_bf16_figure(check, monkeypatch, name, peak):
    monkeypatch.delenv("GPU_CHECK_PEAK_TFLOPS", raising=False)
    assert check.peak_tflops(name) == peak


def test_an_unknown_device_has_no_peak_unless_one_is_given(check, monkeypatch):
    monkeypatch.delenv("GPU_CHECK_PEAK_TFLOPS", raising=False)
    assert math.isnan(check.peak_tflops("Some Future GPU"))
    monkeypatch.setenv("GPU_CHECK_PEAK_TFLOPS", "123.5")
    assert check.peak_tflops("Some Future GPU") == 123.5


def test_n_counts_every_matrix_a_token_meets_once_the_tied_head_included(check):
    """ModernBERT at hidden 16, MLP 32, 3 layers, vocabulary 64: per layer Wqkv 3h x h, Wo h x h, the
    GLU's Wi 2m x h and Wo h x m; the head's dense h x h and its decoder V x h (tied to the input
    embedding, a lookup that is not counted again)."""
    from transformers import ModernBertConfig, ModernBertForMaskedLM

    h, m, layers, vocab = 16, 32, 3, 64
    special_ids = {f"{token}_token_id": i for i, token in enumerate(("pad", "bos", "eos", "cls", "sep", "mask"))}
    config = ModernBertConfig(
        vocab_size=vocab,
        hidden_size=h,
        intermediate_size=m,
        num_hidden_layers=layers,
        num_attention_heads=2,
        **special_ids,
    )
    model = ModernBertForMaskedLM(config)
    assert model.decoder.weight is model.get_input_embeddings().weight
    assert check.matmul_parameters(model) == layers * (3 * h * h + h * h + 2 * m * h + h * m) + h * h + vocab * h


def test_a_part_that_failed_is_named_in_the_summary_and_the_others_still_print(check):
    info = {
        "machine": {"description": "CPU: test"},
        "versions": {"python": "3.11", "torch": "2.13", "schedulefree": ""},
        "date": "2026-12-01",
        "commit": "abc",
        "shapes": {"encoder": "modernbert", "decoder": "llama"},
    }
    probes = {"encoder": {"device": "cuda:0", "dtype": "bfloat16", "attn_implementation": "sdpa"}}
    probes["encoder"] |= {"wanted_bidirectional": True, "bidirectional": True}
    results = {"table2": None, "pretraining": None, "probes": probes}
    errors = {"table2": "RuntimeError: profiling arm 'encoder': out of luck", "pretraining": "ValueError: no"}
    block = check.summary(
        info, results, errors, check.figures(results, 1.0), size=check.TINY, peak=1.0, paper_mode="encode"
    )
    assert "table2: FAILED: RuntimeError: profiling arm 'encoder': out of luck" in block
    assert "pretraining: FAILED: ValueError: no" in block
    assert "encoder: bidirectional on cuda:0 bfloat16 (sdpa), wanted bidirectional: ok" in block
    assert "versions: python 3.11, torch 2.13; absent: schedulefree" in block
