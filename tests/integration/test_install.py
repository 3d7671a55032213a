"""strategy-autopilot built as a wheel and installed (not editable) into a fresh venv.

What a user gets from ``pip install``: the wheel is built once from a copy of the source,
installed with pip into a new virtual environment (no pip of its own, no network), and the
installed ``autopilot`` command runs from a folder outside the repository. The venv reaches
the dependencies through a ``.pth`` line naming this test environment's site-packages; that
line only extends ``sys.path``, so the editable install of this checkout (an import hook)
is not active there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the build reads; the rest of the checkout (tests, bench, .venv) stays out of the copy.
BUILD_INPUTS = ("pyproject.toml", "README.md", "autopilot", "gates", "strategies", "configs")
# The files of a source folder that belong in the wheel (caches and numba indexes do not).
SHIPPED_SUFFIXES = (".py", ".gz", ".yaml", ".typed")
BUILTIN_GATES = {
    "deflated_sharpe",
    "max_drawdown",
    "min_history",
    "probabilistic_sharpe",
    "sharpe",
    "transition_drawdown",
}


def _pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built without isolation from a copy of the source (the build writes there)."""
    work = tmp_path_factory.mktemp("build")
    source = work / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(work), str(source))
    (built,) = work.glob("strategy_autopilot-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed by pip; returns the venv folder."""
    root = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = _site_packages(root)
    (site / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _pip("--python", str(root / "bin" / "python"), "install", "--no-deps", "--no-index", str(wheel))
    return root


def _site_packages(venv: Path) -> Path:
    (site,) = venv.glob("lib/python3.*/site-packages")
    return site


def _run(venv: Path, args: list[str], cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | variables
    return subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def test_the_wheel_holds_every_source_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = (
        ("autopilot", "autopilot"),
        ("gates", "autopilot_gates"),
        ("strategies", "autopilot_strategies"),
    )
    for folder, package in (*packages, ("configs", "autopilot/configs")):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.name.endswith(SHIPPED_SUFFIXES):
                if "__pycache__" in path.parts:
                    continue
                shipped = f"{package}/{path.relative_to(ROOT / folder).as_posix()}"
                assert shipped in names, f"{shipped} is missing from {wheel.name}"
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {
        "autopilot",
        "autopilot_gates",
        "autopilot_strategies",
        "strategy_autopilot-0.1.0.dist-info",
    }


def test_no_top_level_gates_package_is_installed(venv, tmp_path):
    site = _site_packages(venv)
    assert not (site / "gates").exists() and not (site / "gates.py").exists()
    assert not (site / "strategies").exists()
    assert sorted(p.name for p in site.iterdir() if not p.name.endswith(".pth")) == [
        "autopilot",
        "autopilot_gates",
        "autopilot_strategies",
        "strategy_autopilot-0.1.0.dist-info",
    ]
    probe = "import importlib.util; print(importlib.util.find_spec('gates'))"
    done = _run(venv, ["python", "-c", probe], cwd=tmp_path)
    assert done.stdout.strip() == "None", done.stderr


def test_installed_builtin_gates_load_through_their_entry_points(venv, tmp_path):
    probe = (
        "import json; from autopilot.sdk.plugins import installed_plugins, load_gate_catalog; "
        "plugins = {p.name: p.module for p in installed_plugins() if p.builtin}; "
        "files = {n: __import__('sys').modules[i.cls.__module__].__file__ "
        "for n, i in load_gate_catalog(()).gates.items()}; "
        "print(json.dumps([plugins, files]))"
    )
    done = _run(venv, ["python", "-c", probe], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plugins, files = json.loads(done.stdout)
    assert plugins == {name: f"autopilot_gates.{name}" for name in BUILTIN_GATES}
    site = _site_packages(venv)
    assert files == {name: str(site / "autopilot_gates" / f"{name}.py") for name in BUILTIN_GATES}
    listing = _run(venv, ["autopilot", "gates", "list", "--format", "json"], cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    gates = json.loads(listing.stdout)["gates"]
    assert {g["name"]: g["distribution"] for g in gates} == dict.fromkeys(
        BUILTIN_GATES, "strategy-autopilot"
    )


@pytest.fixture
def returns_file(tmp_path) -> Path:
    """A small wide CSV of daily returns with regime labels."""
    import numpy as np

    rng = np.random.default_rng(11)
    lines = ["date,s0,s1,regime"]
    day = np.datetime64("2019-01-01")
    for i in range(300):
        day = np.busday_offset(day, 1, roll="forward")
        a, b = rng.normal(0.001, 0.01, 2)
        lines.append(f"{day},{a:.6f},{b:.6f},{(i // 100) % 2}")
    path = tmp_path / "batch.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_installed_command_reads_the_shipped_configs_from_any_folder(venv, returns_file):
    workdir = returns_file.parent  # no ./configs here
    # The numba kernels of a fresh copy would compile first (15 s, a minute on a loaded
    # machine); this test is about what the wheel ships, the kernels are tested elsewhere.
    check = ["autopilot", "gates", "check", str(returns_file), "--env", "dev"]
    done = _run(venv, check, workdir, NUMBA_DISABLE_JIT="1")
    assert done.returncode == 0, done.stderr
    assert "2 candidates" in done.stdout and "(environment dev," in done.stdout
    shipped = _site_packages(venv) / "autopilot" / "configs"
    shown = _run(
        venv, ["autopilot", "config", "show", "--env", "prod", "--format", "json"], workdir
    )
    assert json.loads(shown.stdout)["sources"] == [
        str(shipped / "prod.yaml"),
        str(shipped / "base.yaml"),
    ]
    unknown = _run(venv, ["autopilot", "config", "show", "--env", "qa"], workdir)
    assert unknown.returncode == 2
    assert unknown.stderr == (
        f"error: no configuration for environment 'qa': searched ./configs (no such folder) "
        f"and the defaults shipped with autopilot in {shipped} (environments: base, dev, "
        f"prod, staging). Name one of those environments, a YAML file, or a folder of "
        f"environment files (--config-dir).\n"
    )


def test_init_copies_the_installed_defaults_and_they_take_over(venv, tmp_path):
    done = _run(venv, ["autopilot", "init", "--configs"], tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("base.yaml", "dev.yaml", "prod.yaml", "staging.yaml"):
        copied = (tmp_path / "configs" / name).read_bytes()
        assert copied == (ROOT / "configs" / name).read_bytes()
    shown = _run(venv, ["autopilot", "config", "show", "--env", "dev"], tmp_path)
    assert shown.stdout.splitlines()[1] == "# from configs/dev.yaml <- configs/base.yaml"
