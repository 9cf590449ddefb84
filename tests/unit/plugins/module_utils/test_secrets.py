# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Secret masker (_secrets) and every output that shows a Secret through it."""

import ast
import base64
import json
import pathlib

from ansible_collections.gitops.bootstrap.plugins.callback import drift_report
from ansible_collections.gitops.bootstrap.plugins.module_utils import _secrets as S
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd import masked_secret
from ansible_collections.gitops.bootstrap.plugins.module_utils._argocd_install.report import diff_of
from ansible_collections.gitops.bootstrap.plugins.modules.argocd_cluster import masked_cluster_secret

PLUGINS = pathlib.Path(__file__).resolve().parents[4] / "plugins"
TOKEN = "s3cr3t-t0ken"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def secret(data=None, string_data=None, last_applied=True):
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "repo", "namespace": "argocd"}}
    if data is not None:
        obj["data"] = data
    if string_data is not None:
        obj["stringData"] = string_data
    if last_applied:
        applied = dict(obj, data=data or {}, stringData=string_data or {})
        obj["metadata"]["annotations"] = {S.LAST_APPLIED: json.dumps(applied), "team": "platform"}
    return obj


def leaks(value):
    text = json.dumps(value)
    return TOKEN in text or b64(TOKEN) in text


def test_values_are_masked_and_plain_keys_decoded():
    shown = S.mask_secret(secret({"url": b64("https://git.example"), "password": b64(TOKEN)}), plain_keys=("url",))
    assert shown["data"] == {"url": "https://git.example", "password": S.MASK}
    assert not leaks(shown)


def test_string_data_is_masked_too():
    shown = S.mask_secret(secret(string_data={"password": TOKEN, "url": "https://git.example"}), plain_keys=("url",))
    assert shown["stringData"] == {"password": S.MASK, "url": "https://git.example"}
    assert not leaks(shown)


def test_the_last_applied_annotation_which_repeats_the_data_goes():
    shown = S.mask_secret(secret({"password": b64(TOKEN)}))
    assert shown["metadata"]["annotations"] == {"team": "platform"}
    assert not leaks(shown)


def test_a_changed_value_is_marked_and_an_equal_one_is_not():
    before = secret({"password": b64("old"), "user": b64("bot")})
    after = secret({"password": b64(TOKEN), "user": b64("bot")})
    assert S.mask_secret(after, other=before)["data"] == {"password": S.MASK_CHANGED, "user": S.MASK}
    assert S.mask_secret(after, other=after)["data"] == {"password": S.MASK, "user": S.MASK}


def test_the_input_is_not_changed():
    obj = secret({"password": b64(TOKEN)})
    copy = json.loads(json.dumps(obj))
    S.mask_secret(obj)
    assert obj == copy


def test_mask_secrets_finds_secrets_at_any_depth_and_keeps_the_rest():
    value = {"items": [secret({"password": b64(TOKEN)}), {"kind": "ConfigMap", "data": {"url": "https://x"}}]}
    shown = S.mask_secrets(value, mask=S.NO_LOG_MASK)
    assert shown["items"][0]["data"] == {"password": S.NO_LOG_MASK}
    assert shown["items"][1] == value["items"][1]
    assert not leaks(shown)


# ---------------------------------------------------------------------------- every output uses it
def test_the_drift_report_does_not_leak_a_secret_through_its_last_applied_annotation():
    shown = drift_report._mask({"before": secret({"password": b64(TOKEN)})})
    assert shown["before"]["data"] == {"password": drift_report.MASK}
    assert not leaks(shown), "the annotation repeats the data in plain text"


def test_argocd_repository_and_cluster_results_hide_string_data():
    obj = secret({"url": b64("https://git.example")}, string_data={"password": TOKEN})
    assert not leaks(masked_secret(obj))
    assert not leaks(masked_cluster_secret(obj))


def test_argocd_install_diff_masks_through_the_same_masker():
    class Action:
        obj = secret({"password": b64(TOKEN)})
        before = obj
        after = obj
        action = "update"

    shown = diff_of(Action())
    assert shown["after"]["data"] == {"password": S.NO_LOG_MASK} and not leaks(shown)


# A plan's field-by-field differences mask the paths under data and stringData, not Secret objects.
FIELD_MASKERS = {"module_utils/_plan.py"}


def test_no_other_secret_masker_in_the_plugins():
    """Secrets are masked by _secrets alone: no other plugin picks out a Secret's data or stringData."""
    for path in PLUGINS.rglob("*.py"):
        where = str(path.relative_to(PLUGINS))
        if path.name == "_secrets.py" or where in FIELD_MASKERS:
            continue
        tree = ast.parse(path.read_text())
        found = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value == "stringData"]
        assert not found, f"{where}:{found[0]} handles a Secret's stringData itself; mask through _secrets.mask_secret"
