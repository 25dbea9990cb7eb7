"""`orchestrator validate FILE... [--json]`: what a person sees, and the exit status.

Most tests call `orchestrator.cli.main` in-process; one runs the installed console script in a
subprocess, as a person would.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli import main

VALID = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": "hi", "End": True}}}
# Two errors in one definition: a Next to nowhere, and so no terminal state.
INVALID = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Next": "Bye"}}}
# Valid, with a NO_DOLLAR warning.
WARNED = {
    "StartAt": "Hello",
    "States": {"Hello": {"Type": "Pass", "Parameters": {"name": "$.name"}, "End": True}},
}


def write(folder: Path, name: str, content: Any) -> str:
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["validate", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_valid_file_prints_ok_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "ok.asl.json", VALID)
    status, out, err = run(capsys, path)
    assert status == 0
    assert out == f"{path}: OK\n"
    assert err == ""


def test_invalid_file_prints_every_problem_with_its_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "bad.asl.json", INVALID)
    status, out, err = run(capsys, path)
    assert status == 1
    lines = out.splitlines()
    assert lines[0] == f"{path}: 2 error(s)"
    assert len(lines) == 3
    assert "/States/Hello/Next" in lines[1] and "Bye" in lines[1] and "MISSING_TRANSITION_TARGET" in lines[1]
    assert "/States" in lines[2] and "MISSING_END_STATE" in lines[2]
    assert all(line.lstrip().startswith("ERROR") for line in lines[1:])
    assert err == ""


def test_warnings_alone_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "warned.asl.json", WARNED)
    status, out, _ = run(capsys, path)
    assert status == 0
    assert out.splitlines()[0] == f"{path}: OK with warnings"
    assert "WARNING" in out and "/States/Hello/Parameters/name" in out and "NO_DOLLAR" in out


def test_json_output_has_the_validate_api_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bad.asl.json", INVALID)
    status, out, _ = run(capsys, path, "--json")
    assert status == 1
    report = json.loads(out)
    assert report["file"] == path
    assert report["result"] == "FAIL"
    assert [(d["severity"], d["code"], d["location"]) for d in report["diagnostics"]] == [
        ("ERROR", "MISSING_TRANSITION_TARGET", "/States/Hello/Next"),
        ("ERROR", "MISSING_END_STATE", "/States"),
    ]
    assert all(set(d) == {"severity", "code", "message", "location"} for d in report["diagnostics"])
    assert all(d["message"] for d in report["diagnostics"])


def test_json_output_of_a_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "ok.asl.json", VALID)
    status, out, _ = run(capsys, path, "--json")
    assert status == 0
    assert json.loads(out) == {"file": path, "result": "OK", "truncated": False, "diagnostics": []}


def test_json_output_keeps_warnings_with_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "warned.asl.json", WARNED)
    status, out, _ = run(capsys, "--json", path)
    assert status == 0
    report = json.loads(out)
    assert report["result"] == "OK"
    assert [d["code"] for d in report["diagnostics"]] == ["NO_DOLLAR"]


def test_several_files_are_each_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = write(tmp_path, "ok.asl.json", VALID)
    bad = write(tmp_path, "bad.asl.json", INVALID)
    status, out, _ = run(capsys, ok, bad)
    assert status == 1  # one invalid file fails the run
    assert f"{ok}: OK" in out.splitlines()
    assert f"{bad}: 2 error(s)" in out.splitlines()

    status, out, _ = run(capsys, ok, ok)
    assert status == 0
    assert out.splitlines() == [f"{ok}: OK", f"{ok}: OK"]


def test_several_files_as_json_give_a_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = write(tmp_path, "ok.asl.json", VALID)
    bad = write(tmp_path, "bad.asl.json", INVALID)
    status, out, _ = run(capsys, "--json", ok, bad)
    assert status == 1
    reports = json.loads(out)
    assert [(r["file"], r["result"]) for r in reports] == [(ok, "OK"), (bad, "FAIL")]


def test_file_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "broken.json", '{"StartAt": "A",')
    status, out, err = run(capsys, path)
    assert status == 1
    assert "not valid JSON" in out and "INVALID_JSON_DESCRIPTION" in out
    assert "Traceback" not in out + err


def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "empty.json", "")
    status, out, _ = run(capsys, path)
    assert status == 1
    assert "MISSING_DESCRIPTION" in out


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda folder: str(folder / "missing.asl.json"), "no such file"),
        (lambda folder: str(folder), "is a directory"),
        (lambda folder: write_bytes(folder / "latin1.json", b'{"Comment": "caf\xe9"}'), "not UTF-8"),
    ],
    ids=["missing", "directory", "not-utf8"],
)
def test_unreadable_input_is_one_readable_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Any, words: str
) -> None:
    path = make(tmp_path)
    status, out, err = run(capsys, path)
    assert status != 0
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("orchestrator validate: ") and path in err and words in err
    assert "Traceback" not in err


def write_bytes(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(INVALID)))
    status, out, _ = run(capsys, "-")
    assert status == 1
    assert out.startswith("-: 2 error(s)")


def test_no_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["validate"])
    assert exited.value.code == 2
    assert "FILE" in capsys.readouterr().err


def test_installed_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("orchestrator")
    assert script.exists(), f"the console script is not installed next to {sys.executable}"
    ok = write(tmp_path, "ok.asl.json", VALID)
    bad = write(tmp_path, "bad.asl.json", INVALID)

    done = subprocess.run([str(script), "validate", ok], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{ok}: OK\n", "")

    done = subprocess.run([str(script), "validate", bad, "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert json.loads(done.stdout)["result"] == "FAIL"

    missing = str(tmp_path / "nope.json")
    done = subprocess.run([str(script), "validate", missing], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr == f"orchestrator validate: {missing}: no such file\n"


def test_one_unreadable_file_does_not_stop_the_others(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.asl.json"
    good.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}))
    missing = str(tmp_path / "missing.asl.json")
    status, out, err = run(capsys, missing, str(good))
    assert status == 1
    assert f"{good}: OK" in out and "missing.asl.json" in err


def test_misspelt_names_get_a_did_you_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The four misspellings of issue 16: a state name, a state's field, a choice operator, a Retry field
    typos = {
        "StartAt": "Frist",
        "States": {
            "First": {"Type": "Pass", "Reslt": {"a": 1}, "Next": "Pick"},
            "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.a", "NumberEqual": 1, "Next": "Call"}]},
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:call",
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempt": 2}],
                "End": True,
            },
        },
    }
    status, out, _ = run(capsys, write(tmp_path, "typos.asl.json", typos))
    assert status == 1
    for line in (
        "/StartAt: StartAt names 'Frist', which is not a state in this block; did you mean 'First'?",
        "/States/First/Reslt: The field 'Reslt' is not supported by Pass states; did you mean 'Result'?",
        "/States/Pick/Choices/0/NumberEqual: The field 'NumberEqual' is not supported here; "
        "did you mean 'NumericEquals'?",
        "/States/Call/Retry/0/MaxAttempt: The field 'MaxAttempt' is not supported here; did you mean 'MaxAttempts'?",
    ):
        assert line in out, out
    # A name like nothing allowed gets no guess
    status, out, _ = run(
        capsys, write(tmp_path, "odd.asl.json", {**VALID, "States": {"Hello": {**VALID["States"]["Hello"], "Zzz": 1}}})
    )
    assert "'Zzz' is not supported by Pass states [" in out


def test_an_unreachable_state_is_reported_with_aws_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # AWS answers MISSING_TRANSITION_TARGET, 'State "Lost" is not reachable.' at /States/Lost, for this
    lost = {"StartAt": "Hello", "States": {**VALID["States"], "Lost": {"Type": "Pass", "End": True}}}
    status, out, _ = run(capsys, write(tmp_path, "lost.asl.json", lost))
    assert status == 1
    assert "/States/Lost: State 'Lost' is not reachable from StartAt [MISSING_TRANSITION_TARGET]" in out
