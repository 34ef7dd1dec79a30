"""Reading Ansible Vault: whole files and inline ``!vault`` values, with the project's password.

The format (``$ANSIBLE_VAULT;1.1;AES256`` or ``$ANSIBLE_VAULT;1.2;AES256;<vault-id>``, then
hex in 80 columns) holds, hex-encoded once more, three lines: the salt, the HMAC and the
ciphertext. The keys come from PBKDF2-HMAC-SHA256 (10,000 rounds, 80 bytes: the AES key, the
HMAC key, the counter's start); the cipher is AES-256 in CTR mode over PKCS#7-padded text, and
the HMAC-SHA256 is over the ciphertext, checked before anything is decrypted.

What is decrypted is a secret like Mainsail's own vault values (vault.py). ``encrypt`` exists
for tests and for nothing else: Mainsail writes its own format (``inv vault.import``).
"""

from __future__ import annotations

import binascii
import hmac
import os
from dataclasses import dataclass
from typing import Any

from .errors import BadInput
from .vault import Vault

PREFIX = "$ANSIBLE_VAULT;"
VERSIONS = ("1.1", "1.2")
CIPHER = "AES256"
ITERATIONS = 10_000
KEY_BYTES, IV_BYTES, SALT_BYTES = 32, 16, 32
LINE_WIDTH = 80
_ALTERED = "wrong vault password or the file was altered"


@dataclass(frozen=True)
class Sealed:
    """An Ansible Vault text, parsed but not decrypted."""

    version: str
    vault_id: str
    salt: bytes
    mac: bytes
    ciphertext: bytes


def is_ansible_vault(text: str) -> bool:
    return text.lstrip().startswith(PREFIX)


def parse(text: str, shown: str) -> Sealed:
    """Header and payload of an Ansible Vault text; BadInput naming ``shown`` when damaged."""
    lines = text.strip().splitlines()
    header = [part.strip() for part in lines[0].strip().split(";")] if lines else []
    if len(header) < 3 or header[0] != PREFIX.rstrip(";"):
        raise BadInput(f"cannot decrypt {shown}: the Ansible Vault header line is damaged",
                       hint="it should look like $ANSIBLE_VAULT;1.1;AES256")
    version, cipher = header[1], header[2]
    if version not in VERSIONS or cipher != CIPHER:
        raise BadInput(f"cannot decrypt {shown}: Ansible Vault format {version};{cipher} is "
                       f"not read (only {' and '.join(VERSIONS)} with {CIPHER})",
                       hint="re-encrypt it with a current ansible-vault (ansible-vault rekey)")
    try:
        inner = binascii.unhexlify("".join("".join(lines[1:]).split()))
        salt, mac, body = inner.split(b"\n", 2)
        sealed = Sealed(version, header[3] if len(header) > 3 else "default",
                        binascii.unhexlify(salt), binascii.unhexlify(mac),
                        binascii.unhexlify(body))
    except (binascii.Error, ValueError):
        raise BadInput(f"cannot decrypt {shown}: the Ansible Vault payload is damaged",
                       hint="the file was altered or cut short") from None
    if len(sealed.mac) != 32 or not sealed.ciphertext:
        raise BadInput(f"cannot decrypt {shown}: the Ansible Vault payload is damaged",
                       hint="the file was altered or cut short")
    return sealed


def derive(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    """(AES key, HMAC key, counter start) from the password and the file's salt."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    material = PBKDF2HMAC(algorithm=hashes.SHA256(), length=2 * KEY_BYTES + IV_BYTES,
                          salt=salt, iterations=ITERATIONS).derive(password)
    return material[:KEY_BYTES], material[KEY_BYTES:2 * KEY_BYTES], material[2 * KEY_BYTES:]


def _mac(key: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import hmac as chmac
    signer = chmac.HMAC(key, hashes.SHA256())
    signer.update(data)
    return signer.finalize()


def unseal(sealed: Sealed, password: bytes, shown: str, source: str = "") -> bytes:
    """The plaintext; BadInput when the HMAC does not match (wrong password, altered file)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key, mac_key, iv = derive(password, sealed.salt)
    if not hmac.compare_digest(_mac(mac_key, sealed.ciphertext), sealed.mac):
        raise BadInput(f"cannot decrypt {shown}: {_ALTERED}",
                       hint=f"the password came from {source}" if source else "")
    decryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor()
    padded = decryptor.update(sealed.ciphertext) + decryptor.finalize()
    try:
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise BadInput(f"cannot decrypt {shown}: the decrypted text is not padded as "
                       "Ansible Vault pads it", hint="the file was altered") from None


def encrypt(plain: bytes, password: bytes, vault_id: str = "", salt: bytes | None = None) -> str:
    """An Ansible Vault text (1.1, or 1.2 with a vault id) of ``plain``."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    key, mac_key, iv = derive(password, salt)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(plain) + padder.finalize()) + \
        encryptor.finalize()
    inner = b"\n".join([binascii.hexlify(salt), binascii.hexlify(_mac(mac_key, ciphertext)),
                        binascii.hexlify(ciphertext)])
    body = binascii.hexlify(inner).decode("ascii")
    header = f"{PREFIX}1.2;{CIPHER};{vault_id}" if vault_id and vault_id != "default" \
        else f"{PREFIX}1.1;{CIPHER}"
    lines = [body[i:i + LINE_WIDTH] for i in range(0, len(body), LINE_WIDTH)]
    return "\n".join([header, *lines]) + "\n"


def open_inline_values(text: str, shown: str, vault: Vault) -> str | None:
    """``text`` with each inline ``!vault`` value replaced by its plaintext as a quoted YAML
    string (the rest of the text as it was); None when it holds no such value."""
    import json

    import yaml
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise BadInput(f"{shown} is not valid YAML ({str(exc).splitlines()[0]})", shown) \
            from None
    spans = sorted(_vault_nodes(root), key=lambda n: n.start_mark.index, reverse=True)
    for node in spans:
        where = f"{shown}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"
        plain = json.dumps(decrypt_text(node.value, where, vault), ensure_ascii=False)
        start, end = node.start_mark.index, node.end_mark.index
        tail = "\n" if text[start:end].endswith("\n") else ""
        text = text[:start] + plain + tail + text[end:]
    return text if spans else None


def _vault_nodes(node: Any) -> list[Any]:
    import yaml
    if node is None:
        return []
    if isinstance(node, yaml.ScalarNode):
        return [node] if node.tag == "!vault" else []
    if isinstance(node, yaml.SequenceNode):
        return [found for item in node.value for found in _vault_nodes(item)]
    if isinstance(node, yaml.MappingNode):
        return [found for key, value in node.value for found in _vault_nodes(value)]
    return []


def decrypt_text(text: str, shown: str, vault: Vault) -> str:
    """The plaintext of an Ansible Vault text read from ``shown``, with the run's password."""
    sealed = parse(text, shown)
    password = vault.keyring.password(shown)
    plain = unseal(sealed, password.value, shown, password.source)
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{shown}: the decrypted content is not UTF-8 text",
                       hint="only text is read from Ansible Vault") from None
