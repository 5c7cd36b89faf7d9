"""The environment a session starts with: an allow-list of harmless variables, never secrets.

Model-written code must not find an API key one ``os.environ`` away. Every backend (REPL,
Jupyter kernel, the kernels of a local gateway; sandboxed or not) starts its session with
:func:`scrub_env`: the variables named in :data:`SAFE_ENV_NAMES` or starting with one of
:data:`SAFE_ENV_PREFIXES`, minus anything :func:`looks_secret` (``*_API_KEY``, ``*TOKEN*``,
``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``, …), even when its name is allow-listed.

To give the session a variable on purpose, pass it: ``ReplBackend(env={"DATA_DIR": "/d"})``
merges ``env`` on top of the scrubbed environment, unfiltered (that is the deliberate way).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from .._errors import UsageError

__all__ = ["SAFE_ENV_NAMES", "SAFE_ENV_PREFIXES", "looks_secret", "scrub_env", "session_env"]

#: Variables a session inherits from this process (when they do not look secret).
SAFE_ENV_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "FORCE_COLOR",
        "TMPDIR",
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONHASHSEED",
        "PYTHONUTF8",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONWARNINGS",
        "PYTHONFAULTHANDLER",
        "PYTHONNOUSERSITE",
        "PYTHONSAFEPATH",
        "MPLBACKEND",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_MAX_THREADS",
    }
)
#: Name prefixes a session inherits (locale categories).
SAFE_ENV_PREFIXES = ("LC_",)

# A name that says key, token, password, secret, credential or auth, or a known cloud prefix.
_SECRET = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|CERT|SIGNATURE"
    r"|^AWS_|^AZURE_|^GCP_|^GCLOUD_|^GOOGLE_|^OPENAI_|^ANTHROPIC_|^HF_|^HUGGING|^GH_|^GITHUB_"
    r"|^NPM_|^PYPI_|^TWINE_|^DOCKER_|^KUBE|^VAULT_|^SSH_|^GPG_|^GNUPG|^NETRC|_PAT$|_PWD$|^PGPASS",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    """True when a variable's name suggests a key, token, password or credential path."""
    return bool(_SECRET.search(name))


def scrub_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed, non-secret variables of ``environ`` (default: this process's)."""
    source = os.environ if environ is None else environ
    return {
        name: value
        for name, value in source.items()
        if (name in SAFE_ENV_NAMES or name.startswith(SAFE_ENV_PREFIXES)) and not looks_secret(name)
    }


def session_env(
    env: Mapping[str, str] | None, *, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What a session starts with: :func:`scrub_env` of ``environ``, then ``env`` on top."""
    result = scrub_env(environ)
    if env is not None:
        for name, value in env.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise UsageError(f"env must map str to str, not {name!r}: {value!r}")
            result[name] = value
    return result
