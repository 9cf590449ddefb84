# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""infra_repo_on_disagreement in the infra_repo role's settings check."""

import pytest

from ansible_collections.gitops.bootstrap.plugins.filter.role_settings import infra_repo_settings_errors


def infra(**kw):
    s = {"url": "https://git.example.test/platform/infra.git", "cluster": "dev", "timeout": 120}
    s.update(kw)
    return s


def test_report_is_the_default_and_needs_nothing():
    assert infra_repo_settings_errors(infra()) == []
    assert infra_repo_settings_errors(infra(on_disagreement="report")) == []


@pytest.mark.parametrize("forge", [{}, {"forge": "github"}, {"forge": "gitea", "forge_token_set": True}])
def test_propose_needs_a_forge(forge):
    (error,) = infra_repo_settings_errors(infra(on_disagreement="propose", **forge))
    assert "infra_repo_on_disagreement: propose opens a pull request" in error and "never a direct push" in error
    assert "infra_repo_on_disagreement: report" in error


def test_propose_with_a_forge_is_accepted():
    assert infra_repo_settings_errors(infra(on_disagreement="propose", forge="gitea", forge_token_set=True,
                                            forge_api_url="https://git.example.test")) == []


def test_unknown_value_is_refused():
    (error,) = infra_repo_settings_errors(infra(on_disagreement="overwrite"))
    assert "must be report" in error and "'overwrite'" in error
