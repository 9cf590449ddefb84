# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gitops.bootstrap contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Argo CD deploy key file: read its public half, or generate an ed25519 key.

The private key never leaves the file: functions here return the public key line only.
``cryptography`` is used when it is importable (it is a dependency of ansible-core),
``ssh-keygen`` otherwise.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile

from ansible_collections.gitops.bootstrap.plugins.module_utils._forge.http import ForgeInputError

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - depends on the controller's Python
    HAS_CRYPTOGRAPHY = False


def _check_file(path: str) -> None:
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise ForgeInputError(f"deploy_key_path {path} is not a regular file")
    if st.st_mode & 0o077:
        raise ForgeInputError(
            f"deploy_key_path {path} is readable by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"a private key must be private: run 'chmod 600 {path}'")


def public_key_of(path: str, comment: str = "") -> str:
    """The OpenSSH public key line of the private key file at ``path``."""
    _check_file(path)
    if HAS_CRYPTOGRAPHY:
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            if b"BEGIN OPENSSH PRIVATE KEY" in data:
                key = serialization.load_ssh_private_key(data, password=None)
            else:
                key = serialization.load_pem_private_key(data, password=None)
        except TypeError as exc:
            raise ForgeInputError(
                f"deploy_key_path {path} is encrypted with a passphrase; Argo CD needs a key without "
                "one (remove the passphrase with 'ssh-keygen -p -N \"\" -f <file>', or let the module "
                "generate a new key at another path)") from exc
        except Exception as exc:  # cryptography raises several types for unreadable input
            raise ForgeInputError(f"deploy_key_path {path} is not a private key that can be read: "
                                  f"{exc.__class__.__name__}") from exc
        line = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode("ascii")
    else:
        line = _ssh_keygen(["-y", "-P", "", "-f", path], f"read the public key of {path}").strip()
    return f"{line} {comment}".strip()


def generate(path: str, comment: str) -> str:
    """Write a new ed25519 private key to ``path`` (mode 0600, never overwrites); return its public line."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ForgeInputError(f"cannot create deploy_key_path {path}: directory {directory} does not exist")
    if HAS_CRYPTOGRAPHY:
        key = ed25519.Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise ForgeInputError(f"deploy_key_path {path} appeared while the key was generated") from exc
        with os.fdopen(fd, "wb") as handle:
            handle.write(private)
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode("ascii")
        return f"{public} {comment}".strip()
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        tmp_key = os.path.join(tmp, "key")
        _ssh_keygen(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", tmp_key], "generate a key")
        os.chmod(tmp_key, 0o600)
        try:
            os.link(tmp_key, path)  # fails instead of replacing a file that appeared meanwhile
        except FileExistsError as exc:
            raise ForgeInputError(f"deploy_key_path {path} appeared while the key was generated") from exc
    return public_key_of(path, comment)


def _ssh_keygen(args: list[str], what: str) -> str:
    exe = shutil.which("ssh-keygen")
    if not exe:
        raise ForgeInputError(f"cannot {what}: neither the Python 'cryptography' package nor ssh-keygen is "
                              "available on the controller; install one of them")
    proc = subprocess.run([exe] + args, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise ForgeInputError(f"cannot {what}: ssh-keygen: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout
