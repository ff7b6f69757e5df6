"""Integration tests through a real SLURM cluster (slurm/cluster.sh start; CI starts one).

Skipped, with the reason, when no cluster answers; under CI a missing cluster is a failure.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONF = "/tmp/bench-slurm/etc/slurm.conf"
FIXTURE = ["--set", "dataset.verify=false", "dataset.download=false"]


def _cluster_env():
    env = dict(os.environ)
    env.setdefault("SLURM_CONF", DEFAULT_CONF)
    if shutil.which("sbatch") is None:
        return None, "SLURM client tools are not installed"
    if not Path(env["SLURM_CONF"]).is_file():
        return None, f"no cluster config at {env['SLURM_CONF']} (start one with slurm/cluster.sh start)"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, env=env, timeout=30)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        return None, f"the SLURM controller does not answer: {ping.stdout.strip() or ping.stderr.strip()}"
    return env, ""


@pytest.fixture(scope="module")
def slurm_env():
    env, reason = _cluster_env()
    if env is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must start a SLURM cluster: {reason}")
        pytest.skip(reason)
    return env


def bench(env, *args, timeout=240):
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout)


def run_args(root, out, methods="erm", seeds="0", epochs=2, extra=()):
    return ["run", "--methods", methods, "--datasets", "cifar10_lt", "--seeds", seeds, "--epochs", str(epochs),
            "--data-root", str(root), "--out", str(out), "--executor", "slurm", "--slurm-profile", "local",
            *FIXTURE, *extra]


def results_in(out):
    return {p.parent.name: json.loads(p.read_text()) for p in Path(out).glob("*/result.json")}


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def test_sweep_through_slurm(slurm_env, cifar_root, tmp_path):
    out = tmp_path / "out"
    proc = bench(slurm_env, *run_args(cifar_root, out, "erm,ldam_drw", "0,1", extra=["model.name=small_cnn",
                                                                                      "--wait"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "submitted 4 runs as job array" in proc.stdout
    found = results_in(out)
    assert len(found) == 4 and all(r["status"] == "done" for r in found.values())
    jobs = {json.loads((out / name / "job.json").read_text())["job_id"] for name in found}
    assert len(jobs) == 4
    log = Path(json.loads((out / next(iter(found)) / "job.json").read_text())["stderr"]).read_text()
    assert re.search(r"s[01] epoch 1 of 0-1 done: loss [\d.]+, .* img/s, epoch \d+s, run ETA", log), log[-2000:]
    status = bench(slurm_env, "status", str(out))
    assert status.stdout.splitlines()[0] == f"4 done (4 runs in {out})"
    assert all(job in status.stdout for job in jobs)
    again = bench(slurm_env, *run_args(cifar_root, out, "erm,ldam_drw", "0,1", extra=["model.name=small_cnn"]))
    assert again.returncode == 0 and again.stdout.count("already done") == 4 and "submitted" not in again.stdout


def test_failed_run_makes_wait_exit_non_zero(slurm_env, cifar_root, tmp_path):
    out = tmp_path / "out"
    proc = bench(slurm_env, *run_args(cifar_root, out, extra=["model.name=small_cnn", "train.lr=1e12",
                                                             "train.warmup_epochs=0", "--wait"]))
    assert proc.returncode == 1
    assert "FAILED" in proc.stdout and "training loss became" in proc.stdout
    status = bench(slurm_env, "status", str(out)).stdout
    assert "failed" in status and "training loss became" in status and "log:" in status


def test_packed_runs_share_a_job(slurm_env, cifar_root, tmp_path):
    profile = tmp_path / "packed.yaml"
    profile.write_text("partition: debug\ncpus_per_task: 2\nmem_gb: 2\ntime_min: 60\nruns_per_job: 2\n")
    out = tmp_path / "out"
    args = run_args(cifar_root, out, "erm,focal", extra=["model.name=small_cnn", "--wait"])
    args[args.index("--slurm-profile") + 1] = str(profile)
    proc = bench(slurm_env, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "submitted 2 runs as job array" in proc.stdout and "(1 tasks" in proc.stdout
    jobs = [json.loads(p.read_text()) for p in out.glob("*/job.json")]
    assert len({j["job_id"] for j in jobs}) == 1 and all(j["packed_with"] == 2 for j in jobs)
    assert all(r["status"] == "done" for r in results_in(out).values())


def test_preemption_requeues_resumes_and_matches(slurm_env, cifar_root, tmp_path):
    plain, preempted = tmp_path / "plain", tmp_path / "preempted"
    for out in (plain, preempted):
        # --force on the preempted one: it applies to the first attempt only, so the requeued job resumes
        force = ["--force"] if out == preempted else []
        proc = bench(slurm_env, *run_args(cifar_root, out, epochs=8, extra=force))
        assert proc.returncode == 0, proc.stderr
    wait_until(lambda: list(preempted.glob("*/checkpoint.pt")), 120, "the first checkpoint")
    (job_file,) = preempted.glob("*/job.json")
    job = json.loads(job_file.read_text())
    subprocess.run(["scancel", "--signal=USR2", job["job_id"]], check=True, env=slurm_env)
    for out in (plain, preempted):
        proc = bench(slurm_env, *run_args(cifar_root, out, epochs=8, extra=["--wait"]), timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    log = Path(job["stdout"]).read_text()
    assert "this job is preempted" in Path(job["stderr"]).read_text() or "preempted" in log
    assert "resuming " in log and "after epoch" in log
    (a,), (b,) = results_in(plain).values(), results_in(preempted).values()
    assert a["run_id"] == b["run_id"]
    assert a["last"] == b["last"] and a["best"] == b["best"]
    lines = [(d / next(iter(results_in(d))) / "metrics.jsonl").read_text() for d in (plain, preempted)]
    assert lines[0] == lines[1]


def test_preemption_mid_epoch_resumes_at_the_batch(slurm_env, cifar_root, tmp_path):
    """SIGUSR2 during the 5th step of a job (sent by the job to itself, once): bench finishes the step, saves
    the position inside the epoch, then submitit checkpoints and requeues; the requeued job goes on after
    batch 5 and ends with the numbers of an uninterrupted run."""
    plain, preempted = tmp_path / "plain", tmp_path / "preempted"
    extra = ["model.name=small_cnn", "train.batch_size=32", "--wait"]
    faulty = {**slurm_env, "BENCH_FAULT": "mid-epoch:5:SIGUSR2", "BENCH_FAULT_ONCE": str(tmp_path / "fired")}
    for out, env in ((plain, slurm_env), (preempted, faulty)):
        proc = bench(env, *run_args(cifar_root, out, epochs=2, extra=extra), timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "fired").exists()
    job = json.loads(next(preempted.glob("*/job.json")).read_text())
    log = Path(job["stdout"]).read_text()
    assert "caught SIGUSR2: checkpointing after this step" in log
    assert "this job is preempted" in Path(job["stderr"]).read_text()
    assert "resuming epoch 0 of 0-1 after batch 5" in log
    (a,), (b,) = results_in(plain).values(), results_in(preempted).values()
    assert a["last"] == b["last"] and a["best"] == b["best"]
    lines = [(d / next(iter(results_in(d))) / "metrics.jsonl").read_text() for d in (plain, preempted)]
    assert lines[0] == lines[1]


def test_cancelled_job_is_reported_not_hung(slurm_env, cifar_root, tmp_path):
    out = tmp_path / "out"
    waiting = subprocess.Popen([sys.executable, "-m", "bench", *run_args(cifar_root, out, epochs=500,
                                                                          extra=["--wait"])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=slurm_env, cwd=REPO)
    wait_until(lambda: "running" in (bench(slurm_env, "status", str(out)).stdout.splitlines() or [""])[0], 120,
               "the job to start")
    cancel = bench(slurm_env, "cancel", str(out))
    assert "cancelled 1 job(s)" in cancel.stdout
    start = time.time()
    try:
        stdout, stderr = waiting.communicate(timeout=150)  # --wait must notice the cancellation, not hang
    finally:
        waiting.kill()  # never left behind, whatever happened
        waiting.wait()
    assert waiting.returncode == 1 and "CANCELLED" in stdout, stdout + stderr
    assert time.time() - start < 120
    status = bench(slurm_env, "status", str(out)).stdout
    assert status.splitlines()[0].startswith("1 cancelled") and "cancelled (log:" in status


def test_impossible_resources_fail_before_submitting(slurm_env, tmp_path):
    profile = tmp_path / "huge.yaml"
    profile.write_text("partition: debug\ncpus_per_task: 100000\n")
    out = tmp_path / "out"
    proc = bench(slurm_env, "run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(out),
                 "--executor", "slurm", "--slurm-profile", str(profile))
    assert proc.returncode == 2
    assert "asks 100000 CPUs per task but the largest node has" in proc.stderr
    assert not out.exists()
    profile.write_text("partition: nosuchpartition\n")
    proc = bench(slurm_env, "run", "--methods", "erm", "--datasets", "cifar10_lt", "--out", str(out),
                 "--executor", "slurm", "--slurm-profile", str(profile))
    assert proc.returncode == 2 and "nosuchpartition" in proc.stderr and not out.exists()


def test_ddp_run_as_a_multi_task_job(slurm_env, cifar_root, tmp_path):
    profile = tmp_path / "ddp.yaml"
    profile.write_text("partition: debug\ncpus_per_task: 1\nmem_gb: 2\ntime_min: 60\ntasks_per_job: 2\n")
    out = tmp_path / "out"
    args = run_args(cifar_root, out, extra=["model.name=small_cnn", "--wait"])
    args[args.index("--slurm-profile") + 1] = str(profile)
    proc = bench(slurm_env, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = results_in(out).values()
    assert result["status"] == "done" and result["env"]["world_size"] == 2


def test_force_through_slurm_reruns_and_bad_input_keeps_the_run(slurm_env, cifar_root, tmp_path):
    out = tmp_path / "out"
    args = run_args(cifar_root, out, extra=["model.name=small_cnn", "--wait"])
    assert bench(slurm_env, *args).returncode == 0
    (result_path,) = out.glob("*/result.json")
    before = result_path.read_bytes()
    proc = bench(slurm_env, *run_args(tmp_path / "typo", out, extra=["model.name=small_cnn", "--force"]))
    assert proc.returncode == 2 and "put the python-version files there" in proc.stderr, proc.stderr
    assert result_path.read_bytes() == before  # a bad command never costs a finished run
    proc = bench(slurm_env, *args, "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "submitted 1 runs" in proc.stdout
    after = json.loads(result_path.read_text())
    assert after["status"] == "done" and result_path.read_bytes() != before  # trained again


def test_two_stage_sweep_is_one_command_and_children_start_after_parents(slurm_env, cifar_root, tmp_path):
    out = tmp_path / "out"
    proc = bench(slurm_env, *run_args(cifar_root, out, "la_posthoc,tau_norm", "0,1",
                                      extra=["model.name=small_cnn", "eval.selection=best_val", "--wait"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "submitted 2 runs as job array" in proc.stdout and "submitted 4 runs as job array" in proc.stdout
    found = results_in(out)
    assert len(found) == 6 and all(r["status"] == "done" for r in found.values())
    for name, result in found.items():
        if result["method"] == "erm":
            continue
        parent = out / result["parent"]["run_id"]
        child_job = json.loads((out / name / "job.json").read_text())["job_id"]
        parent_job = json.loads((parent / "job.json").read_text())["job_id"]
        assert child_job.split("_")[0] != parent_job.split("_")[0]  # a second array...
        started = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "Start", "-j", child_job], capture_output=True,
                                 text=True, env=slurm_env).stdout.split()
        ended = subprocess.run(["sacct", "-n", "-X", "-P", "-o", "End", "-j", parent_job], capture_output=True,
                               text=True, env=slurm_env).stdout.split()
        if started and ended:  # ...that started after the parent's job ended (afterany)
            assert started[0] >= ended[0], (started, ended)
        assert os.stat(out / name / "result.json").st_mtime_ns >= os.stat(parent / "result.json").st_mtime_ns


def test_a_child_waits_for_a_parent_an_earlier_command_queued(slurm_env, cifar_root, tmp_path):
    out = tmp_path / "out"
    extra = ["model.name=small_cnn"]
    held = tmp_path / "held.yaml"  # the local profile, submitting held jobs: the parent cannot finish too early
    held.write_text((REPO / "slurm" / "local.yaml").read_text() + "sbatch: {hold: true}\n")
    first = bench(slurm_env, *run_args(cifar_root, out, "erm", extra=extra), "--slurm-profile", str(held))
    assert first.returncode == 0, first.stdout + first.stderr
    (parent_dir,) = [p for p in out.iterdir() if "__erm__" in p.name]
    parent_job = json.loads((parent_dir / "job.json").read_text())["job_id"]
    try:
        second = bench(slurm_env, *run_args(cifar_root, out, "la_posthoc", extra=extra))
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"already queued as SLURM job {parent_job}" in second.stdout
        (child_dir,) = [p for p in out.iterdir() if "__la_posthoc__" in p.name]
        child_job = json.loads((child_dir / "job.json").read_text())["job_id"]
        shown = subprocess.run(["scontrol", "show", "job", child_job], capture_output=True, text=True,
                               env=slurm_env).stdout
        assert f"Dependency=afterany:{parent_job}" in shown, shown
    finally:
        subprocess.run(["scontrol", "release", parent_job], capture_output=True, env=slurm_env)
    wait = bench(slurm_env, *run_args(cifar_root, out, "la_posthoc", extra=[*extra, "--wait"]))
    assert wait.returncode == 0, wait.stdout + wait.stderr
    assert sorted(r["status"] for r in results_in(out).values()) == ["done", "done"]


def test_tune_through_slurm_is_one_command(slurm_env, cifar_root, tmp_path):
    """The trials go as a job array; a one-CPU job that starts when they end chooses on validation and submits the
    default and tuned runs at every seed; the same command again trains nothing."""
    out = tmp_path / "out"
    args = ["tune", "--methods", "erm", "--datasets", "cifar10_lt", "--seeds", "0,1", "--trials", "2", "--epochs",
            "1", "--data-root", str(cifar_root), "--out", str(out), "--executor", "slurm", *FIXTURE,
            "model.name=small_cnn"]
    proc = bench(slurm_env, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "submitted 2 runs as job array" in proc.stdout and "chooses each method's best trial" in proc.stdout
    status = bench(slurm_env, "status", str(out)).stdout
    assert "bench tune's selection job" in status.splitlines()[0], status
    record_files = lambda: [p for p in (out / ".bench" / "tune").glob("*.json") if "__erm__" in p.name]  # noqa: E731
    wait_until(record_files, 180, "the selection job's record")
    record = json.loads(record_files()[0].read_text())
    finals = set(record["default_runs"] + record["tuned_runs"])
    assert len(finals) == (2 if record["chosen"] == 0 else 4)
    wait_until(lambda: all((results_in(out).get(n) or {}).get("status") == "done" for n in finals), 180,
               "the seed runs the selection job submitted")
    vals = [results_in(out)[t["run_id"]]["best"]["val_top1"] for t in record["trials"]]
    assert record["chosen"] == max(range(2), key=lambda i: (vals[i], -i))
    again = bench(slurm_env, *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "submitted" not in again.stdout and again.stdout.count("already done") == 2 + len(finals)
