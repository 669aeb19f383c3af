"""Clean rooms: fresh, isolated Python environments built from a package's lock.

The lock and a wheel of the running modelbaton are installed in ONE resolve, so the pins win
and the clean room loads packages with exactly this Baton's code. `uv` does it when it is
installed (`pip install 'modelbaton[verify]'`); plain `venv` + pip otherwise. uv keeps its
wheels in its own cache (`$UV_CACHE_DIR`, else uv's default): the one that installed Baton
itself when it was installed with uv, so a lock of what is installed here verifies with
`--offline` from the start. pip's wheels are cached under `$BATON_HOME/cache/wheels/pip`.
When no index can be reached, the build falls back to the wheel cache by itself: a machine
offline once installed still verifies, and only a cache that lacks a pin is an error.

A built environment is sealed (a marker file is written last) and kept under
`$BATON_HOME/cache/envs/<key>`, the key being a hash of the manager, the interpreter and the
exact requirements. The next verify of the same lock reuses it instead of reinstalling;
the replay then checks that it still holds exactly the resolved distributions. `fresh=True`
(`baton verify --fresh`) rebuilds it. Builds go to a temporary folder renamed into place, so
a failed or concurrent build never leaves a half-built environment behind.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..contract.errors import BatonError, MissingExtraError
from ..settings import baton_home
from ._wheel import DIST, modelbaton_wheel

MANAGERS = ("uv", "venv", "local")
MARKER = "baton-env.json"
REQUIREMENTS = "baton-requirements.txt"
_UNSUPPORTED_OPTIONS = ("-r", "--requirement", "-c", "--constraint", "-e", "--editable")


class EnvironmentBuildError(BatonError):
    """The clean room cannot be built: the lock does not resolve, or no index is reachable."""


@dataclass(frozen=True)
class Pin:
    """One requirement line of the lock."""

    line: int
    text: str
    name: str  # canonical distribution name
    version: str | None  # the exact version, when pinned with ==
    applies: bool  # False when its environment marker excludes this platform


@dataclass
class CleanRoom:
    """Where the replay runs: an interpreter, and the environment folder it belongs to."""

    manager: str
    python: Path
    path: Path | None
    reused: bool
    seconds: float


# --- the lock ----------------------------------------------------------------------------


def read_lock(path: Path) -> list[Pin]:
    """The requirement lines of a lock, each checked before any resolver sees it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EnvironmentBuildError(f"the lock {path.name} is missing", where=str(path.parent),
                                    hint="re-pack the model; the lock pins its environment")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvironmentBuildError(f"cannot read the lock: {exc}", where=str(path)) from None
    pins = []
    for number, raw in enumerate(lines, start=1):
        text = _requirement_text(raw)
        if not text:
            continue
        if text.split()[0].split("=")[0] in _UNSUPPORTED_OPTIONS:
            raise EnvironmentBuildError(
                f"`{text}`: a lock must list its requirements itself", where=f"{path}:{number}",
                hint="inline the referenced file's pins into the lock")
        if text.startswith("-"):
            continue  # index options (--index-url, --find-links, ...) are the resolver's
        try:
            requirement = Requirement(text)
        except (InvalidRequirement, InvalidMarker) as exc:
            raise EnvironmentBuildError(f"`{text}` is not a requirement: {exc}",
                                        where=f"{path}:{number}",
                                        hint="write one `name==version` per line") from None
        exact = [s.version for s in requirement.specifier if s.operator in ("==", "===")]
        pins.append(Pin(line=number, text=text, name=canonicalize_name(requirement.name),
                        version=exact[0] if len(exact) == 1 and "*" not in exact[0] else None,
                        applies=requirement.marker is None or requirement.marker.evaluate()))
    return pins


def _requirement_text(line: str) -> str:
    """The requirement without comments and per-line options such as --hash."""
    line = re.sub(r"(^|\s)#.*$", "", line).strip()
    return re.split(r"\s+--hash[= ]", line)[0].strip()


def requirements_for(lock_text: str, wheel: Path) -> str:
    """The lock (without any modelbaton pin of its own) plus this Baton's wheel."""
    kept = [line for line in lock_text.splitlines()
            if not _is_modelbaton(_requirement_text(line))]
    return "\n".join([*kept, f"{DIST} @ {wheel.resolve().as_uri()}"]) + "\n"


def _is_modelbaton(text: str) -> bool:
    try:
        return bool(text) and canonicalize_name(Requirement(text).name) == DIST
    except InvalidRequirement:
        return False


# --- building ----------------------------------------------------------------------------


def default_manager() -> str:
    return "uv" if _uv_binary() else "venv"


def prepare(lock: Path, *, manager: str | None = None, python: str | None = None,
            offline: bool = False, fresh: bool = False) -> CleanRoom:
    """A clean room for `lock`: reused when sealed and not `fresh`, else built."""
    manager = manager or default_manager()
    if manager not in MANAGERS:
        raise BatonError(f"unknown environment manager '{manager}'",
                         hint=f"use one of {', '.join(MANAGERS)}")
    pins = read_lock(lock)
    started = time.perf_counter()
    if manager == "local":
        interpreter = Path(python) if python and os.sep in python else Path(sys.executable)
        return CleanRoom("local", interpreter, None, True, time.perf_counter() - started)
    requirements = requirements_for(lock.read_text(encoding="utf-8"), modelbaton_wheel())
    key = hashlib.sha256(json.dumps([manager, python, requirements]).encode())
    target = (baton_home() / "cache" / "envs" / key.hexdigest()[:24]).absolute()
    # Reused only when sealed and its interpreter still runs (exists() follows the link).
    if not fresh and (target / MARKER).is_file() and _env_python(target).exists():
        return CleanRoom(manager, _env_python(target), target, True,
                         time.perf_counter() - started)
    interpreter = _uv_find_python(python) if manager == "uv" else _find_python(python)
    build = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    try:
        (build / REQUIREMENTS).write_text(requirements, encoding="utf-8")
        if manager == "uv":
            _build_uv(build, str(interpreter), offline, lock, pins)
        else:
            _build_venv(build, interpreter, offline, lock, pins)
        (build / MARKER).write_text(json.dumps({
            "manager": manager, "interpreter": str(interpreter),
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "lock": str(lock)}, indent=2) + "\n", encoding="utf-8")
        _move_into_place(build, target, replace=fresh)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return CleanRoom(manager, _env_python(target), target, False, time.perf_counter() - started)


def _move_into_place(build: Path, target: Path, *, replace: bool) -> None:
    """Seal the build as `target`. A sealed `target` is replaced only when asked (--fresh);
    if another verify sealed one meanwhile, that one is used and this build dropped."""
    if target.exists() and (replace or not (target / MARKER).is_file()):
        trash = target.with_name(f".{target.name}.{os.getpid()}.old")
        os.replace(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.replace(build, target)
    except OSError:
        if not (target / MARKER).is_file():
            raise


def _env_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


# --- uv ----------------------------------------------------------------------------------


def _uv_binary() -> str | None:
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _uv(*args: str) -> subprocess.CompletedProcess[str]:
    binary = _uv_binary()
    if binary is None:
        raise MissingExtraError("uv", "verify")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["UV_CACHE_DIR"] = str(uv_cache())
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env,
                          cwd=baton_home().absolute())


@functools.cache
def _uv_default_cache(binary: str) -> Path:
    done = subprocess.run([binary, "cache", "dir"], capture_output=True, text=True)
    if done.returncode != 0:
        return (baton_home() / "cache" / "uv").absolute()
    return Path(done.stdout.strip())


def uv_cache() -> Path:
    """uv's wheel cache: `$UV_CACHE_DIR`, else uv's own default cache."""
    configured = os.environ.get("UV_CACHE_DIR")
    binary = _uv_binary()
    path = Path(configured) if configured else (
        _uv_default_cache(binary) if binary else baton_home() / "cache" / "uv")
    path = path.absolute()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _uv_find_python(request: str | None) -> Path:
    done = _uv("python", "find", "--no-project", *([request] if request else []))
    if done.returncode != 0:
        raise EnvironmentBuildError(
            f"no Python interpreter matches '{request}': {_clean(done.stderr)}",
            hint="install that Python, or pass --python with another version or a path")
    return Path(done.stdout.strip())


def _build_uv(env: Path, interpreter: str, offline: bool, lock: Path, pins: list[Pin]) -> None:
    flags = ["--offline"] if offline else []
    done = _uv("venv", "--quiet", "--relocatable", "--allow-existing", "--python", interpreter,
             *flags, str(env))
    if done.returncode != 0:
        raise EnvironmentBuildError(f"uv cannot create the environment: {_clean(done.stderr)}")
    install = ("pip", "install", "--quiet", "--python", str(_env_python(env)), "-r",
               str(env / REQUIREMENTS))
    done = _uv(*install, *flags)
    if done.returncode != 0 and not offline and _unreachable(done.stderr):
        # No index: the wheel cache may still hold every pin (it does for a lock of what
        # uv installed here), so "offline once installed" holds without --offline.
        cached = _uv(*install, "--offline")
        if cached.returncode != 0:
            raise unreachable_error(done.stderr)
        return
    if done.returncode != 0:
        raise resolution_error(done.stderr, lock, pins, offline)


# --- venv + pip --------------------------------------------------------------------------


def _find_python(request: str | None) -> Path:
    """An interpreter for `python -m venv`: a path, `X.Y` on PATH, or the running one."""
    if request is None or request == f"{sys.version_info[0]}.{sys.version_info[1]}":
        return Path(getattr(sys, "_base_executable", sys.executable))
    if os.sep in request or Path(request).is_file():
        if not Path(request).is_file():
            raise EnvironmentBuildError(f"Python interpreter {request} does not exist")
        return Path(request)
    found = shutil.which(f"python{request}") or shutil.which(request)
    if found is None:
        raise EnvironmentBuildError(f"no Python {request} on PATH",
                                    hint="install it, or pass --python with a path")
    return Path(found)


def _build_venv(env: Path, interpreter: Path, offline: bool, lock: Path,
                pins: list[Pin]) -> None:
    """`python -m venv`, then pip: our own when it can target another interpreter (the
    clean room then holds no pip at all, and no time goes to bootstrapping one)."""
    own_pip = _pip_with_python_option()
    done = subprocess.run([str(interpreter), "-m", "venv", *(["--without-pip"] if own_pip
                                                             else []), str(env)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise EnvironmentBuildError(f"python -m venv failed: {_clean(done.stderr or done.stdout)}")
    wheelhouse = (baton_home() / "cache" / "wheels" / "pip").absolute()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    pip = ([sys.executable, "-m", "pip", "--python", str(_env_python(env))] if own_pip
           else [str(_env_python(env)), "-m", "pip"])
    pip += ["--disable-pip-version-check", "-q"]
    pip_env = {**os.environ, "PIP_CACHE_DIR": str((baton_home() / "cache" / "pip").absolute())}
    requirements = ["-r", str(env / REQUIREMENTS)]
    unreachable = ""
    if not offline:
        done = subprocess.run([*pip, "download", "-d", str(wheelhouse), *requirements],
                              capture_output=True, text=True, env=pip_env)
        output = done.stderr or done.stdout
        if done.returncode != 0 and not _unreachable(output):
            raise resolution_error(output, lock, pins, offline)
        unreachable = output if done.returncode != 0 else ""  # the wheelhouse may suffice
    done = subprocess.run([*pip, "install", "--no-index", "--find-links", str(wheelhouse),
                           *requirements], capture_output=True, text=True, env=pip_env)
    if done.returncode != 0:
        if unreachable:
            raise unreachable_error(unreachable)
        raise resolution_error(done.stderr or done.stdout, lock, pins, offline)


def _pip_with_python_option() -> bool:
    """Whether this interpreter's pip can install into another one (`--python`, pip 22.3)."""
    try:
        from pip import __version__
    except ImportError:
        return False
    from packaging.version import InvalidVersion, Version

    try:
        return Version(__version__) >= Version("22.3")
    except InvalidVersion:
        return False


# --- errors ------------------------------------------------------------------------------

_NETWORK = ("failed to fetch", "error sending request", "dns error", "connection refused",
            "could not connect", "timed out", "failed to establish a new connection",
            "max retries exceeded", "network is unreachable", "temporary failure in name")
_NOT_CACHED = ("not found in the cache", "no matching distribution found", "offline mode",
               "network connectivity is disabled")


def _unreachable(output: str) -> bool:
    lowered = output.lower()
    return any(word in lowered for word in _NETWORK)


def unreachable_error(output: str) -> BatonError:
    """No index, and the wheel cache alone could not build the clean room either."""
    return EnvironmentBuildError(
        "cannot reach the package index to build the clean room, and the wheel cache lacks "
        f"what the lock needs: {_clean(output)}",
        hint="check the network or the index settings; once one verify has filled the wheel "
             "cache, --offline builds from it without asking any index")


def resolution_error(output: str, lock: Path, pins: list[Pin], offline: bool) -> BatonError:
    """The resolver's own message, with the lock line it is about and what to do next."""
    message = _clean(output)
    lowered = message.lower()
    if offline and any(word in lowered for word in _NOT_CACHED):
        return EnvironmentBuildError(
            f"--offline, and the wheel cache lacks what the lock needs: {message}",
            hint="run `baton verify` once without --offline to fill the wheel cache")
    pin = _offending(message, pins)
    where = f"{lock}:{pin.line}" if pin else str(lock)
    shown = f"`{pin.text}` cannot be installed: " if pin else "the lock cannot be resolved: "
    return EnvironmentBuildError(shown + message, where=where,
                                 hint="fix or remove that pin and re-pack the model")


def _offending(message: str, pins: list[Pin]) -> Pin | None:
    """The pin the resolver's message is about: quoted exactly, else named first."""
    lowered = message.lower()
    exact = [p for p in pins if p.text.lower().replace(" ", "") in lowered.replace(" ", "")]
    if exact:
        return exact[0]
    best: tuple[int, Pin] | None = None
    for pin in pins:
        for spelling in {pin.name, pin.name.replace("-", "_")}:
            match = re.search(rf"(?<![\w.-]){re.escape(spelling)}(?![\w-])", lowered)
            if match and (best is None or match.start() < best[0]):
                best = (match.start(), pin)
    return best[1] if best else None


def _clean(output: str, limit: int = 600) -> str:
    """The resolver's message on one line, without tree drawing, hints or version lists."""
    kept = []
    for line in output.splitlines():
        line = re.sub(r"^[\s×╰─▶│├┬┴┼╭╮╯╯·:|>-]+", "", line).strip()
        line = re.sub(r"\(from versions: [^)]*\)", "", line).strip()
        if line and not line.lower().startswith(("hint:", "help:", "note:", "warning:")):
            kept.append(line.removeprefix("ERROR: ").removeprefix("error: "))
    text = " ".join(kept) or "no output"
    return text if len(text) <= limit else text[: limit - 3] + "..."
