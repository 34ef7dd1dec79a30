"""yum_repository: loads for roles written for several distributions; fails clearly when run."""
from __future__ import annotations

from typing import Any, Mapping

from ..core import Context, Outcome, accept
from ..spec import Arg
from ._foreign import OTHER_TOOL, other_spec, refuse


def run(ctx: Context, args: Mapping[str, Any]) -> Outcome:
    return refuse(OTHER_TOOL["yum_repository"], accept(SPEC, args))


# The rest of Ansible's options, with its types, aliases and choices: a role that sets them
# loads (and is checked) here. Ansible writes each into the .repo file as given, a boolean as
# 1 or 0; `exclude` and `includepkgs` joined with spaces.
ARGS = (
    Arg("async", "bool", doc="download from this repository in parallel"),
    Arg("bandwidth", doc="the bandwidth `throttle` applies to, in bytes/second"),
    Arg("cost", doc="the relative cost of this repository"),
    Arg("countme", "bool", doc="add the weekly counting flag to a metalink/mirrorlist query"),
    Arg("deltarpm_metadata_percentage", doc="above this size of delta metadata (percent of "
                                            "the packages), it is not downloaded"),
    Arg("deltarpm_percentage", doc="above this size of a delta (percent of the package), "
                                   "it is not used"),
    Arg("enablegroups", "bool", doc="allow package groups from this repository"),
    Arg("exclude", "names", aliases=("excludepkgs",),
        doc="packages never installed or updated from this repository"),
    Arg("failovermethod", choices=("roundrobin", "priority"),
        doc="how the next URL is chosen after a failure"),
    Arg("gpgcakey", doc="the URL of the repository's CA key"),
    Arg("module_hotfixes", "bool", doc="make all of its packages available, modules aside"),
    Arg("http_caching", choices=("all", "packages", "none"),
        doc="which downloads HTTP caches may keep"),
    Arg("include", doc="a configuration file or URL inserted at this point"),
    Arg("includepkgs", "names", doc="the only packages taken from this repository"),
    Arg("ip_resolve", choices=("4", "6", "IPv4", "IPv6", "whatever"),
        doc="resolve host names to IPv4 or IPv6 addresses only"),
    Arg("keepalive", "bool", doc="use HTTP/1.1 keepalive"),
    Arg("keepcache", choices=("0", "1"), doc="keep headers and packages after installing"),
    Arg("metadata_expire", doc="seconds after which the metadata expires"),
    Arg("metadata_expire_filter", choices=("never", "read-only:past", "read-only:present",
                                           "read-only:future"),
        doc="when a command may use expired metadata"),
    Arg("metalink", doc="the URL of a metalink file for repomd.xml"),
    Arg("mirrorlist_expire", doc="seconds after which the cached mirror list expires"),
    Arg("password", doc="the password for `username` (a secret: see the notes)"),
    Arg("priority", doc="the repository's priority, 1 to 99"),
    Arg("protect", "bool", doc="protect its packages from other repositories' updates"),
    Arg("proxy", doc="the proxy's URL; `_none_`: no proxy"),
    Arg("proxy_password", doc="the proxy's password (a secret: see the notes)"),
    Arg("proxy_username", doc="the proxy's user name"),
    Arg("repo_gpgcheck", "bool", doc="check the signature of the repository's metadata"),
    Arg("reposdir", default="/etc/yum.repos.d", doc="the folder of the .repo file"),
    Arg("retries", doc="attempts before a download fails; 0: forever"),
    Arg("s3_enabled", "bool", doc="an S3 repository (yum's S3 plugin)"),
    Arg("skip_if_unavailable", "bool", doc="go on when the repository cannot be reached"),
    Arg("ssl_check_cert_permissions", "bool", doc="check the permissions of its TLS files"),
    Arg("sslcacert", aliases=("ca_cert",), doc="the CA certificates' folder"),
    Arg("sslclientcert", aliases=("client_cert",), doc="the TLS client certificate"),
    Arg("sslclientkey", aliases=("client_key",), doc="the TLS client key"),
    Arg("sslverify", "bool", aliases=("validate_certs",), doc="check TLS certificates"),
    Arg("throttle", doc="a download rate limit: bytes/second (k, M, G) or a percentage"),
    Arg("timeout", doc="seconds to wait for a connection"),
    Arg("ui_repoid_vars", doc="variables appended to the repository's id when shown"),
    Arg("username", doc="the user name for basic authentication"),
)

SPEC = other_spec("yum_repository", ARGS, more_notes="""
Notes:

* Every option of Ansible's `yum_repository` is accepted with Ansible's type (a boolean, a list
  of names, one of its choices, else text), so a role setting any of them loads and is
  checked; the task is still refused when it runs.
* `password` and `proxy_password` are secrets: arguments have no mark of their own here, so
  list the variables holding them under the task's `no_log` (or keep them in a vault file) to
  keep them out of plans and reports. The refusal's message names only the repository.
""")
