# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The infra repository's .gitops/validate.py: the file the scaffold writes, and its functions run offline.

The program runs in the generated repository; here it is imported as a module and pointed at a
repository laid out under tmp_path (its ROOT). The whole program against a real kustomize, real
git servers and a real cluster is exercised by tests/integration/test_infra_repo.py.
"""

import ast
import hashlib
import os
import subprocess
import sys
import zipfile
from types import SimpleNamespace

import pytest
import yaml

from ansible.executor.module_common import ModuleDepFinder

from ansible_collections.gitops.bootstrap.plugins.module_utils import _infra_validate as V
from ansible_collections.gitops.bootstrap.plugins.module_utils import _layout as L
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold as S
from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold_validate as SV

# The SHA-256 of .gitops/validate.py as every repository scaffolded so far received it (the
# value computed from the script while it was still kept as a string). A change to the script is
# an update that every existing repository sees: change this value only on purpose.
VALIDATE_PY_SHA256 = "0c2ff6fbaed89d4f53428a3bd0de59af79a0d81ea9eceb4e80aa4c050a3e63b5"

MODULE_UTILS = os.path.dirname(V.__file__)


# ---------------------------------------------------------------------------- the generated file
def test_generated_validate_py_is_the_script_file_byte_for_byte_as_recorded():
    files = S.render_files({"cluster": "dev1", "repo_url": "ssh://git@example.test/infra.git"})
    script = files[L.VALIDATE_SCRIPT]
    assert script is SV.VALIDATE_PY
    assert hashlib.sha256(script.encode("utf-8")).hexdigest() == VALIDATE_PY_SHA256
    assert S.sha256(script) == VALIDATE_PY_SHA256
    assert script.startswith("#!/usr/bin/env python3\n\"\"\"Validate this infra repository")
    with open(V.__file__, encoding="utf-8") as f:
        source = f.read()
    assert SV.script_text(source) == script
    # everything after the collection's header, unchanged but for the one line where PyYAML is missing
    body = source.splitlines(keepends=True)
    body = body[next(i for i, line in enumerate(body) if not line.startswith("#")):]
    generated = script.splitlines(keepends=True)
    assert generated[0] == SV.SHEBANG and len(generated) == len(body) + 1
    differ = [(a, b) for a, b in zip(body, generated[1:]) if a != b]
    assert differ == [(SV.AS_MODULE_UTIL, SV.AS_PROGRAM)]
    assert "Copyright" not in script and "pylint" not in script


def test_script_text_replaces_the_header_and_the_pyyaml_fallback_only():
    source = ("# -*- coding: utf-8 -*-\n# header\n#\n\"\"\"Doc.\"\"\"\n\n# a comment of the program\n"
              "try:\n    import yaml\nexcept ImportError:\n" + SV.AS_MODULE_UTIL + "x = 1\n")
    assert SV.script_text(source) == ("#!/usr/bin/env python3\n\"\"\"Doc.\"\"\"\n\n# a comment of the program\n"
                                      "try:\n    import yaml\nexcept ImportError:\n" + SV.AS_PROGRAM + "x = 1\n")
    with pytest.raises(ImportError, match="must hold the line 'yaml = None"):
        SV.script_text("x = 1\n")
    with pytest.raises(ImportError, match="once"):
        SV.script_text(SV.AS_MODULE_UTIL * 2)


def test_the_script_imports_as_a_module_util_without_pyyaml(tmp_path):
    # What sanity's import test asks of every module util; the generated program exits instead.
    code = ("import sys; sys.modules['yaml'] = None; sys.path.insert(0, sys.argv[1]);"
            "from ansible_collections.gitops.bootstrap.plugins.module_utils import _infra_validate as m;"
            "assert m.yaml is None; print(m.CONFIG_FILE)")
    collections = V.__file__[:-len(V.__name__.replace(".", os.sep) + ".py")]
    out = subprocess.run([sys.executable, "-I", "-c", code, collections], capture_output=True, text=True, check=False, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(os.path.join("plugins", ".gitops", "validate.yaml"))
    script = tmp_path / "validate.py"
    script.write_text(SV.VALIDATE_PY)
    code = "import sys, runpy; sys.modules['yaml'] = None; sys.argv = [sys.argv[1]]; runpy.run_path(sys.argv[0])"
    ran = subprocess.run([sys.executable, "-I", "-c", code, str(script)], capture_output=True, text=True, check=False, timeout=60)
    assert ran.returncode == 1
    assert ran.stderr.strip() == "error: PyYAML is missing: pip install -r .gitops/requirements.txt"


def test_reading_a_missing_script_says_what_to_do():
    with pytest.raises(ImportError, match="reinstall gitops.bootstrap"):
        SV.read_script("ansible_collections.gitops.bootstrap.plugins.module_utils._no_such_script")


def test_the_module_payload_packer_ships_the_script_file():
    # AnsiballZ packs what its dependency finder sees imported; the scaffold reads the file from there.
    with open(SV.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    finder = ModuleDepFinder(SV.__name__, tree)
    assert tuple(SV.SCRIPT_MODULE.split(".")) in finder.submodules
    assert SV.SCRIPT_MODULE == V.__name__


def test_script_is_read_from_a_zip_payload_without_running_it(tmp_path):
    payload = tmp_path / "payload.zip"
    package = "ansible_collections/gitops/bootstrap/plugins/module_utils"
    with zipfile.ZipFile(payload, "w") as zf:
        for init in ("ansible_collections", "ansible_collections/gitops", "ansible_collections/gitops/bootstrap",
                     "ansible_collections/gitops/bootstrap/plugins", package):
            zf.writestr(init + "/__init__.py", "")
        for name in ("_scaffold_validate.py", "_infra_validate.py"):
            zf.write(os.path.join(MODULE_UTILS, name), package + "/" + name)
    code = ("import sys, hashlib; sys.path.insert(0, sys.argv[1]);"
            "from ansible_collections.gitops.bootstrap.plugins.module_utils import _scaffold_validate as m;"
            "assert type(m.__loader__).__name__ == 'zipimporter', m.__loader__;"
            "assert m.SCRIPT_MODULE not in sys.modules;"
            "print(hashlib.sha256(m.VALIDATE_PY.encode()).hexdigest())")
    out = subprocess.run([sys.executable, "-I", "-c", code, str(payload)], capture_output=True, text=True, check=True,
                         timeout=60)
    assert out.stdout.strip() == VALIDATE_PY_SHA256


# ---------------------------------------------------------------------------- the program's functions
class Repo:
    """A repository folder with a helper that writes files (text, or documents as YAML)."""

    def __init__(self, root):
        self.root = root

    def __str__(self):
        return str(self.root)

    def __truediv__(self, other):
        return self.root / other

    def write(self, path, content):
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(content if isinstance(content, str) else yaml.safe_dump_all(content, sort_keys=False))
        return str(full)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """An infra repository at tmp_path/repo, the ROOT of the imported program."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setattr(V, "ROOT", str(root))
    monkeypatch.setattr(V, "CONFIG_FILE", str(root / ".gitops" / "validate.yaml"))
    monkeypatch.setenv("GITOPS_REMOTE_CACHE", str(tmp_path / "cache"))
    return Repo(root)


def configmap(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.test"},
    "spec": {"group": "example.test", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object",
                 "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]},
}


def widget(size):
    return {"apiVersion": "example.test/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": size}}


def test_load_config_defaults_and_file(repo):
    defaults = V.load_config()
    assert defaults == {"kubernetes_version": "1.36", "exclude": [], "skip_kinds": [], "environments": []}
    repo.write(".gitops/validate.yaml", "")
    assert V.load_config() == defaults
    repo.write(".gitops/validate.yaml", "---\nkubernetes_version: '1.35'\nexclude: [legacy/]\n")
    cfg = V.load_config()
    assert cfg["kubernetes_version"] == "1.35" and cfg["exclude"] == ["legacy/"] and cfg["skip_kinds"] == []


def test_walk_yaml_skips_tool_folders_and_excluded_paths(repo):
    for path in ("apps/web/base/kustomization.yaml", "apps/web/base/deploy.yml", "apps/web/Kustomization",
                 ".git/x.yaml", ".gitops/validate.yaml", ".github/workflows/v.yaml", ".venv/lib/x.yaml",
                 "legacy/old.yaml", "legacy/deep/older.yaml", "docs/deep/a.yaml", "notes.txt",
                 "clusters/dev1/kustomization.yaml"):
        repo.write(path, "---\n")
    cfg = dict(V.load_config(), exclude=["legacy", "docs/*"])
    found = [V.rel(p) for p in V.walk_yaml(cfg)]
    assert found == ["apps/web/Kustomization", "apps/web/base/deploy.yml", "apps/web/base/kustomization.yaml",
                     "clusters/dev1/kustomization.yaml"]
    assert [V.rel(d) for d in V.kustomization_dirs(cfg)] == ["apps/web", "apps/web/base", "clusters/dev1"]
    assert V.excluded(".gitops/x.yaml", cfg) and V.excluded("legacy/a/b.yaml", cfg) and V.excluded("docs/deep", cfg)
    assert not V.excluded("apps/legacy.yaml", cfg)


@pytest.mark.xfail(strict=True, reason="the generated script filters folders only: a file that an exclude pattern "
                                       "matches (the documented example docs/*) is still checked")
def test_exclude_pattern_also_skips_the_files_it_matches(repo):
    repo.write("docs/a.yaml", "---\n")
    repo.write("legacy/old.yaml", "---\n")
    assert list(V.walk_yaml(dict(V.load_config(), exclude=["docs/*", "legacy/"]))) == []


def test_crd_schema_becomes_a_strict_json_schema():
    schema = {"type": "object", "properties": {
        "name": {"type": "string", "nullable": True},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"a": {"type": "string"}}},
        "map": {"type": "object", "additionalProperties": {"type": "string"}},
        "list": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}}}}
    out = V.crd_to_jsonschema(schema)
    assert out["additionalProperties"] is False
    assert out["properties"]["name"]["type"] == ["string", "null"]
    assert "additionalProperties" not in out["properties"]["free"]
    assert out["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert out["properties"]["list"]["items"]["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the input is left as it was


def test_custom_resources_are_checked_against_their_crd(repo):
    schemas = V.Schemas(V.load_config())
    schemas.add_crd(WIDGET_CRD, "crds.yaml")
    assert ("example.test/v1", "Widget") in schemas.crds
    assert schemas.check(widget(3)) == []
    errors = schemas.check(widget("big"))
    assert len(errors) == 1 and errors[0].startswith("Widget w (example.test/v1): spec.size: ") and "integer" in errors[0]
    unknown = dict(widget(3), spec={"size": 3, "colour": "red"})
    assert "colour" in schemas.check(unknown)[0]
    assert schemas.check({"metadata": {"name": "x"}}) == ["a document without apiVersion/kind"]


def test_crds_are_found_under_gitops_schemas(repo):
    repo.write(".gitops/schemas/widgets.yaml", [WIDGET_CRD, configmap("not-a-crd")])
    schemas = V.Schemas(V.load_config())
    schemas.load_schema_dir()
    assert schemas.crds[("example.test/v1", "Widget")][1] == ".gitops/schemas/widgets.yaml"
    assert len(schemas.crds) == 1


def test_builtin_kinds_use_the_bundled_schemas_offline(repo):
    schemas = V.Schemas(V.load_config())
    assert schemas.check(configmap("ok", a="b")) == []
    bad = schemas.check(dict(configmap("bad"), data={"a": 5}))
    assert len(bad) == 1 and bad[0].startswith("ConfigMap bad (v1): data.a: ")
    assert "no schema for this kind" in schemas.check(widget(1))[0]
    skipping = V.Schemas(dict(V.load_config(), skip_kinds=["Widget"]))
    assert skipping.check(widget("anything")) == []
    with pytest.raises(V.Failure, match="kubernetes_version 9.99 .* not supported .* upgrade it"):
        V.Schemas(dict(V.load_config(), kubernetes_version="9.99")).check(configmap("x"))


def test_remote_resources_come_from_the_cache(repo, tmp_path):
    url = "https://example.test/releases/v1/install.yaml"
    with pytest.raises(V.Failure, match="not a plain file URL"):
        V.cached_remote(url + "?ref=main", offline=True)
    with pytest.raises(V.Failure, match="not in the cache .* --offline"):
        V.cached_remote(url, offline=True)
    cached = tmp_path / "cache" / "example.test" / "releases" / "v1" / "install.yaml"
    cached.parent.mkdir(parents=True)
    cached.write_text(yaml.safe_dump(configmap("remote")))
    assert V.cached_remote(url, offline=True) == str(cached)
    assert V.cached_remote(url, offline=False) == str(cached)  # a cached file is not downloaded again


def test_remote_resources_are_rewritten_to_local_copies(repo, tmp_path):
    url = "https://example.test/v1/install.yaml"
    cached = tmp_path / "cache" / "example.test" / "v1" / "install.yaml"
    cached.parent.mkdir(parents=True)
    cached.write_text("---\nkind: X\n")
    kust = repo.write("k/kustomization.yaml", "---\nresources:\n  - " + url + "\n  - local.yaml\n")
    V.localise_remotes(str(repo), offline=True)
    with open(kust) as f:
        assert yaml.safe_load(f)["resources"] == ["_remote_0_install.yaml", "local.yaml"]
    assert (repo / "k" / "_remote_0_install.yaml").read_text() == "---\nkind: X\n"
    repo.write("g/kustomization.yaml", "---\nresources:\n  - github.com/example/repo//base\n")
    with pytest.raises(V.Failure, match="g/kustomization.yaml: remote base github.com/example/repo//base is a git URL"):
        V.localise_remotes(str(repo), offline=True)


def test_kustomize_or_kubectl_from_the_environment(repo, tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("KUSTOMIZE", raising=False)
    monkeypatch.delenv("KUBECTL", raising=False)
    with pytest.raises(V.Failure, match="neither kustomize nor kubectl found"):
        V.kustomize_command()
    tool = empty / "kubectl"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert V.kustomize_command() == [str(tool), "kustomize"]
    monkeypatch.setenv("KUSTOMIZE", str(tool))
    assert V.kustomize_command() == [str(tool), "build"]
    monkeypatch.setenv("KUSTOMIZE", str(empty / "missing"))
    assert V.kustomize_command() == [str(tool), "kustomize"]


@pytest.fixture
def fake_kustomize(tmp_path, monkeypatch):
    """A stand-in for `kustomize build DIR`: prints DIR/rendered.yaml, fails when it is missing."""
    tool = tmp_path / "kustomize"
    tool.write_text('#!/bin/sh\n[ -f "$2/rendered.yaml" ] || { echo "no rendered.yaml in $2" >&2; exit 1; }\n'
                    'cat "$2/rendered.yaml"\n')
    tool.chmod(0o755)
    monkeypatch.setenv("KUSTOMIZE", str(tool))
    return tool


def test_validate_renders_and_checks_every_manifest(repo, fake_kustomize, capsys):
    repo.write("apps/web/base/kustomization.yaml", "---\nresources: [cm.yaml]\n")
    repo.write("apps/web/base/rendered.yaml", [configmap("web", a="b"), WIDGET_CRD])
    repo.write("apps/web/base/cm.yaml", [configmap("not-checked-twice", a=1)])  # owned by the kustomization
    repo.write("clusters/dev1/widget.yaml", [widget(2)])
    repo.write("clusters/dev1/notes.yaml", "---\njust: data\n")
    args = SimpleNamespace(skip_lint=True, offline=True)
    assert V.validate(args) == []
    out = capsys.readouterr().out
    assert "ok   apps/web/base (2 objects)" in out and "3 manifests checked, 1 custom resource schemas known" in out

    repo.write("clusters/dev1/widget.yaml", [widget("big")])
    repo.write("clusters/dev1/broken.yaml", "---\nkind: [\n")
    repo.write("clusters/dev1/nothing/kustomization.yaml", "---\n")
    errors = V.validate(args)
    assert any(e.startswith("render of clusters/dev1/nothing failed: no rendered.yaml") for e in errors), errors
    assert any(e.startswith("clusters/dev1/broken.yaml: not valid YAML") for e in errors), errors
    assert any(e.startswith("clusters/dev1/widget.yaml: Widget w (example.test/v1): spec.size") for e in errors), errors
    assert len(errors) == 3, errors


def test_validate_runs_yamllint_with_the_repository_config(repo, fake_kustomize, capsys):
    repo.write(".yamllint.yaml", "---\nextends: default\nrules:\n  document-start: disable\n")
    repo.write("a.yaml", "key:   value\n")
    errors = V.validate(SimpleNamespace(skip_lint=False, offline=True))
    assert errors == ["yamllint reported problems (see above)"]
    assert "a.yaml" in capsys.readouterr().out
    repo.write("a.yaml", "key: value\n")
    assert V.validate(SimpleNamespace(skip_lint=False, offline=True)) == []


def test_dry_run_targets_follow_changed_clusters_and_application_sources(repo):
    repo.write("clusters/dev1/kustomization.yaml", "---\n")
    repo.write("clusters/dev1/argocd/kustomization.yaml", "---\n")
    repo.write("clusters/dev1/apps/web.yaml", [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                                                "metadata": {"name": "web"},
                                                "spec": {"source": {"path": "apps/web/overlays/dev/"}}}])
    repo.write("apps/web/base/deploy.yaml", "---\n")
    repo.write("apps/web/overlays/dev/kustomization.yaml", "---\n")
    cfg = V.load_config()
    assert V.dry_run_targets(["clusters/dev1/argocd/kustomization.yaml"], cfg) == ["clusters/dev1/argocd"]
    assert V.dry_run_targets(["clusters/dev1/apps/web.yaml"], cfg) == ["clusters/dev1"]
    assert V.dry_run_targets(["apps/web/base/deploy.yaml"], cfg) == ["apps/web/overlays/dev"]
    assert V.dry_run_targets(["apps/web/overlays/dev/kustomization.yaml"], cfg) == ["apps/web/overlays/dev"]
    assert V.dry_run_targets(["apps/web/overlays/prod/kustomization.yaml", "README.md"], cfg) == []
    assert V.dry_run_targets(["clusters/gone/kustomization.yaml"], cfg) == []


def test_dry_run_needs_kubectl_and_a_cluster(repo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("KUBECTL", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert V.main(["dry-run"]) == 1
    assert "kubectl not found" in capsys.readouterr().out
    monkeypatch.setenv("KUBECTL", "/bin/true")
    assert V.main(["dry-run"]) == 1
    assert "no cluster: set KUBECONFIG (or --kubeconfig)" in capsys.readouterr().out


def test_promote_copies_image_pins_to_the_next_overlay(repo, capsys):
    images = [{"name": "web", "newName": "registry.example.test/web", "newTag": "1.2.3"}]
    repo.write("apps/web/overlays/dev/kustomization.yaml", [{"resources": ["../../base"], "images": images}])
    staging = repo.write("apps/web/overlays/staging/kustomization.yaml", [{"resources": ["../../base"]}])
    assert V.main(["promote", "web", "dev", "staging"]) == 0
    with open(staging) as f:
        text = f.read()
    assert text.startswith("---\n") and yaml.safe_load(text) == {"resources": ["../../base"], "images": images}
    assert "promoted the images of web/dev to staging" in capsys.readouterr().out
    assert V.main(["promote", "web", "dev", "staging"]) == 0
    assert "staging already runs the images of dev" in capsys.readouterr().out
    assert V.main(["promote", "web", "dev", "prod"]) == 1
    assert "apps/web/overlays/prod/kustomization.yaml does not exist" in capsys.readouterr().out
