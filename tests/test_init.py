"""The package's shape: every public module imports first in a fresh interpreter, the statistics do
not import the workflow built on them, and submodules load lazily from ``import shoplens``."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import shoplens

PACKAGE_DIR = Path(shoplens.__file__).parent


def _modules() -> list[str]:
    names = ["shoplens"]
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="shoplens."):
        if info.name != "shoplens.__main__":  # running it is the CLI (tested in test_analyze)
            names.append(info.name)
    return sorted(names)


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_the_module_list_is_complete():
    names = _modules()
    for expected in ("shoplens.stats", "shoplens.experiments", "shoplens.experiments._bayes", "shoplens._analyze"):
        assert expected in names


@pytest.mark.parametrize("module", _modules())
def test_every_module_imports_first_in_a_fresh_interpreter(module: str):
    out = _fresh(f"import {module}")
    assert out.returncode == 0, out.stderr


def test_the_math_does_not_import_the_workflow():
    code = (
        "import sys, shoplens.experiments, shoplens.stats\n"
        "loaded = sorted(m for m in ('shoplens._analyze', 'shoplens._planner', 'shoplens._compare', "
        "'shoplens._pipeline', 'polars') if m in sys.modules)\n"
        "print(','.join(loaded))"
    )
    out = _fresh(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_workflow_names_stay_reachable_from_experiments():
    from shoplens import experiments
    from shoplens._analyze import analyze
    from shoplens._planner import plan

    assert experiments.analyze is analyze and experiments.plan is plan
    assert "analyze" in dir(experiments)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        experiments.nope  # noqa: B018


def test_submodules_load_lazily_and_are_listed():
    out = _fresh(
        "import sys, shoplens\n"
        "assert 'shoplens.stats' not in sys.modules\n"
        "print(shoplens.stats.__name__, shoplens.experiments.__name__)\n"
        "print(sorted(set(dir(shoplens)) & {'stats', 'experiments', 'errors', 'summary', 'analyze', 'plan'}))"
    )
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == "shoplens.stats shoplens.experiments"
    assert second == "['analyze', 'errors', 'experiments', 'plan', 'stats', 'summary']"


def test_one_alternative_type():
    from shoplens import _compare, _types, experiments, stats

    assert stats.Alternative is _types.Alternative
    assert experiments.Alternative is _types.Alternative
    assert _compare.Alternative is _types.Alternative


def test_every_public_name_has_a_numpy_docstring():
    from shoplens import experiments, stats

    missing = []
    for module in (experiments, stats):
        for name in module.__all__:
            obj = getattr(module, name)
            if type(obj).__module__ == "typing" or (name.isupper() and not callable(obj)):
                continue  # type aliases and constants
            doc = getattr(obj, "__doc__", None) or ""
            # (a dataclass without a docstring gets its signature as __doc__)
            if not doc.strip() or doc.startswith(f"{name}("):
                missing.append(f"{module.__name__}.{name}")
            for attr, value in vars(obj).items() if isinstance(obj, type) else []:
                if attr.startswith("_") or not (callable(value) or isinstance(value, property | classmethod)):
                    continue
                fn = value.__func__ if isinstance(value, classmethod) else value
                if not (getattr(fn, "__doc__", None) or "").strip():
                    missing.append(f"{module.__name__}.{name}.{attr}")
    assert missing == []
