"""Reading and writing files: every failure names the file, the line and the cause."""

from __future__ import annotations

import errno
import subprocess
import sys

import pytest

from twinarch.core.io import (
    DataError,
    OutputError,
    atomic_write_json,
    iter_jsonl_lines,
    iter_tsv,
    read_json,
    writing,
)


def test_bytes_that_are_not_utf8_name_the_file_and_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes('{"text": "一"}\n{"text": "二"}\n'.encode() + b'{"text": "\xff"}\n')
    with pytest.raises(DataError, match=r"rows.jsonl:3: not valid UTF-8 \(byte 11 of the line is b'\\xff'"):
        list(iter_jsonl_lines(path))
    json_file = tmp_path / "one.json"
    json_file.write_bytes(b'{\n"a": "\xe3\x81"\n}\n')
    with pytest.raises(DataError, match=r"one.json:2: not valid UTF-8"):
        read_json(json_file)


def test_jsonl_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert [n for n, _ in iter_jsonl_lines(path)] == [1, 3]


@pytest.mark.parametrize("row, count", [("a\tb\tc\textra", 4), ("a\tb", 2)])
def test_a_tsv_row_with_a_field_too_many_or_too_few_names_its_line(tmp_path, row, count):
    path = tmp_path / "pairs.tsv"
    path.write_text(f"s1\ts2\tscore\nx\ty\t1\n{row}\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"pairs.tsv:3: {count} tab-separated fields, the header has 3.*task 'X'"):
        list(iter_tsv(path, "task 'X'"))


def test_tsv_rows_are_keyed_by_the_header(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text('s1\ts2\n"a\tb"\tc\nd\te\n', encoding="utf-8")
    assert [(n, r) for n, r in iter_tsv(path)] == [(2, {"s1": "a\tb", "s2": "c"}), (3, {"s1": "d", "s2": "e"})]


@pytest.mark.parametrize(
    "error, cause",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "no space left"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only file system"),
        (
            RuntimeError(
                "[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0: basic_ios::clear: iostream error"
            ),
            "the disk may be full",
        ),
    ],
)
def test_a_failed_write_names_the_path_and_the_cause(tmp_path, error, cause):
    with pytest.raises(OutputError, match=rf"{tmp_path / 'out'}: .*{cause}.*bytes free"):
        with writing(tmp_path / "out", "checkpoint"):
            raise error


def test_other_errors_pass_through_unchanged(tmp_path):
    with pytest.raises(KeyError):
        with writing(tmp_path):
            raise KeyError("not a write")


def test_an_atomic_write_on_a_full_disk_leaves_nothing_behind(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_text", full)
    with pytest.raises(OutputError, match="out.json: cannot write the output: no space left"):
        atomic_write_json(tmp_path / "out.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_the_log_ends_with_the_error_that_stopped_the_job(tmp_path):
    log_file = tmp_path / "rule.log"
    code = (
        "from twinarch.core.logs import setup_logging\n"
        "from twinarch.core.io import DataError\n"
        "import logging\n"
        f"setup_logging({str(log_file)!r})\n"
        "logging.getLogger('twinarch.x').info('step 3/10 loss=1.0')\n"
        "raise DataError('data.tsv:7: 2 fields, the header has 3')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    text = log_file.read_text(encoding="utf-8")
    assert "ERROR twinarch: DataError: data.tsv:7: 2 fields, the header has 3\nTraceback" in text
    assert text.rstrip().splitlines()[-1] == "twinarch.core.io.DataError: data.tsv:7: 2 fields, the header has 3"
