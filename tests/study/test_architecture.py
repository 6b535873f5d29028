"""The package's layout is the workflow's: one subpackage per stage, and dependencies that only
point backwards along the chain (docs/architecture.md). Checked from the source, so a new import
that breaks the rule fails here, not in review."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "twinarch"
# The chain: a stage may import `core`, `training` and the stages before it; `study` knows them all.
STAGES = ("data", "pretrain", "embed", "evaluate", "profile", "quality", "llm2vec", "prune", "sensitivity", "ladder")
LAYERS = ("core", "training", *STAGES, "study")
HEAVY = ("torch", "transformers", "pandas", "matplotlib", "mteb", "sentence_transformers", "datasets")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def twinarch_imports(path: Path) -> set[str]:
    """Every twinarch module a file imports, at any depth (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("twinarch"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("twinarch")}
    return found


def layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "twinarch"


def graph() -> dict[str, set[str]]:
    return {module_name(p): twinarch_imports(p) for p in PACKAGE.rglob("*.py")}


def allowed(importer: str, imported: str) -> bool:
    if importer == imported or imported == "twinarch":
        return True
    if importer == "twinarch":  # the package root's warm-start hook (core.forkserver), nothing else
        return imported == "core"
    if imported == "study":
        return importer == "study"
    if importer in ("core", "training"):
        return LAYERS.index(imported) <= LAYERS.index(importer)
    return LAYERS.index(imported) <= LAYERS.index(importer)


def test_every_module_lives_in_a_layer():
    strays = [m for m in graph() if m != "twinarch" and layer(m) not in LAYERS]
    assert not strays, f"modules outside core/training/<stage>/study: {strays}"


def test_dependencies_point_backwards_along_the_chain():
    bad = [
        f"{importer} imports {imported}"
        for importer, imports in graph().items()
        for imported in imports
        if not allowed(layer(importer), layer(imported))
    ]
    assert not bad, bad


def test_the_import_graph_has_no_cycle():
    edges = {m: {i for i in imports if i in graph()} for m, imports in graph().items()}
    visiting, done = set(), set()

    def visit(node: str, path: list[str]) -> None:
        if node in done:
            return
        if node in visiting:
            pytest.fail(f"import cycle: {' -> '.join(path[path.index(node) :] + [node])}")
        visiting.add(node)
        for nxt in sorted(edges[node]):
            visit(nxt, [*path, node])
        visiting.discard(node)
        done.add(node)

    for module in sorted(edges):
        visit(module, [])


def snakefile_imports(repo_root: Path) -> list[str]:
    """The twinarch modules the Snakefile and its rule files import at parse time."""
    files = [repo_root / "Snakefile", *sorted((repo_root / "workflow" / "rules").glob("*.smk"))]
    names = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if len(words) > 1 and words[0] in ("from", "import") and words[1].startswith("twinarch"):
                names.append(words[1])
    return sorted(set(names))


def test_parse_time_imports_no_heavy_library(repo_root):
    modules = snakefile_imports(repo_root)
    assert "twinarch.study.rules" in modules
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        + "print(','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo_root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"parse time imports {proc.stdout.strip()} (via {modules})"


def test_rule_files_define_no_functions(repo_root):
    """Input and param functions live in the stages' `rules` modules, where tests reach them."""
    for path in (repo_root / "workflow" / "rules").glob("*.smk"):
        defs = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("def ")]
        assert not defs, f"{path.name} defines {defs}"


def test_each_stage_has_its_rule_file_schema_section_and_tests(repo_root):
    for stage in STAGES:
        assert (PACKAGE / stage / "rules.py").is_file(), stage
        assert (repo_root / "workflow" / "rules" / f"{stage}.smk").is_file(), stage
        assert (repo_root / "workflow" / "schemas" / f"{stage}.schema.yaml").is_file(), stage
        assert (repo_root / "tests" / stage).is_dir(), stage


def test_test_modules_have_unique_names(repo_root):
    """Test folders are not packages (pytest's default import mode), so two `test_report.py` in two
    stages' folders would stop collection: every test module's name says its stage."""
    names = [path.name for path in (repo_root / "tests").rglob("test_*.py")]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
