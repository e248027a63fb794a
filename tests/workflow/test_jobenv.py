import os
import subprocess

from nnstudy.jobs.env import interpreter_first_on_path


def test_the_interpreter_comes_first_on_path_once():
    env = {"PATH": os.pathsep.join(["/usr/bin", "/bin"])}
    assert interpreter_first_on_path(env, "/opt/venv/bin/python") == "/opt/venv/bin"
    assert env["PATH"].split(os.pathsep) == ["/opt/venv/bin", "/usr/bin", "/bin"]
    interpreter_first_on_path(env, "/opt/venv/bin/python")
    assert env["PATH"].split(os.pathsep) == ["/opt/venv/bin", "/usr/bin", "/bin"]
    empty = {}
    interpreter_first_on_path(empty, "/opt/venv/bin/python")
    assert empty["PATH"] == "/opt/venv/bin"


def test_a_job_command_finds_the_projects_python_without_an_activated_venv():
    env = {"PATH": "/usr/bin:/bin"}  # the venv's bin is not on it, as with .venv/bin/snakemake
    interpreter_first_on_path(env)
    done = subprocess.run(
        ["bash", "-c", "python -c 'import nnstudy.training.job, sys; print(sys.executable)'"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert os.path.dirname(done.stdout.strip()) == env["PATH"].split(os.pathsep)[0]
