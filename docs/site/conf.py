# Sphinx configuration of the collection's docs site (make docs): the pages antsibull-docs writes for
# every module, role, filter and callback of gitops.bootstrap, built offline with warnings as errors.
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

project = 'gitops.bootstrap'
copyright = 'gitops.bootstrap contributors'
title = 'gitops.bootstrap collection documentation'
html_short_title = 'gitops.bootstrap'

extensions = ['sphinx_antsibull_ext']
pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'
html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False
# offline: references to other collections' and Ansible's docs are left unresolved (no intersphinx
# inventories are fetched); references inside this collection must resolve
default_role = 'any'
nitpicky = True

# Offline, references to Ansible's own docs and to other collections (kubernetes.core, community.okd)
# are turned into links to the published docs here instead of being looked up in intersphinx
# inventories; a reference into this collection that does not resolve still fails the build.
ANSIBLE_DOCS = 'https://docs.ansible.com/projects/ansible/devel/'
ANSIBLE_LABELS = {
    'common_return_values': 'reference_appendices/common_return_values.html',
    'ansible_configuration_settings': 'reference_appendices/config.html',
    'callback_plugins': 'plugins/callback.html',
}


def _external_reference(app, env, node, contnode):
    from docutils import nodes  # pylint: disable=import-outside-toplevel

    target = node.get('reftarget', '')
    if node.get('reftype') != 'ref':
        return None
    if target in ANSIBLE_LABELS:
        uri = ANSIBLE_DOCS + ANSIBLE_LABELS[target]
    elif target.startswith('ansible_collections.') and not target.startswith('ansible_collections.gitops.bootstrap.'):
        parts = target.split('.')
        if len(parts) != 4:
            return None
        uri = f'{ANSIBLE_DOCS}collections/{parts[1]}/{parts[2]}/{parts[3]}.html'
    else:
        return None
    reference = nodes.reference('', '', internal=False, refuri=uri)
    reference.append(contnode)
    return reference


def setup(app):
    app.connect('missing-reference', _external_reference)
