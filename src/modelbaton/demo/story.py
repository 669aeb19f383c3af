"""The demo's story, step by step, and the runner that shows and runs each command."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from ..contract.errors import BatonError

PROJECT = Path(__file__).with_name("project")
MARKER = ".baton-demo"
V1, V2 = "biopsy-triage-1.0.0", "biopsy-triage-1.1.0"


def run_demo(workdir: Path, console: Console, run_cli: Callable[[Sequence[str]], int]) -> None:
    """Write the data scientist's project into `workdir` and tell the handoff in it."""
    started = time.perf_counter()
    prepare(workdir)
    steps = Steps(workdir, console, run_cli)
    # Every server of the story listens on loopback: a proxy set for the index must not
    # carry the traffic sent to it.
    loopback = ",".join(filter(None, [os.environ.get("no_proxy"), os.environ.get("NO_PROXY"),
                                      "127.0.0.1", "localhost"]))
    # The demo's registry is its own embedded one: a registry, token or blob store set for
    # the user's real work must neither break the story nor receive its versions.
    with steps.environment(BATON_HOME=str((workdir / ".baton").resolve()),
                           BATON_REGISTRY=None, BATON_TOKEN=None, BATON_BLOBS=None,
                           NO_PROXY=loopback, no_proxy=loopback):
        _story(steps)
    console.print(f"\n[bold green]The handoff is done[/] in {time.perf_counter() - started:.0f} "
                  f"s. The report the receiving team reads: [bold]{workdir / 'handoff-report.html'}"
                  f"[/]  (drift report: {workdir / 'drift-report.html'})")


def _story(s: Steps) -> None:
    s.act("The data scientist hands the model over")
    if shutil.which("git"):
        s.say("The training code is committed, so the package records its commit (lineage).")
        s.shell("git init -q && git add . && git -c user.name=Dana -c user.email=dana@lab.example"
                " commit -qm 'biopsy triage model'")
    s.say("Train a pipeline (feature code in features.py) and pack it with the handoff "
          "sections written in baton.yaml.")
    s.python("train.py")
    s.say("Measure latency, throughput and memory against the budgets in baton.yaml.")
    s.baton("bench", V1, "--quick", ok=(0, 1))
    s.say("Run the handoff checklist until it is green: it records a check receipt.")
    s.baton("check", V1)
    s.say("Sign the package, and register it: the receipts travel with it.")
    s.baton("keys", "generate", "--name", "dana")
    s.baton("sign", V1, "--key", ".baton/keys/dana.pem")
    s.baton("push", V1, "-m", "first handoff of the triage model", user="dana")

    s.act("The ML engineers receive it")
    s.say("What was handed over?")
    s.baton("inspect", "biopsy-triage:1")
    s.say("Prove it in a clean room: a fresh environment from the pinned lock, every golden "
          "example replayed, the signature checked.")
    s.baton("verify", "biopsy-triage:1", "--require-signature")
    s.say("The report the review board reads instead of a meeting.")
    s.baton("report", "biopsy-triage:1", "--output", "handoff-report.html")
    s.say("Four eyes: the person who pushed cannot approve their own version ...")
    s.baton("approve", "biopsy-triage:1", user="dana", ok=(2,))
    s.say("... two other people approve, and each stage's gates (check, verify) hold.")
    s.baton("approve", "biopsy-triage:1", "-m", "features match the notebook", user="priya")
    s.baton("approve", "biopsy-triage:1", "-m", "clean room reproduces", user="omar")
    s.baton("promote", "biopsy-triage:1", "--to", "staging", user="omar")
    s.baton("approve", "biopsy-triage:1", user="priya")
    s.baton("approve", "biopsy-triage:1", user="omar")
    s.baton("promote", "biopsy-triage:1", "--to", "production", "--reason",
            "replaces the first-in-first-out queue", user="omar")
    s.say("Score a batch through the production alias.")
    s.baton("predict", "biopsy-triage@production", "--input", "data/new_biopsies.csv",
            "--output", "predictions.csv")

    s.act("A challenger arrives")
    s.python("train.py", "80", "1.1.0")
    s.baton("bench", V2, "--quick", ok=(0, 1))
    s.baton("check", V2)
    s.say("What changed, and would it break a caller? (exit code 3 if it would)")
    s.baton("diff", "biopsy-triage@production", V2, ok=(0, 3))
    s.say("Offline comparison on the holdout, against the criteria in baton.yaml "
          "(ROC AUC not worse by more than 0.02 at 95% confidence, agreement, latency).")
    s.baton("compare", V2, "biopsy-triage@production", "data/holdout.csv",
            "--labels", "malignant", "--latency-rows", "50", ok=(0, 1))
    s.baton("push", V2, "-m", "80 trees", user="dana")
    s.baton("verify", "biopsy-triage:2")
    s.say("Live shadow: production answers, the challenger sees the same traffic after "
          "each response has gone out, and both go to the prediction log.")
    with s.background("serve", "biopsy-triage@production", "--shadow", "biopsy-triage:2",
                      "--port", "0", "--log-dir", "predictions", "--json") as url:
        s.python("send_traffic.py", url)
    s.say("The challenger is promoted through the same gates, plus its comparison.")
    for stage in ("staging", "production"):
        s.baton("approve", "biopsy-triage:2", user="priya")
        s.baton("approve", "biopsy-triage:2", user="omar")
        s.baton("promote", "biopsy-triage:2", "--to", stage, user="omar")

    s.act("Next month: a new scanner")
    s.say("Size measurements come in 25% larger. Drift against the training profile that "
          "travels in the package raises the alert (exit code 1).")
    s.baton("drift", "biopsy-triage@production", "data/next_month.csv", "--html",
            "drift-report.html", ok=(1,))
    s.say("On-call rolls production back to the last version the lab trusted, with a reason.")
    s.baton("rollback", "biopsy-triage", "--reason",
            "drift alert after the scanner change; back to 1.0.0 while we retrain",
            user="oncall")
    s.baton("ls", "biopsy-triage")
    s.say("The history cannot be quietly rewritten; the handoff has numbers.")
    s.baton("audit", "verify")
    s.baton("stats", "biopsy-triage")


class Steps:
    """Shows each command as a user would type it, then runs exactly that command."""

    def __init__(self, workdir: Path, console: Console,
                 run_cli: Callable[[Sequence[str]], int]):
        self.workdir = workdir
        self.console = console
        self.run_cli = run_cli
        self.number = 0

    def act(self, title: str) -> None:
        self.console.rule(f"[bold]{title}")

    def say(self, text: str) -> None:
        self.number += 1
        self.console.print(f"\n[bold]{self.number}.[/] {text}")

    def baton(self, *args: str, user: str | None = None, ok: Sequence[int] = (0,)) -> int:
        """`baton ARGS`, in this process (the same code path as the command)."""
        prefix = f"BATON_USER={user} " if user else ""
        self.console.print(f"[cyan]$ {prefix}baton {shlex.join(args)}[/]")
        with self.environment(**({"BATON_USER": user} if user else {})), self.inside():
            code = self.run_cli(list(args))
        if code not in ok:
            raise BatonError(f"demo step `baton {shlex.join(args)}` exited with {code}, "
                             f"expected {' or '.join(map(str, ok))}")
        return code

    def shell(self, command: str) -> None:
        self.console.print(f"[cyan]$ {command}[/]")
        done = subprocess.run(command, shell=True, cwd=self.workdir, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if done.stdout.strip():
            self.console.out(done.stdout.rstrip(), highlight=False)
        if done.returncode != 0:
            raise BatonError(f"demo step `{command}` exited with {done.returncode}")

    def python(self, *args: str) -> None:
        self.console.print(f"[cyan]$ python {shlex.join(args)}[/]")
        done = subprocess.run([sys.executable, *args], cwd=self.workdir, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.console.out(done.stdout.rstrip(), highlight=False)
        if done.returncode != 0:
            raise BatonError(f"demo step `python {shlex.join(args)}` exited with "
                             f"{done.returncode}")

    def background(self, *args: str) -> _Server:
        """`baton ARGS &`: a real server process, stopped with SIGTERM afterwards."""
        self.console.print(f"[cyan]$ baton {shlex.join(args)} &[/]")
        return _Server(self.workdir, args, self.console)

    def inside(self) -> _Chdir:
        return _Chdir(self.workdir)

    @staticmethod
    def environment(**values: str | None) -> _Environ:
        return _Environ(values)


class _Server:
    def __init__(self, workdir: Path, args: Sequence[str], console: Console):
        self.workdir, self.args, self.console = workdir, args, console
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        baton = Path(sys.executable).with_name("baton")
        command = [str(baton)] if baton.exists() else [sys.executable, "-m", "modelbaton"]
        self.process = subprocess.Popen([*command, *self.args], cwd=self.workdir, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.process.stdout.readline() if self.process.stdout else ""
        try:
            url = json.loads(line)["url"]
        except (ValueError, KeyError):
            error = self.process.stderr.read() if self.process.stderr else ""
            self.process.kill()
            raise BatonError(f"demo step `baton {shlex.join(self.args)}` did not start: "
                             f"{(error or line).strip()}") from None
        self.console.print(f"serving at {url}")
        return url

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.console.print(f"[cyan]$ kill -TERM {self.process.pid}[/]  (in-flight requests "
                           "finish, the prediction log is flushed)")
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


class _Chdir:
    def __init__(self, folder: Path):
        self.folder, self.previous = folder, Path.cwd()

    def __enter__(self) -> None:
        self.previous = Path.cwd()
        os.chdir(self.folder)

    def __exit__(self, *exc: object) -> None:
        os.chdir(self.previous)


class _Environ:
    """Environment variables set (None: removed) for the duration of a block."""

    def __init__(self, values: dict[str, str | None]):
        self.values, self.saved = values, {}

    def __enter__(self) -> None:
        self.saved = {k: os.environ.get(k) for k in self.values}
        for key, value in self.values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- the project the data scientist starts from ------------------------------------------


def prepare(workdir: Path) -> None:
    """Write the project: feature code, training script, traffic script, draft, data."""
    if workdir.exists() and not workdir.is_dir():
        raise BatonError(f"{workdir} is a file, not a folder for the demo",
                         hint="give an empty or new folder")
    if workdir.exists():
        if not (workdir / MARKER).exists() and any(workdir.iterdir()):
            raise BatonError(f"{workdir} exists and is not a demo folder",
                             hint="give an empty or new folder")
        shutil.rmtree(workdir)
    (workdir / "data").mkdir(parents=True)
    (workdir / MARKER).write_text("written by `baton demo`\n")
    for name in ("features.py", "train.py", "send_traffic.py", "baton.yaml"):
        shutil.copyfile(PROJECT / name, workdir / name)
    shutil.copyfile(PROJECT / "gitignore", workdir / ".gitignore")
    write_data(workdir / "data")


def write_data(folder: Path) -> None:
    """The breast-cancer data as a lab would export it, and next month's scans."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    frame = load_breast_cancer(as_frame=True).frame
    keep = {c: c.replace("mean ", "").replace(" ", "_") + "_mean"
            for c in frame.columns if c.startswith("mean ")}
    data = frame[list(keep)].rename(columns=keep)
    data["malignant"] = 1 - frame["target"]  # scikit-learn codes benign as 1
    train, holdout = train_test_split(data, test_size=0.25, stratify=data["malignant"],
                                      random_state=0)
    train.to_csv(folder / "train.csv", index=False)
    holdout.to_csv(folder / "holdout.csv", index=False)
    # New biopsies inside the training ranges: the interface rejects values outside them.
    features = holdout.drop(columns="malignant")
    low, high = train.min(), train.max()
    inside = ((features >= low[features.columns]) & (features <= high[features.columns])).all(axis=1)
    features[inside].head(40).to_csv(folder / "new_biopsies.csv", index=False)
    # A new scanner measures sizes 25% larger: the drift the monitoring must catch.
    shifted = features.copy()
    for column in ("radius_mean", "perimeter_mean", "area_mean"):
        shifted[column] = shifted[column] * 1.25
    shifted.to_csv(folder / "next_month.csv", index=False)
