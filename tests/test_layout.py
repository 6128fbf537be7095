"""The direction of imports: every module imports only from its own layer or below.

The layers, lowest first, are the map a newcomer reads the package by:

====  =====================================  ============================================
 0    errors, types, geometry, interrupt      vocabulary: exceptions, the per-frame record,
                                              boxes
 1    stage, registry                         the abstract Stage and the name registry
 2    kernels/                                numba kernels with their numpy twins
 3    io/                                     sources, sinks, file formats (masks, flow,
                                              priors); the only layer that touches files
 4    stages/ | metrics/ | synth, degrade,    algorithms (one per file) and scoring,
      viz                                     side by side: neither imports the other
 5    catalog, config                         stage lookup, pipeline files -> specs
 6    pipeline, backends/                     the engine and where stages run
 7    session, keyframes                      one sequence, run one way
 8    batch/, demo, bench, and every new      front ends: each calls the session
      front-end package
 9    cli, every __main__                     options and printing only
====  =====================================  ============================================

A new stage goes in ``stages/`` (layer 4: it may use io, kernels, geometry, other
stages); a new sink or file format in ``io/``; a new metric in ``metrics/``; a new front
end is a package at layer 8 with its command in ``cli.py``.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "classicseg"

LAYERS = [
    ("classicseg", "classicseg.errors", "classicseg.types", "classicseg.geometry", "classicseg.interrupt"),
    ("classicseg.stage", "classicseg.registry"),
    ("classicseg.kernels",),
    ("classicseg.io",),
    ("classicseg.stages", "classicseg.metrics", "classicseg.synth", "classicseg.degrade", "classicseg.viz"),
    ("classicseg.catalog", "classicseg.config"),
    ("classicseg.pipeline", "classicseg.backends"),
    ("classicseg.session", "classicseg.keyframes"),
    None,  # front ends: everything not named elsewhere
    ("classicseg.cli", "classicseg.__main__"),
]
#: within layer 4, these families never import each other
SIBLINGS = ("classicseg.stages", "classicseg.metrics")


def _modules() -> dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        rel = p.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        out[name] = p
    return out


def _family(name: str) -> str | None:
    best = None
    for layer in LAYERS:
        for prefix in layer or ():
            if (name == prefix or name.startswith(prefix + ".")) and (best is None or len(prefix) > len(best)):
                best = prefix
    return best


def _layer(name: str) -> int:
    if name.endswith(".__main__"):  # `python -m ...` entry points sit with the command line
        return len(LAYERS) - 1
    fam = _family(name)
    if fam is None or (fam == "classicseg" and name != "classicseg"):
        return LAYERS.index(None)
    return next(i for i, layer in enumerate(LAYERS) if layer and fam in layer)


def _imports(name: str, path: Path, mods) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                up = parts[: len(parts) - node.level + (1 if is_pkg else 0)]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != name and t.startswith("classicseg"):
                found.add(t)
                break
    return found


def _violations() -> list[str]:
    mods = _modules()
    bad = []
    for name, path in sorted(mods.items()):
        me = _layer(name)
        mine = _family(name)
        for target in sorted(_imports(name, path, mods)):
            if name.startswith(target + ".") and target == "classicseg":
                continue  # a submodule importing the package itself (its __init__: layer 0)
            them = _layer(target)
            if them > me:
                bad.append(f"{name} (layer {me}) imports {target} (layer {them})")
            elif me == them == 4:
                fam = _family(target)
                if mine in SIBLINGS and fam in SIBLINGS and mine != fam:
                    bad.append(f"{name} imports its sibling {target}")
    return bad


def test_imports_run_downwards():
    assert _violations() == []


@pytest.mark.parametrize("name,layer", [("classicseg.stages.vos.propagate", 4), ("classicseg.io.masks", 3),
                                        ("classicseg.batch.task", 8), ("classicseg.cli", 9),
                                        ("classicseg.kernels.lbp", 2), ("classicseg", 0)])
def test_layer_map(name, layer):
    assert _layer(name) == layer
