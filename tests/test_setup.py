"""The project's own setup: pins agree, notebooks match their sources, the README's commands exist."""
from __future__ import annotations

import re
import platform
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:          # Python 3.10: the backport that pytest itself depends on
    import tomli as tomllib

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))


def requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].strip().lower().replace("_", "-")


def pins(python: str | None = None) -> dict[str, str]:
    """{package: pinned version} for a Python version ("3.11"; default: the one running). A pin
    may hold only for some versions: ``numpy==2.2.6 ; python_version < "3.11"``."""
    from packaging.markers import Marker
    python = python or platform.python_version()
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            spec, _, marker = line.partition(";")
            if marker.strip() and not Marker(marker.strip()).evaluate(
                    {"python_version": ".".join(python.split(".")[:2]), "python_full_version": python}):
                continue
            name, version = spec.split("==")
            key = name.strip().lower().replace("_", "-")
            assert key not in out, f"{key} is pinned twice for Python {python}"
            out[key] = version.strip()
    return out


def conda_deps() -> dict[str, str | None]:
    deps = {}
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([A-Za-z0-9_.-]+)(?:=([^\s]+))?\s*$", line)
        if in_deps and m:
            deps[m.group(1).lower().replace("_", "-")] = m.group(2)
    return deps


def test_environment_yml_and_pyproject_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {requirement_name(d) for d in project["dependencies"]}
    for extra in ("notebook", "test"):
        wanted |= {requirement_name(d) for d in project["optional-dependencies"][extra]}
    conda = conda_deps()
    python = conda.pop("python")
    conda.pop("pip")
    assert set(conda) == wanted, f"only in pyproject: {wanted - set(conda)}; only in environment.yml: {set(conda) - wanted}"
    pinned = pins(python)                 # the conda environment's Python, not the one running
    for name, version in conda.items():
        assert version == pinned[name], f"{name}: environment.yml says {version}, constraints.txt {pinned[name]}"


def test_the_package_alone_needs_pyzmq_only_and_the_makefile_installs_the_notebook_side():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert [requirement_name(d) for d in project["dependencies"]] == ["pyzmq"]
    assert {"jupyterlab", "ipywidgets", "matplotlib"} <= {
        requirement_name(d) for d in project["optional-dependencies"]["notebook"]}
    assert "'.[notebook,test]'" in (ROOT / "Makefile").read_text()


def test_every_dependency_is_pinned_and_installed_at_its_pin():
    from importlib.metadata import version
    pinned = pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for spec in project["dependencies"] + extras["notebook"] + extras["test"]:
        name = requirement_name(spec)
        assert name in pinned, f"{name} is not pinned in constraints.txt"
        assert version(name) == pinned[name], f"{name} installed {version(name)}, pinned {pinned[name]}"


def test_every_notebook_matches_its_source_and_has_outputs():
    import nbbuild
    # the talk is made of the notebooks' own cells by tools/talk.py (tests/test_talk.py checks it)
    notebooks = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if p.name != "talk.ipynb")
    sources = sorted((ROOT / "notebooks" / "src").glob("*.py"))
    assert [n.stem for n in notebooks] == [s.stem for s in sources]
    for nb_path, src in zip(notebooks, sources):
        nb = nbformat.read(nb_path, 4)
        expected = nbbuild.notebook_from(src)
        shape = lambda cells: [(c.cell_type, c.source, c.metadata.get("slideshow"), c.metadata.get("tags"))
                               for c in cells]
        assert shape(nb.cells) == shape(expected.cells), f"{nb_path.name} differs from {src.name}: rebuild it"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), f"{nb_path.name} has cells that were never run"
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], f"{nb_path.name} has errors"


def test_every_committed_panel_has_a_card_for_pages_without_a_kernel():
    """Offline (the slides, the static site) a widget is a blank box: each panel's output also
    carries its text/html card saying what it is and where to run it (Panel._repr_mimebundle_)."""
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(nb_path, 4).cells:
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if "Panel(" in str(data.get("text/plain", "")):
                    assert "a live panel" in str(data.get("text/html", "")), \
                        f"{nb_path.name}: a panel output without its card: rebuild the notebook"


def test_nbval_markers_become_cell_tags_and_leave_the_code():
    import nbbuild
    source = "# NBVAL_IGNORE_OUTPUT\npanel"
    assert nbbuild.nbval_tags(source) == ("panel", ["nbval-ignore-output"])
    assert nbbuild.nbval_tags("x = 1  # NBVAL_SKIP is only a marker on the first lines") == (
        "x = 1  # NBVAL_SKIP is only a marker on the first lines", [])
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = [c.source for c in nbformat.read(nb_path, 4).cells if c.cell_type == "code"]
        assert not [c for c in code if "NBVAL_" in c], f"{nb_path.name} shows nbval markers in its code"


def test_notebooks_follow_the_house_shape():
    for src in sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py")):     # the lessons (not the glossary)
        text = src.read_text()
        assert "```mermaid" in text, f"{src.name}: no socket diagram"
        assert "Lab(" in text and "lab.close()" in text, f"{src.name}: no lab or no teardown"
        assert "assert not lab.threads()" in text, f"{src.name}: teardown does not check threads"
        assert ".click()" in text, f"{src.name}: the panel is never clicked headless"
        assert "# NBVAL_IGNORE_OUTPUT\npanel" in text, f"{src.name}: panel display must ignore output"


def test_readme_opens_with_the_two_commands_and_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    head = readme[:1500]
    assert "make lab" in head and "make test" in head
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert nb.name in readme, f"README's table misses {nb.name}"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_lab_config_turns_off_news_and_update_checks():
    config = (ROOT / "tools" / "jupyter_lab_config.py").read_text()
    assert 'c.ServerApp.ip = "127.0.0.1"' in config and "c.LabApp.news_url = None" in config
    from jupyterlab.handlers.announcements import NeverCheckForUpdate  # noqa: F401 - the class exists
    assert "NeverCheckForUpdate" in config


def test_no_shared_context_in_the_workbook():
    """No code calls zmq.Context.instance() (the text may explain why not: comments are skipped)."""
    for path in list((ROOT / "zguide_py").rglob("*.py")) + list((ROOT / "notebooks" / "src").glob("*.py")):
        code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        assert not any("Context.instance(" in line for line in code), path


def test_cli_lists_patterns_and_rejects_unknown_ones():
    ok = subprocess.run([sys.executable, "-m", "zguide_py", "list"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "reqrep:" in ok.stdout and "echo_server(endpoint)" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "zguide_py", "run", "nosuch", "x"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown pattern 'nosuch'" in bad.stderr
    bad_role = subprocess.run([sys.executable, "-m", "zguide_py", "run", "reqrep", "nosuch"],
                              capture_output=True, text=True, timeout=60)
    assert bad_role.returncode == 2 and "has no role 'nosuch'" in bad_role.stderr
    bad_param = subprocess.run([sys.executable, "-m", "zguide_py", "run", "reqrep", "echo_server", "nope=1"],
                               capture_output=True, text=True, timeout=60)
    assert bad_param.returncode == 2 and "bad parameters" in bad_param.stderr


def test_binder_environment_is_the_conda_one_without_the_project():
    def deps(path):
        lines = (ROOT / path).read_text().splitlines()
        return [line for line in lines if line.startswith("  - ") and not line.startswith("  - pip:")]
    main = [d for d in deps("environment.yml") if "-e ." not in d]
    assert deps("binder/environment.yml") == main
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post and "overrides.json" in post
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_readme_links_every_notebook_on_binder():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    slug = project["urls"]["Repository"].removeprefix("https://github.com/")
    readme = (ROOT / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"](notebooks/{nb.name})" in readme, f"{nb.name} is not in the README's table"
        assert f"https://mybinder.org/v2/gh/{slug}/HEAD?labpath=notebooks%2F{nb.name}" in readme, \
            f"{nb.name} has no Binder link"


def test_make_lab_starts_jupyterlab_on_loopback_and_it_answers():
    """The `lab:` recipe of the Makefile, run as the current user (root on CI machines, where Jupyter
    refuses to start unless the configuration allows it), serves the notebooks on 127.0.0.1 only."""
    import json
    import os
    import signal
    import time
    import urllib.request

    from zguide_py.lab import free_tcp_port

    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lab:.*\n\t(.+)$", makefile, re.M).group(1)
    jupyter = Path(sys.executable).parent / "jupyter"
    command = recipe.replace("$(VENV)/bin/jupyter", str(jupyter))
    port = free_tcp_port()
    proc = subprocess.Popen(f"{command} --no-browser --ServerApp.port={port} --ServerApp.port_retries=0",
                            shell=True, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None:
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as response:
                    answer = json.loads(response.read())
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer within 60 s"
                time.sleep(0.2)         # polling a server that is starting: no event to wait on
        assert "version" in answer
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        if listening:                   # `ss` exists: every listener on that port is loopback
            assert all(line.split()[3].startswith("127.0.0.1:") for line in listening.splitlines()), listening
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
