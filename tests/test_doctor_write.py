"""`doctor --fix` never harms a file and says honestly what it did: the diff is a patch `patch` and
`git apply` take; a write is atomic (a full disk leaves the original whole), a read-only file or a
link out of the tree is reported and the run goes on; a file that does not parse or import is a
failure, counted once, never "nothing to migrate"."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from concierge.doctor import examine, main
from concierge.doctor import files as doctor_files

DEPRECATED = (
    "from livekit.agents import AgentSession\n\nsession = AgentSession(min_endpointing_delay=0.5)\n"
)
FIXED_LINE = 'turn_handling=TurnHandlingOptions(endpointing={"min_delay": 0.5})'


def tree(tmp_path: Path, **files: str) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    for name, text in files.items():
        (root / f"{name}.py").write_text(text)
    return root


@pytest.mark.parametrize("tool", ["patch", "git"])
@pytest.mark.parametrize("ending", ["\n", ""], ids=["newline", "no-newline"])
def test_the_diff_is_a_patch_that_applies(tmp_path, capsys, monkeypatch, tool, ending) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    root = tree(tmp_path, agent=DEPRECATED.rstrip("\n") + ending, other=DEPRECATED)
    monkeypatch.chdir(root)
    assert main(["--fix", "agent.py", "other.py"]) == 0
    shown = capsys.readouterr()
    assert ("\\ No newline at end of file" in shown.out) == (ending == "")
    assert "for a person to do" in shown.err and "person" not in shown.out
    (root / "fix.diff").write_text(shown.out)
    command = (
        ["patch", "-p1", "-i", "fix.diff"]
        if tool == "patch"
        else ["git", "apply", "--unsafe-paths", "fix.diff"]
    )
    subprocess.run(command, cwd=root, check=True, capture_output=True)
    for name in ("agent.py", "other.py"):
        text = (root / name).read_text()
        assert FIXED_LINE in text and text.endswith(")\n" if name == "other.py" else ")" + ending)


def test_a_read_only_file_is_reported_and_the_rest_fixed(tmp_path, capsys) -> None:
    root = tree(tmp_path, a_locked=DEPRECATED, b_open=DEPRECATED)
    locked = root / "a_locked.py"
    locked.chmod(0o444)  # read-only even for root, who could write it anyway
    assert main(["--fix", "--write", str(root)]) == 1
    err = capsys.readouterr().err
    assert f"{locked}: not written: the file is read-only" in err
    assert locked.read_text() == DEPRECATED
    assert FIXED_LINE in (root / "b_open.py").read_text()


def test_a_symlink_out_of_the_tree_is_never_written_through(tmp_path, capsys) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text(DEPRECATED)
    root = tree(tmp_path, inside=DEPRECATED)
    (root / "link_out.py").symlink_to(outside)
    (root / "link_in.py").symlink_to(root / "inside.py")
    assert main(["--fix", "--write", str(root)]) == 1
    err = capsys.readouterr().err
    assert "link_out.py: not written: it links to" in err
    assert outside.read_text() == DEPRECATED  # untouched
    assert (root / "link_in.py").is_symlink()  # a link inside the tree stays a link
    assert FIXED_LINE in (root / "inside.py").read_text()


def test_a_full_disk_leaves_the_original_whole(tmp_path, capsys, monkeypatch) -> None:
    root = tree(tmp_path, full=DEPRECATED, later=DEPRECATED)
    real_fdopen = os.fdopen
    calls: list[str] = []

    class HalfWritten:
        """A file on a disk that fills up halfway through the first write."""

        def __init__(self, raw):
            self.raw = raw

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.raw.close()

        def write(self, data: bytes) -> int:
            self.raw.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fdopen(fd, *args, **kwargs):
        calls.extend(["w"] if "w" in args[0] else [])
        raw = real_fdopen(fd, *args, **kwargs)
        return HalfWritten(raw) if "w" in args[0] and len(calls) == 1 else raw

    monkeypatch.setattr(doctor_files.os, "fdopen", fdopen)
    assert main(["--fix", "--write", str(root)]) == 1
    err = capsys.readouterr().err
    assert "full.py: not written (the disk is full); the file is unchanged" in err
    assert (root / "full.py").read_text() == DEPRECATED  # whole, and still parses
    assert FIXED_LINE in (root / "later.py").read_text()  # the run went on
    assert sorted(p.name for p in root.iterdir()) == ["full.py", "later.py"]  # no temp left


def test_a_file_that_does_not_parse_is_a_failure_counted_once(tmp_path, capsys) -> None:
    root = tree(tmp_path, broken="def broken(:\n", fine="x = 1\n")
    report = examine([root])
    assert [s.path for s in report.failed] == [str(root / "broken.py")]
    assert main([str(root)]) == 1
    out = capsys.readouterr().out
    assert "nothing to migrate" not in out
    assert out.splitlines()[-1] == (
        "1 file checked, 1 not checked (1 could not be parsed or imported): "
        "0 errors, 0 warnings, 0 info"
    )
    assert main(["--fix", str(root)]) == 1
    assert "broken.py: not fixed: it does not parse" in capsys.readouterr().err


def test_a_failed_import_is_a_failure_counted_once(tmp_path, capsys) -> None:
    root = tree(tmp_path, agent="import does_not_exist_anywhere\n", fine="x = 1\n")
    report = examine([root], import_modules=True)
    assert report.checked == [str(root / "fine.py")] and len(report.failed) == 1
    assert main(["--import", str(root)]) == 1
    out = capsys.readouterr().out
    assert "nothing to migrate" not in out and "1 could not be parsed or imported" in out


def test_module_qualified_forms_are_fixed_like_bare_ones(tmp_path, capsys) -> None:
    root = tree(
        tmp_path,
        agent=(
            "from livekit import agents\n\n\n"
            "async def entrypoint(ctx: agents.JobContext) -> None:\n"
            "    await ctx.connect()\n\n\n"
            'if __name__ == "__main__":\n'
            "    agents.cli.run_app(agents.WorkerOptions(entrypoint_fnc=entrypoint))\n"
        ),
    )
    assert main(["--fix", "--write", str(root)]) == 0
    text = (root / "agent.py").read_text()
    assert "server = agents.AgentServer()\n" in text and "@server.rtc_session()\n" in text
    assert "agents.cli.run_app(server)" in text and "WorkerOptions" not in text
