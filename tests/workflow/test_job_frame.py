"""The frame every job runs in (nnstudy.jobs.frame): an expected error is one line, in the log and
on stderr, and the outputs are not recorded."""

import subprocess
import sys
import textwrap


def run_job(tmp_path, log: bool) -> subprocess.CompletedProcess:
    code = textwrap.dedent(
        f"""
        from nnstudy.jobs.frame import job_frame
        with job_frame([], ["out.txt"], {"'job.log'" if log else None}):
            print("working")
            raise ValueError("data/x.npz: corrupt; rebuild it")
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def test_an_expected_error_is_one_line_on_stderr_and_in_the_log(tmp_path):
    done = run_job(tmp_path, log=True)
    assert done.returncode == 1
    assert done.stderr == "data/x.npz: corrupt; rebuild it\n" and done.stdout == ""
    assert (tmp_path / "job.log").read_text() == "working\ndata/x.npz: corrupt; rebuild it\n"


def test_without_a_log_the_cause_is_said_once(tmp_path):
    done = run_job(tmp_path, log=False)
    assert done.returncode == 1
    assert done.stderr == "data/x.npz: corrupt; rebuild it\n"
