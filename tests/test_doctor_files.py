"""The doctor is safe on any tree: it never reads a FIFO or a device, follows no directory link,
skips big files with a message, honours PEP 263 encodings and skips environments by default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from concierge.doctor import examine, main
from concierge.doctor.files import read_source

LEGACY_LINE = "from livekit.agents import AgentSession\nAgentSession(min_endpointing_delay=0.5)\n"


def skipped(report, path: Path) -> str:
    return dict(report.problems)[str(path)]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_named_py_is_skipped_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "agent.py"
    os.mkfifo(fifo)  # reading it would block forever: no writer
    report = examine([tmp_path])
    assert "not a regular file" in skipped(report, fifo)


def test_a_device_symlinked_as_py_is_skipped(tmp_path: Path) -> None:
    link = tmp_path / "zero.py"
    link.symlink_to("/dev/zero")  # reading it never ends (issue #10: 8 GB)
    report = examine([tmp_path])
    assert "not a regular file" in skipped(report, link)
    assert main([str(link)]) == 2  # skipped safely, and not reported as a pass


def test_a_symlink_to_a_regular_file_is_read_and_directory_links_are_not_followed(
    tmp_path: Path,
) -> None:
    real = tmp_path / "src" / "real.py"
    real.parent.mkdir()
    real.write_text(LEGACY_LINE)
    (tmp_path / "link.py").symlink_to(real)
    (tmp_path / "loop").symlink_to(tmp_path)  # a directory link back up: must not recurse
    report = examine([tmp_path])
    assert sorted(Path(p).name for p in report.checked) == ["link.py", "real.py"]
    assert {f.rule for f in report.findings} == {"LK008"}


def test_a_dangling_symlink_is_reported(tmp_path: Path) -> None:
    (tmp_path / "gone.py").symlink_to(tmp_path / "nowhere.py")
    assert "cannot read it" in skipped(examine([tmp_path]), tmp_path / "gone.py")


def test_files_over_the_size_cap_are_skipped_with_a_clear_message(tmp_path: Path) -> None:
    big = tmp_path / "generated.py"
    big.write_text(LEGACY_LINE + "x = 1\n" * 200_000)
    reason = skipped(examine([tmp_path]), big)
    assert "over the 1,000,000-byte size cap" in reason
    report = examine([tmp_path], max_bytes=2_000_000)
    assert str(big) in report.checked and {f.rule for f in report.findings} == {"LK008"}


def test_pep_263_encodings_are_honoured(tmp_path: Path) -> None:
    latin = tmp_path / "latin.py"
    latin.write_bytes(
        b"# -*- coding: latin-1 -*-\n"
        + "GREETING = 'Grüß dich'\n".encode("latin-1")
        + LEGACY_LINE.encode()
    )
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbf" + LEGACY_LINE.encode())
    report = examine([tmp_path])
    assert report.skipped == []
    assert sorted(Path(f.path).name for f in report.findings) == ["bom.py", "latin.py"]
    assert "Grüß" in str(read_source(latin))


def test_undecodable_and_broken_files_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "syntax.py").write_text("def broken(:\n")
    (tmp_path / "binary.py").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "nul.py").write_bytes(b"x = 1\x00\n")
    (tmp_path / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "imports_missing.py").write_text("import does_not_exist_anywhere\n")
    report = examine([tmp_path], import_modules=True)
    assert "syntax error at line 1" in skipped(report, tmp_path / "syntax.py")
    assert "cannot read it" in skipped(report, tmp_path / "binary.py")
    assert "syntax error" in skipped(report, tmp_path / "nul.py")
    assert "--import failed: ModuleNotFoundError" in skipped(
        report, tmp_path / "imports_missing.py"
    )
    assert str(tmp_path / "plain.py") in report.checked and report.findings == []


def test_environments_and_caches_are_skipped_by_default(tmp_path: Path) -> None:
    for folder in (".venv/lib", "node_modules/pkg", "build", "__pycache__", "app.egg-info"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "vendored.py").write_text(LEGACY_LINE)
    (tmp_path / "agent.py").write_text(LEGACY_LINE)
    assert [Path(p).name for p in examine([tmp_path]).checked] == ["agent.py"]
    assert main(["--all-dirs", "--format", "json", str(tmp_path)]) == 0


def test_launch_scripts_are_checked(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11\nRUN python agent.py download-files\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\nexec python -m livekit.agents start agent.py\n")
    report = examine([tmp_path])
    assert [(Path(f.path).name, f.line, f.rule) for f in report.findings] == [
        ("Dockerfile", 2, "LK029")
    ]


def test_nothing_checked_is_not_a_pass(tmp_path, capsys) -> None:
    """A device or FIFO alone is skipped safely, and the run says nothing was audited (exit 2)."""
    import os

    from concierge.doctor import main

    fifo = tmp_path / "agent.py"
    os.mkfifo(fifo)
    assert main([str(fifo)]) == 2
    out = capsys.readouterr()
    assert "nothing was checked" in out.out and "could be checked" in out.err
    assert main(["/dev/null"]) == 2
