"""Encrypted variables files: the file format, the key, the password, and editing in place.

A vault file is one ASCII header line, then base64 (76 columns) of salt + nonce + ciphertext::

    $MAINSAIL_VAULT;1;scrypt;n=131072,r=8,p=1;aes256gcm
    q2Nw...

The key is scrypt(password, salt) with the parameters written in the header, so they can be
raised later without breaking older files; the cipher is AES-256-GCM with the header line as
associated data, so changing any byte of the header (weaker parameters, say) fails exactly like
changing the ciphertext. Plaintext exists only in memory, except during ``edit``, when it sits
in a 0600 file inside a private folder on a memory file system where there is one.

Every string read from a vault file becomes a :class:`Secret`: its ``repr`` is ``'***'`` and the
plan and the reports mask its text wherever it would be shown.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import getpass
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from .errors import BadInput

HEADER_PREFIX = "$MAINSAIL_VAULT;"
ANSIBLE_PREFIX = "$ANSIBLE_VAULT;"
VERSION = "1"
KDF = "scrypt"
CIPHER = "aes256gcm"
SALT_BYTES, NONCE_BYTES, KEY_BYTES, TAG_BYTES = 16, 12, 32, 16
LINE_WIDTH = 76
ENV_PASSWORD = "MAINSAIL_VAULT_PASSWORD"
ENV_PASSWORD_FILE = "MAINSAIL_VAULT_PASSWORD_FILE"
#: Shorter values are not treated as secrets: masking every "no" or "80" would wreck output.
MIN_SECRET_LENGTH = 3
_HEADER = re.compile(r"\$MAINSAIL_VAULT;(?P<version>[^;]*);(?P<kdf>[^;]*);(?P<params>[^;]*);"
                     r"(?P<cipher>[^;]*)")
_PARAMS = re.compile(r"n=(?P<n>\d{1,9}),r=(?P<r>\d{1,3}),p=(?P<p>\d{1,3})")
# A header is read before anything is authenticated: bound what it may ask for, so a crafted
# file cannot make us allocate gigabytes or spin for minutes.
_MAX_KDF_MEMORY = 1 << 30
_ALTERED = "wrong vault password or the file was altered"


class Secret(str):
    """A string from an encrypted file. Its repr is masked, so error messages and debug output
    that quote a value with ``%r`` / ``!r`` never show it; ``str()`` still gives the value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


class SecretInt(int):
    """A whole number from an encrypted file (a PIN, a port kept private): a secret too. Its
    repr is masked; ``str()``, formatting and JSON still give the number."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "***"

    def __str__(self) -> str:
        return int.__repr__(self)


class SecretFloat(float):
    """A number with a fraction from an encrypted file; masked like :class:`SecretInt`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "***"

    def __str__(self) -> str:
        return float.__repr__(self)


#: Every type a value from an encrypted file may take (booleans and null carry no secret).
SECRET_TYPES = (Secret, SecretInt, SecretFloat)


def as_secret(value: Any) -> Any:
    """``value`` marked as a secret when it is a string or a number; anything else as is."""
    if isinstance(value, SECRET_TYPES) or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return Secret(value)
    if isinstance(value, int):
        return SecretInt(value)
    if isinstance(value, float):
        return SecretFloat(value)
    return value


# ---------------------------------------------------------------------------- format

@dataclass(frozen=True)
class KdfParams:
    """scrypt's cost: ``n`` (CPU/memory, a power of two), ``r`` (block size), ``p`` (lanes).

    The default is OWASP's recommendation for scrypt: 2**17 x 8 x 128 bytes = 128 MiB of memory
    per derivation, about 0.4 s on one core (Ansible Vault: 10,000 rounds of PBKDF2, which
    needs no memory and which one GPU tries hundreds of thousands of times per second)."""

    n: int = 2 ** 17
    r: int = 8
    p: int = 1

    @property
    def field(self) -> str:
        return f"n={self.n},r={self.r},p={self.p}"

    @property
    def memory(self) -> int:
        return 128 * self.r * (self.n + self.p)

    def check(self, shown: str) -> "KdfParams":
        sane = (self.n >= 2 ** 10 and self.n & (self.n - 1) == 0 and 1 <= self.r <= 32
                and 1 <= self.p <= 16 and self.memory <= _MAX_KDF_MEMORY)
        if not sane:
            raise BadInput(f"cannot decrypt {shown}: the vault header asks for unusable scrypt "
                           f"parameters ({self.field})", hint="the header line was altered")
        return self

    def at_least(self, other: "KdfParams") -> "KdfParams":
        """The stronger of each parameter: re-encrypting never weakens a file."""
        return KdfParams(max(self.n, other.n), max(self.r, other.r), max(self.p, other.p))


DEFAULT_KDF = KdfParams()


@dataclass(frozen=True)
class Sealed:
    """A vault file, parsed but not decrypted."""

    header: str
    params: KdfParams
    salt: bytes
    nonce: bytes
    ciphertext: bytes


def header_for(params: KdfParams) -> str:
    return f"{HEADER_PREFIX}{VERSION};{KDF};{params.field};{CIPHER}"


def is_encrypted(text: str) -> bool:
    """Whether ``text`` is a Mainsail vault file."""
    return text.startswith(HEADER_PREFIX)


def refuse_ansible_vault(text: str, shown: str) -> None:
    if text.startswith(ANSIBLE_PREFIX):
        raise BadInput("this is an Ansible Vault file; it is read as it is", shown,
                       "inv vault.import FILE re-encrypts it in Mainsail's format")


def parse(text: str, shown: str) -> Sealed:
    """Header and payload of a vault file; BadInput naming the file when it is damaged."""
    header, _, body = text.partition("\n")
    header = header.rstrip()
    match = _HEADER.fullmatch(header)
    if not match:
        raise BadInput(f"cannot decrypt {shown}: the vault header line is damaged",
                       hint=f"it should look like {header_for(DEFAULT_KDF)}")
    found = (match["version"], match["kdf"], match["cipher"])
    if found != (VERSION, KDF, CIPHER):
        raise BadInput(f"cannot decrypt {shown}: unknown vault format "
                       f"{';'.join(found)} (this Mainsail reads {VERSION};{KDF};{CIPHER})",
                       hint="a newer Mainsail wrote it, or the header line was altered")
    params = _params(match["params"], shown).check(shown)
    payload = _payload(body, shown)
    return Sealed(header, params, payload[:SALT_BYTES],
                  payload[SALT_BYTES:SALT_BYTES + NONCE_BYTES],
                  payload[SALT_BYTES + NONCE_BYTES:])


def _params(text: str, shown: str) -> KdfParams:
    match = _PARAMS.fullmatch(text)
    if not match:
        raise BadInput(f"cannot decrypt {shown}: the vault header's scrypt parameters "
                       f"{text!r} are damaged", hint="the header line was altered")
    return KdfParams(int(match["n"]), int(match["r"]), int(match["p"]))


def _payload(body: str, shown: str) -> bytes:
    try:
        data = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadInput(f"cannot decrypt {shown}: the encrypted text is not valid base64",
                       hint="the file was altered or cut short") from None
    if len(data) < SALT_BYTES + NONCE_BYTES + TAG_BYTES:
        raise BadInput(f"cannot decrypt {shown}: the encrypted text is too short",
                       hint="the file was altered or cut short")
    return data


def derive_key(password: bytes, salt: bytes, params: KdfParams) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    return Scrypt(salt=salt, length=KEY_BYTES, n=params.n, r=params.r, p=params.p) \
        .derive(password)


def seal(plain: bytes, key: bytes, salt: bytes, params: KdfParams) -> str:
    """The vault file text for ``plain`` under ``key`` (derived from ``salt`` and ``params``)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    header = header_for(params)
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plain, header.encode("ascii"))
    body = base64.b64encode(salt + nonce + sealed).decode("ascii")
    lines = [body[i:i + LINE_WIDTH] for i in range(0, len(body), LINE_WIDTH)]
    return "\n".join([header, *lines]) + "\n"


def unseal(sealed: Sealed, key: bytes, shown: str, source: str = "") -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    try:
        return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext,
                                   sealed.header.encode("ascii"))
    except InvalidTag:
        hint = f"the password came from {source}" if source else ""
        raise BadInput(f"cannot decrypt {shown}: {_ALTERED}", hint=hint) from None


def encrypt(plain: bytes, password: bytes, params: KdfParams = DEFAULT_KDF) -> str:
    """Encrypt with a fresh salt and nonce; the building block the keyring uses too."""
    salt = os.urandom(SALT_BYTES)
    return seal(plain, derive_key(password, salt, params), salt, params)


def decrypt(text: str, password: bytes, shown: str = "<vault>") -> bytes:
    sealed = parse(text, shown)
    return unseal(sealed, derive_key(password, sealed.salt, sealed.params), shown)


# ---------------------------------------------------------------------------- the password

@dataclass(frozen=True)
class Password:
    value: bytes
    source: str  # where it came from, for hints; never the value


class Keyring:
    """Where the password comes from, asked at most once, and the keys derived from it.

    Order: ``--vault-password-file``, ``$MAINSAIL_VAULT_PASSWORD_FILE``,
    ``$MAINSAIL_VAULT_PASSWORD``, ``mainsail.vault_password_file`` in invoke.yaml, then a
    prompt when stdin is a terminal. The environment beats the config file so CI can set a
    password even when the project's invoke.yaml names a file that only exists on laptops.
    """

    def __init__(self, password_file: str | None = None,
                 configured_file: str | Callable[[], str | None] | None = None) -> None:
        self.password_file = password_file
        # The settings' file, or how to find it (read only when a password is needed).
        self.configured_file = configured_file
        self._password: Password | None = None
        self._keys: dict[tuple[bytes, KdfParams], bytes] = {}
        # One derivation at a time: each takes 128 MiB, and plans are built in 20 threads.
        self._lock = threading.Lock()

    def password(self, shown: str, *, confirm: bool = False) -> Password:
        with self._lock:
            if self._password is None:
                self._password = self._find(shown, confirm)
            return self._password

    def key(self, salt: bytes, params: KdfParams, shown: str) -> tuple[bytes, str]:
        password = self.password(shown)
        with self._lock:
            if (salt, params) not in self._keys:
                self._keys[(salt, params)] = derive_key(password.value, salt, params)
            return self._keys[(salt, params)], password.source

    def _find(self, shown: str, confirm: bool) -> Password:
        if self.password_file:
            return _from_file(self.password_file, "--vault-password-file")
        if os.environ.get(ENV_PASSWORD_FILE):
            return _from_file(os.environ[ENV_PASSWORD_FILE], ENV_PASSWORD_FILE)
        if os.environ.get(ENV_PASSWORD):
            return Password(os.environ[ENV_PASSWORD].encode("utf-8"), ENV_PASSWORD)
        configured = self.configured_file() if callable(self.configured_file) else \
            self.configured_file
        if configured:
            return _from_file(configured, "mainsail.vault_password_file or ansible.cfg")
        if _interactive():
            return _prompt(confirm)
        raise BadInput(f"{shown} needs the vault password and none was given",
                       hint=f"set {ENV_PASSWORD} (CI), {ENV_PASSWORD_FILE} or "
                            "--vault-password-file FILE, or run in a terminal to be asked")


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # stdin closed
        return False


def _from_file(name: str, source: str) -> Password:
    path = Path(name).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput("vault password file not found", f"{source} {name}") from None
    except OSError as exc:
        raise BadInput(f"vault password file cannot be read ({exc.strerror})",
                       f"{source} {name}") from None
    _warn_if_open(path, source)
    # Editors and `echo x > file` add a final newline that is not part of the password.
    value = data[:-2] if data.endswith(b"\r\n") else data.removesuffix(b"\n")
    if not value:
        raise BadInput("vault password file is empty", f"{source} {name}")
    return Password(value, f"{source} {name}")


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_if_open(path: Path, source: str) -> None:
    """A password file others may read gives the vault away: say so, once per file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if not mode & 0o044:
        return
    with _warned_lock:
        if str(path) in _warned:
            return
        _warned.add(str(path))
    readers = "everyone" if mode & 0o004 else "its group"
    sys.stderr.write(f"warning: the vault password file {path} ({source}) is readable by "
                     f"{readers} (mode {mode & 0o777:o}); run: chmod 600 {shlex.quote(str(path))}"
                     "\n")
    sys.stderr.flush()


def _prompt(confirm: bool) -> Password:
    try:
        first = getpass.getpass("Vault password: ")
        if confirm and getpass.getpass("Vault password (again): ") != first:
            raise BadInput("the two vault passwords differ", "prompt", "type the same one twice")
    except EOFError:
        raise BadInput("no vault password typed", "prompt") from None
    if not first:
        raise BadInput("the vault password is empty", "prompt")
    return Password(first.encode("utf-8"), "the prompt")


class Vault:
    """One run's vault: where its password comes from (asked at most once), the keys derived
    from it, and every value it decrypted (so the run can mask them in anything it prints).

    Made by the command and passed down to whatever reads files; nothing is kept per process.
    """

    def __init__(self, password_file: str | None = None,
                 configured_file: str | Callable[[], str | None] | None = None) -> None:
        self.keyring = Keyring(password_file, configured_file)
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, values: Iterable[str]) -> None:
        """Record decrypted values, so a last-resort mask covers any text the run prints."""
        with self._lock:
            self._secrets.update(str(v) for v in values if len(v) >= MIN_SECRET_LENGTH)

    def secrets(self) -> tuple[str, ...]:
        """Every value this vault decrypted so far."""
        with self._lock:
            return tuple(sorted(self._secrets))


def decrypt_text(text: str, shown: str, vault: Vault) -> str:
    """The plaintext of a vault file read from ``shown``, with the run's password."""
    sealed = parse(text, shown)
    key, source = vault.keyring.key(sealed.salt, sealed.params, shown)
    plain = unseal(sealed, key, shown, source)
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{shown}: the decrypted content is not UTF-8 text",
                       hint="only text (YAML) files are meant to be encrypted") from None


def encrypt_text(plain: str, shown: str, vault: Vault, *, params: KdfParams = DEFAULT_KDF,
                 confirm: bool = False) -> str:
    salt = os.urandom(SALT_BYTES)
    password = vault.keyring.password(shown, confirm=confirm)
    return seal(plain.encode("utf-8"), derive_key(password.value, salt, params), salt, params)


# ---------------------------------------------------------------------------- secrets

def secret_texts(value: Any) -> Iterator[str]:
    """The text of every secret inside ``value`` (mappings and lists walked): a
    :class:`Secret` itself, a secret number as it prints."""
    if isinstance(value, Secret):
        yield value
    elif isinstance(value, (SecretInt, SecretFloat)):
        yield str(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secret_texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from secret_texts(item)


# ---------------------------------------------------------------------------- files

def read_sealed(path: Path, shown: str) -> str:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise BadInput("file not found", shown) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the file ({getattr(exc, 'strerror', None) or exc})",
                       shown) from None
    if text.startswith(ANSIBLE_PREFIX):
        raise BadInput("this is an Ansible Vault file", shown,
                       "inv vault.import FILE re-encrypts it in Mainsail's format first")
    if not is_encrypted(text):
        raise BadInput("file is not encrypted", shown, "inv vault.encrypt FILE encrypts it")
    return text


def encrypt_file(path: Path, shown: str, vault: Vault,
                 validate: Callable[[str], None] | None = None) -> None:
    """Encrypt a plaintext file in place (atomically, keeping its mode)."""
    try:
        plain = path.read_text("utf-8")
    except FileNotFoundError:
        raise BadInput("file not found", shown) from None
    except (OSError, UnicodeDecodeError):
        raise BadInput("cannot read the file as UTF-8 text", shown) from None
    if is_encrypted(plain):
        raise BadInput("file is already encrypted", shown, "inv vault.edit FILE changes it")
    refuse_ansible_vault(plain, shown)
    if validate:
        validate(plain)
    write_atomic(path, encrypt_text(plain, shown, vault, confirm=True).encode("ascii"), shown)


def decrypt_file(path: Path, shown: str, vault: Vault) -> None:
    """Replace a vault file by its plaintext (atomically, keeping its mode)."""
    write_atomic(path, decrypt_text(read_sealed(path, shown), shown, vault).encode("utf-8"), shown)


def view_file(path: Path, shown: str, vault: Vault) -> str:
    """The plaintext of a Mainsail or an Ansible Vault file."""
    from . import ansible_vault
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""  # read_sealed names the problem
    if ansible_vault.is_ansible_vault(text):
        return ansible_vault.decrypt_text(text, shown, vault)
    return decrypt_text(read_sealed(path, shown), shown, vault)


def edit_file(path: Path, shown: str, editor: str, vault: Vault) -> str | None:
    """Decrypt to a private temp file, run ``editor`` on it, re-encrypt if it changed.

    A missing file is created. Returns the new plaintext, or None when nothing changed (the
    file is then left as it was, so an unchanged edit makes no diff in version control).
    """
    if not path.parent.is_dir():
        raise BadInput("no such folder", str(path.parent), "create it first")
    text = read_sealed(path, shown) if path.exists() else None
    sealed = parse(text, shown) if text is not None else None
    before = decrypt_text(text, shown, vault) if text is not None else ""
    with private_copy(path.name, before) as tmp:
        run_editor(editor, tmp, shown)
        try:
            after = tmp.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            raise BadInput(f"the edited text is not UTF-8; {shown} is unchanged") from None
    if sealed and after == before:
        return None
    params = sealed.params.at_least(DEFAULT_KDF) if sealed else DEFAULT_KDF
    write_atomic(path, encrypt_text(after, shown, vault, params=params, confirm=sealed is None)
                 .encode("ascii"), shown)
    return after


def import_file(path: Path, shown: str, vault: Vault,
                validate: Callable[[str], None] | None = None) -> None:
    """Re-encrypt an Ansible Vault file, or a YAML file holding inline ``!vault`` values, in
    Mainsail's format, in place, with the same password (atomically, keeping its mode)."""
    from . import ansible_vault
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise BadInput("file not found", shown) from None
    except (OSError, UnicodeDecodeError):
        raise BadInput("cannot read the file as UTF-8 text", shown) from None
    if is_encrypted(text):
        raise BadInput("file is already in Mainsail's vault format", shown,
                       "inv vault.rekey changes its password")
    if ansible_vault.is_ansible_vault(text):
        plain = ansible_vault.decrypt_text(text, shown, vault)
    else:
        plain = ansible_vault.open_inline_values(text, shown, vault)
    if plain is None:
        raise BadInput("file is neither an Ansible Vault file nor holds !vault values", shown,
                       "inv vault.encrypt FILE encrypts a plaintext file")
    if validate:
        validate(plain)
    write_atomic(path, encrypt_text(plain, shown, vault).encode("ascii"), shown)


# Folders never searched for vault files to rekey.
_SKIPPED_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".tox",
                           ".testbed", ".mypy_cache", ".pytest_cache"})


def project_vault_files(root: Path) -> list[Path]:
    """Every file under ``root`` in Mainsail's vault format (hidden and tool folders skipped)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            try:
                with open(path, "rb") as handle:
                    head = handle.read(len(HEADER_PREFIX))
            except OSError:
                continue
            if head == HEADER_PREFIX.encode("ascii"):
                found.append(path)
    return found


def new_password(password_file: str | None) -> bytes:
    """The password rekey changes to: from a file, else typed twice on a terminal."""
    if password_file:
        return _from_file(password_file, "--new-vault-password-file").value
    if not _interactive():
        raise BadInput("vault.rekey needs the new password and none was given",
                       hint="give --new-vault-password-file FILE, or run in a terminal")
    first = getpass.getpass("New vault password: ")
    if not first:
        raise BadInput("the new vault password is empty", "prompt")
    if getpass.getpass("New vault password (again): ") != first:
        raise BadInput("the two new vault passwords differ", "prompt", "type the same one twice")
    return first.encode("utf-8")


def rekey_files(files: list[tuple[Path, str]], vault: Vault, password: bytes) -> None:
    """Re-encrypt every file with ``password``, all or none: each is decrypted with the old
    password and its new text written beside it first; only then are they renamed into
    place, and a rename that fails puts back the files already renamed."""
    texts = []
    for path, shown in files:
        old = read_sealed(path, shown)
        params = parse(old, shown).params.at_least(DEFAULT_KDF)
        plain = decrypt_text(old, shown, vault).encode("utf-8")
        salt = os.urandom(SALT_BYTES)
        texts.append((path, shown, old, seal(plain, derive_key(password, salt, params), salt,
                                             params)))
    staged: list[tuple[Path, str, str, str]] = []
    try:
        for path, shown, old, new in texts:
            staged.append((path, shown, old, _stage(path, new.encode("ascii"), shown)))
        _swap_all(staged)
    finally:
        for _, _, _, tmp in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _stage(path: Path, data: bytes, shown: str) -> str:
    """``data`` in a synced temp file beside ``path``, with its mode; the temp file's name."""
    try:
        mode = path.stat().st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        return tmp
    except OSError as exc:
        raise BadInput(f"cannot write beside the file ({exc.strerror or exc}); no file was "
                       "changed", shown) from None


def _swap_all(staged: list[tuple[Path, str, str, str]]) -> None:
    done: list[tuple[Path, str, str]] = []
    for path, shown, old, tmp in staged:
        try:
            os.replace(tmp, path)
        except OSError as exc:
            for back, back_shown, back_old in reversed(done):
                write_atomic(back, back_old.encode("ascii"), back_shown)
            raise BadInput(f"cannot replace the file ({exc.strerror or exc}); the files "
                           "already rekeyed were put back, none changed", shown) from None
        done.append((path, shown, old))


def private_dir_base() -> str | None:
    """A memory-backed folder for plaintext, so it never reaches a disk: the user's runtime
    folder or /dev/shm when usable, else the system's temp folder."""
    for base in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if base and os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            return base
    return None


@contextlib.contextmanager
def private_copy(name: str, text: str) -> Iterator[Path]:
    """``text`` in a 0600 file (same name, for the editor's syntax colouring) inside a fresh
    0700 folder, removed with everything the editor left there (swap, backup) on any exit."""
    folder = Path(tempfile.mkdtemp(prefix="mainsail-vault-", dir=private_dir_base()))
    try:
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def editor_command() -> str:
    return os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"


def run_editor(editor: str, path: Path, shown: str) -> None:
    try:
        argv = shlex.split(editor)
    except ValueError:
        argv = []
    if not argv:
        raise BadInput(f"cannot run the editor {editor!r}", "EDITOR", "set EDITOR, e.g. nano")
    try:
        done = subprocess.run([*argv, str(path)], check=False)
    except OSError as exc:
        raise BadInput(f"cannot run the editor {argv[0]!r} ({exc.strerror})", "EDITOR",
                       "set EDITOR to an installed editor, e.g. EDITOR=nano") from None
    if done.returncode != 0:
        raise BadInput(f"the editor exited with status {done.returncode}; {shown} is unchanged")


def write_atomic(path: Path, data: bytes, shown: str) -> None:
    """Temp file beside ``path``, fsync, same mode as the old file, rename: readers see the old
    or the new file, never half of one."""
    try:
        _replace(path, data)
    except OSError as exc:
        raise BadInput(f"cannot write the file ({exc.strerror or exc})", shown) from None


def _replace(path: Path, data: bytes) -> None:
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
