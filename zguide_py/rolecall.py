"""Reading a role's command line: which role, which parameters, which endpoints.

``python -m zguide_py run PATTERN.ROLE ...`` and :func:`zguide_py.procs.process` both go through
:func:`resolve`. The role's source says which parameters it binds and which it connects (we read its
``sock.bind(x)`` / ``sock.connect(x)`` calls), so ``--bind``/``--connect`` are checked against what the
role really does, and the parameter name can be left out when only one endpoint fits::

    python -m zguide_py run paranoidpirate.queue --bind frontend=tcp://127.0.0.1:5555 --bind backend=5556
    python -m zguide_py run paranoidpirate.worker --connect tcp://127.0.0.1:5556 liveness=5

A tcp endpoint without a host (``5556``, ``:5556``, ``tcp://:5556``) means 127.0.0.1, this machine
only. A bind that is not loopback (``tcp://*:5555``, ``0.0.0.0``, ``tcp://0:5555``, ``tcp://0x0:5555``,
``tcp://[::ffff:0.0.0.0]:5555``, an interface name such as ``tcp://eth0:5555``, or any address that is
not 127.0.0.0/8 or ::1) is refused unless you add ``--all-interfaces``, and then it is done with a
warning: nothing here authenticates its peers. The host is resolved first, as libzmq resolves it, so
every spelling of "every interface" is caught.

Parameters whose names say they hold a secret (``password``, ``passwords``, ``secret``...: see
:func:`is_secret`) are shown as ``***`` wherever a command line or parameters are echoed.

:data:`CLI_DEFAULTS`: from the command line, heartbeats and liveness follow the specs and the guide's
own peers (Paranoid Pirate 1 s x 3, Majordomo 2.5 s x 3), so that our roles meet a guide peer with
no flags; the role functions keep the short values the notebooks use.
"""
from __future__ import annotations

import ast
import functools
import inspect
import ipaddress
import math
import os
import re
import shlex
import socket
import sys
import textwrap
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from . import patterns
from .events import MASK, is_secret, masked  # noqa: F401 - the one rule, in the core

#: Parameters with these names hold endpoints by the workbook's convention (the role's source is read
#: first; a name here only says "an endpoint, direction unknown" when the source does not tell).
ENDPOINT_NAMES = frozenset({"endpoint", "endpoints", "frontend", "backend", "broker", "servers", "snapshot",
                            "publisher", "collector", "sink", "sync", "statepub", "peer_statepub"})
ALL_INTERFACES = frozenset({"*", "0.0.0.0", "::", "[::]"})


class UsageError(ValueError):
    """A command line that cannot run: the message says what is wrong and how to put it right."""


# ---- values and endpoints ------------------------------------------------------------------------

def parse_value(text: str) -> Any:
    """A command-line value: a Python literal when it parses (``100``, ``2.5``, ``True``, ``['a']``),
    the string itself otherwise (``tcp://127.0.0.1:5555``)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def format_value(name: str, value: Any) -> str:
    """The inverse of :func:`parse_value`: the text that gives ``value`` back on a command line."""
    if isinstance(value, str) and value and parse_value(value) == value and type(parse_value(value)) is str:
        return value
    text = repr(value)
    try:
        same = parse_value(text) == value
    except Exception:  # noqa: BLE001 - an odd __eq__ means "no"
        same = False
    if not same:
        shown_value = MASK if is_secret(name) else repr(value)
        raise UsageError(f"parameter {name}={shown_value} cannot go on a command line: a process gets "
                         "numbers, strings, booleans, None, and lists or dicts of them")
    return text





def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped              # ::ffff:0.0.0.0 listens where 0.0.0.0 does
    return address


def _is_loopback(address) -> bool:
    """127.0.0.0/8 and ::1, nothing else."""
    return address.version == 4 and address in ipaddress.ip_network("127.0.0.0/8") or \
        address == ipaddress.IPv6Address("::1")


def _interface_is_loopback(name: str) -> bool:
    """Whether a network interface of this machine is the loopback one (IFF_LOOPBACK)."""
    try:
        with open(f"/sys/class/net/{name}/flags") as f:
            return bool(int(f.read().strip(), 16) & 0x8)
    except (OSError, ValueError):
        return name in ("lo", "lo0")


def _interfaces() -> set[str]:
    try:
        return {name for _, name in socket.if_nameindex()}
    except OSError:
        return set()


def _addresses(host: str, numeric_only: bool = False) -> list:
    """The addresses ``host`` resolves to (as libzmq's resolver would: ``0``, ``0x0``, ``0.0`` and
    ``000.000.000.000`` are all 0.0.0.0). socket.gaierror when it does not resolve."""
    flags = socket.AI_PASSIVE | (socket.AI_NUMERICHOST if numeric_only else 0)
    infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM, 0, flags)
    return list(dict.fromkeys(_ip(info[4][0]) for info in infos))


def _where_it_listens(host: str, local: bool) -> tuple[bool, str]:
    """For a bind to ``host``: (loopback only?, what it is in words). A UsageError when ``host`` is
    neither an address, a name that resolves, nor an interface of this machine (``local``: the check
    runs where the role will run; otherwise names that do not resolve here are taken as interfaces
    of the machine it runs on)."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if bare == "*":
        return False, "every network interface"
    if local and bare in _interfaces():         # libzmq tries interface names first
        if _interface_is_loopback(bare):
            return True, f"interface {bare} (loopback)"
        return False, f"the addresses of interface {bare}"
    try:
        addresses = _addresses(bare)
    except (socket.gaierror, UnicodeError, ValueError, OSError):
        if not local:
            return False, f"{bare!r} (an interface or address of the host it runs on)"
        raise UsageError(f"cannot bind to host {bare!r}: it is neither an address, a host name nor an "
                         "interface of this machine") from None
    if all(_is_loopback(a) for a in addresses):
        return True, "loopback"
    if any(a.is_unspecified for a in addresses):
        return False, "every network interface"
    return False, ", ".join(str(a) for a in addresses)


def check_endpoint(text: str, direction: str | None = None, all_interfaces: bool = False,
                   local: bool = True) -> tuple[str, str | None]:
    """Check one endpoint for a role run as a process; return it normalised, and a warning or None.

    ``direction`` is "bind", "connect" or None (unknown). A bare port, ``:PORT`` or ``tcp://:PORT``
    means ``tcp://127.0.0.1:PORT``; ``HOST:PORT`` means ``tcp://HOST:PORT``. The host is resolved:
    a bind that is not loopback only (127.0.0.0/8, ::1) needs ``all_interfaces``; a connect to a
    host that does not resolve is refused. ``local``: the role runs on this machine (a role run on a
    namespace host, :mod:`zguide_py.net`, resolves its own names)."""
    if not isinstance(text, str):
        raise UsageError(f"bad endpoint {text!r}: an endpoint is a string like tcp://127.0.0.1:5555")
    t = text.strip()
    if re.fullmatch(r":?\d+", t):
        t = "tcp://127.0.0.1:" + t.lstrip(":")
    elif "://" not in t:
        if re.fullmatch(r"[A-Za-z0-9_.-]+:\d+", t):
            t = "tcp://" + t
        else:
            raise UsageError(f"bad endpoint {text!r}: use tcp://HOST:PORT (or ipc://PATH on one machine)")
    scheme, rest = t.split("://", 1)
    if scheme == "inproc":
        raise UsageError(f"bad endpoint {text!r}: inproc:// only reaches sockets inside one process; "
                         "between processes use tcp://HOST:PORT (or ipc://PATH on one machine)")
    if scheme == "ipc":
        if not rest:
            raise UsageError(f"bad endpoint {text!r}: ipc:// needs a path, e.g. ipc:///tmp/queue.ipc")
        folder = os.path.dirname(rest) or "."
        if local and direction == "bind" and not rest.startswith("@") and not os.path.isdir(folder):
            raise UsageError(f"cannot bind {t}: folder {folder!r} does not exist")
        return t, None
    if scheme != "tcp":
        raise UsageError(f"bad endpoint {text!r}: transport {scheme!r} is not for roles run as processes; "
                         "use tcp://HOST:PORT or ipc://PATH")
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.%\w]+\]|[^:\[\]/\s]*):([^:/\s]*)", rest)
    if not match:
        raise UsageError(f"bad endpoint {text!r}: expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:5555")
    host, port = match.groups()
    host = host or "127.0.0.1"
    if not port.isdigit():
        raise UsageError(f"bad endpoint {text!r}: the port must be a number from 1 to 65535"
                         + (" (a random port '*' would be unknown to the peers that connect)" if port == "*" else ""))
    if not 1 <= int(port) <= 65535:
        raise UsageError(f"bad endpoint {text!r}: port {port} is not in 1..65535")
    endpoint = f"tcp://{host}:{int(port)}"
    target = host.rsplit(";", 1)[-1]            # connect's "source;target" form: the target is checked
    bare = target[1:-1] if target.startswith("[") and target.endswith("]") else target
    if direction != "bind":
        try:
            unspecified = bare == "*" or any(a.is_unspecified for a in _addresses(bare, numeric_only=True))
        except (socket.gaierror, UnicodeError, ValueError, OSError):
            unspecified = False                 # a name: resolved below
        if unspecified and direction == "connect":
            raise UsageError(f"bad endpoint {text!r}: cannot connect to {host!r} (every interface); name the "
                             f"host, e.g. tcp://127.0.0.1:{port}")
        if not unspecified:
            if direction == "connect" and local:
                try:
                    _addresses(bare)
                except (socket.gaierror, UnicodeError, ValueError, OSError):
                    raise UsageError(f"cannot connect to {endpoint}: host {bare!r} does not resolve "
                                     "(no such name or address)") from None
            return endpoint, None
    loopback, where = _where_it_listens(host, local)
    if loopback:
        return endpoint, None
    if not all_interfaces:
        raise UsageError(f"refusing to bind {endpoint} ({where}): anybody who can reach this machine could "
                         f"talk to this role. Bind tcp://127.0.0.1:{port} (this machine only), or add "
                         "--all-interfaces if you mean it")
    return endpoint, (f"warning: {endpoint} listens on {where}: anybody who can reach this machine "
                      "can connect, and nothing here checks who they are")


# ---- what a role binds and connects --------------------------------------------------------------

def role_params(fn: Callable) -> dict[str, inspect.Parameter]:
    """A role's parameters, without ``peer``."""
    return {n: p for n, p in inspect.signature(fn).parameters.items() if n != "peer"}


#: ast.parse while another thread also builds an AST can fail on CPython 3.11 with "SystemError: AST
#: constructor recursion depth mismatch" (python/cpython#106905; seen when roles start together on
#: namespace hosts). Ours parse one at a time, in the thread that makes a process role when it can
#: (``procs.warm``), and a parse that still meets the error is tried again.
_PARSING = threading.Lock()


def _parse(source: str) -> ast.Module:
    with _PARSING:
        for attempt in range(3):
            try:
                return ast.parse(source)
            except SystemError:
                if attempt == 2:
                    raise
    raise AssertionError("unreachable")



@functools.lru_cache(maxsize=None)
def _directions(fn: Callable, depth: int = 2) -> dict[str, frozenset[str]]:
    """{parameter: {"bind"/"connect"}} read from the role's source: ``x.bind(param)``,
    ``x.connect(param)``, a loop ``for e in param: x.connect(e)``, and the same one call deep
    (``helper(peer, param)`` where ``helper`` binds or connects its own parameter)."""
    try:
        tree = _parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return {}
    params = set(inspect.signature(fn).parameters) - {"peer"}
    alias: dict[str, str] = {p: p for p in params}
    for node in ast.walk(tree):              # loop variables over a parameter stand for it
        if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name) \
                and isinstance(node.iter, ast.Name) and node.iter.id in params:
            alias.setdefault(node.target.id, node.iter.id)
    found: dict[str, set[str]] = {}

    def name_of(arg: ast.AST) -> str | None:
        return alias.get(arg.id) if isinstance(arg, ast.Name) else None

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("bind", "connect") and node.args:
            name = name_of(node.args[0])
            if name:
                found.setdefault(name, set()).add(node.func.attr)
        elif depth > 0 and isinstance(node.func, ast.Name):
            callee = getattr(fn, "__globals__", {}).get(node.func.id)
            if not inspect.isfunction(callee) or callee is fn:
                continue
            callee_params = list(inspect.signature(callee).parameters)
            passed = [(callee_params[i], a) for i, a in enumerate(node.args) if i < len(callee_params)]
            passed += [(k.arg, k.value) for k in node.keywords if k.arg]
            inner = _directions(callee, depth - 1)
            for callee_param, arg in passed:
                name = name_of(arg)
                if name and callee_param in inner:
                    found.setdefault(name, set()).update(inner[callee_param])
    return {k: frozenset(v) for k, v in found.items()}


def endpoint_params(fn: Callable) -> dict[str, frozenset[str]]:
    """The role's endpoint parameters and what it does with each: {"endpoint": {"connect"}}.
    An empty set means "an endpoint, but the source does not say whether bound or connected"."""
    found = _directions(fn)
    return {name: found.get(name, frozenset()) for name in role_params(fn)
            if name in found or name in ENDPOINT_NAMES}


def describe_endpoints(fn: Callable) -> str:
    """'binds frontend, backend; connects sink' for ``list``."""
    eps = endpoint_params(fn)
    parts = []
    for word, flag in (("binds", "bind"), ("connects", "connect")):
        names = [n for n, d in eps.items() if d == {flag}]
        if names:
            parts.append(f"{word} {', '.join(names)}")
    either = [n for n, d in eps.items() if len(d) == 2]
    if either:
        parts.append(f"binds or connects {', '.join(either)}")
    unknown = [n for n, d in eps.items() if not d]
    if unknown:
        parts.append(f"endpoints {', '.join(unknown)}")
    return "; ".join(parts)


def _is_list(param: inspect.Parameter) -> bool:
    ann = param.annotation
    text = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
    return isinstance(text, str) and bool(re.match(r"(list|List|Iterable|Sequence|tuple)\b", text.strip()))


_SIMPLE_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "None": (type(None),)}


def _check_type(call: str, name: str, value: Any, param: inspect.Parameter, secret: bool = False) -> None:
    """Check a value against a simple annotation (``int``, ``float | None``, ``list[str]``...)."""
    ann = param.annotation
    if ann is inspect.Parameter.empty:
        return
    text = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
    allowed: list[type] = []
    for part in (p.strip() for p in str(text).split("|")):
        if part in _SIMPLE_TYPES:
            allowed += _SIMPLE_TYPES[part]
        elif re.match(r"(list|List|Iterable|Sequence|tuple)\b", part):
            allowed += [list, tuple]
        else:
            return                           # something richer: let the role judge
    if not isinstance(value, tuple(allowed)) or (isinstance(value, bool) and bool not in allowed):
        raise UsageError(f"bad parameters for {call}: {name} must be {text}, not "
                         f"{MASK + ' (a ' + type(value).__name__ + ')' if secret else repr(value)}")


def _plain_str(param: inspect.Parameter) -> bool:
    """True when a parameter's annotation is ``str`` (or ``str | None``): its text is taken as it is."""
    ann = param.annotation
    text = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
    return {p.strip() for p in str(text).split("|")} - {"None"} == {"str"}


#: Parameters that must be more than zero wherever a role has them (periods, timeouts, rates, bounds);
#: every other number must be zero or more. NaN and infinity are refused everywhere.
POSITIVE = frozenset({"heartbeat", "liveness", "interval_init", "interval_max", "reconnect", "timeout", "retry",
                      "ping_interval", "server_ttl", "patience", "poll", "rate", "connect_timeout",
                      "request_expiry", "max_services", "max_queue", "max_keys", "max_body", "keys", "rounds",
                      "window", "status_every", "startup_timeout"})
#: Parameters that must be more than zero in one role only (``interval`` is a heartbeat here, a pause elsewhere).
POSITIVE_IN = {"paranoidpirate.queue": frozenset({"interval"}), "paranoidpirate.worker": frozenset({"interval"})}


def _check_number(call: str, name: str, value: Any) -> None:
    """NaN and infinity never make sense; nor do negative numbers; nor zero where a period, a
    timeout, a rate or a bound is meant (a zero heartbeat busy-loops a core)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"bad parameters for {call}: {name} must be a finite number, not {value!r}")
    if value < 0:
        raise UsageError(f"bad parameters for {call}: {name} must not be negative, not {value!r}")
    if value == 0 and (name in POSITIVE or name in POSITIVE_IN.get(call, ())):
        raise UsageError(f"bad parameters for {call}: {name} must be more than 0, not {value!r}")


#: The command line's defaults, where they differ from the role function's: the specs' and the guide's
#: peers' heartbeats (6/PPP and ppqueue/ppworker: 1 s x 3, reconnect 1 s doubling up to 32 s; 7/MDP and
#: mdbroker/mdwrkapi: 2.5 s x 3, reconnect 2.5 s), so that a role started with no flags meets a guide
#: peer. Titanic's services are Majordomo workers. The notebooks pass their short values explicitly.
CLI_DEFAULTS: dict[str, dict[str, Any]] = {
    "paranoidpirate.queue": {"interval": 1.0, "liveness": 3},
    "paranoidpirate.worker": {"interval": 1.0, "liveness": 3, "interval_init": 1.0, "interval_max": 32.0},
    "majordomo.broker": {"heartbeat": 2.5, "liveness": 3},
    "majordomo.worker": {"heartbeat": 2.5, "liveness": 3, "reconnect": 2.5},
    "asyncpatterns.mdp_worker": {"heartbeat": 2.5, "liveness": 3, "reconnect": 2.5},
    "titanic.titanic_service": {"heartbeat": 2.5, "liveness": 3},
    # 12/CHP: HUGZ about once a second; the guide's Binary Star heartbeat is 1 s
    "clonepair.clonesrv5": {"hugz": 1.0},
    "clonepair.server": {"heartbeat": 1.0, "hugz": 1.0, "timeout": 2.0},
    "clonepair.client": {"server_ttl": 5.0, "timeout": 2.0},
}


# ---- a role call from a command line ---------------------------------------------------------------

@dataclass
class RoleCall:
    """A role with its parameters, checked: what ``run`` starts, and what :func:`process` spawns."""

    pattern: str
    role: str
    fn: Callable
    params: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    all_interfaces: bool = False
    defaulted: dict[str, Any] = field(default_factory=dict)    # CLI_DEFAULTS applied (not given)

    @property
    def target(self) -> str:
        return f"{self.pattern}.{self.role}"

    @property
    def secrets(self) -> dict[str, Any]:
        """The parameters that hold secrets (see :func:`is_secret`), with their values."""
        return {k: v for k, v in self.params.items() if v is not None and is_secret(k, self.fn)}

    def argv(self, name: str | None = None, every: float | None = None, supervised: bool = False,
             secrets: bool = True) -> list[str]:
        """The command line that runs this call as a process (``sys.executable -m zguide_py run ...``).
        ``secrets=False`` leaves the secret parameters out (:func:`secrets_env` carries them)."""
        eps = endpoint_params(self.fn)
        args = [sys.executable, "-m", "zguide_py", "run", self.target]
        for key, value in self.params.items():
            if not secrets and key in self.secrets:
                continue
            direction = eps.get(key)
            if direction and len(direction) == 1:
                values = list(value) if isinstance(value, (list, tuple)) else [value]
                if all(isinstance(v, str) for v in values):
                    for v in values:
                        args += [f"--{next(iter(direction))}", f"{key}={v}"]
                    continue
            args.append(f"{key}={value}" if isinstance(value, str) and is_secret(key, self.fn)
                        and _plain_str(role_params(self.fn)[key]) else f"{key}={format_value(key, value)}")
        if self.all_interfaces:
            args.append("--all-interfaces")
        if name:
            args += ["--name", name]
        if every is not None:
            args += ["--every", f"{every:g}"]
        if supervised:
            args += ["--json-status", "--stdin-control"]
        return args


def split_target(target: str, params: list[str] | None = None) -> tuple[str, str, list[str]]:
    """``PATTERN.ROLE`` (or the older ``PATTERN ROLE``) -> (pattern, role, remaining params)."""
    params = list(params or [])
    if "." in target:
        pattern, role = target.split(".", 1)
    else:
        pattern = target
        if not params or "=" in params[0]:
            known = ", ".join(patterns.roles(pattern))      # an unknown pattern raises here, first
            raise UsageError(f"which role of {pattern!r}? write PATTERN.ROLE, e.g. {pattern}.ROLE "
                             f"(its roles: {known})")
        role = params.pop(0)
    return pattern, role, params


def resolve(target: str, params: list[str] | None = None, binds: list[str] | None = None,
            connects: list[str] | None = None, all_interfaces: bool = False, cli_defaults: bool = True,
            secrets: dict[str, Any] | None = None, local: bool = True) -> RoleCall:
    """Check a command line against the role it names; a :class:`UsageError` says what is wrong.

    ``cli_defaults``: parameters not given take :data:`CLI_DEFAULTS` (the specs' heartbeats); with
    False they take the role function's own defaults, spelled out, so that the command line of the
    call says them (what :func:`zguide_py.procs.process` runs: a notebook's roles keep their values).
    ``secrets``: secret parameters given as values, not text (from :func:`secrets_env`'s variable).
    ``local``: the role runs on this machine (its hosts and folders can be checked here)."""
    try:
        pattern, role, items = split_target(target, params)
        fn = patterns.role(pattern, role)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    call = f"{pattern}.{role}"
    signature = role_params(fn)
    eps = endpoint_params(fn)
    values: dict[str, Any] = {}
    warnings: list[str] = []

    def unknown(name: str) -> UsageError:
        return UsageError(f"bad parameters for {call}: unknown parameter {name!r} "
                          f"(its parameters: {', '.join(signature) or 'none'})")

    for item in items:
        if "=" not in item:
            raise UsageError(f"bad parameters for {call}: {item!r} must look like name=value")
        key, text = item.split("=", 1)
        if key not in signature:
            raise unknown(key)
        if key in values:
            raise UsageError(f"bad parameters for {call}: {key} is given twice")
        # a secret text is taken as it is: a password "1234" stays a string
        values[key] = text if is_secret(key, fn) and _plain_str(signature[key]) else parse_value(text)
    for key, value in (secrets or {}).items():
        if key not in signature or not is_secret(key, fn):
            raise UsageError(f"bad parameters for {call}: {key!r} is not a secret parameter of {call}")
        if key in values:
            raise UsageError(f"bad parameters for {call}: {key} is given twice")
        values[key] = value

    for flag, given in (("bind", binds or []), ("connect", connects or [])):
        for item in given:
            name, _, text = item.partition("=") if re.match(r"[A-Za-z_]\w*=", item) else ("", "", item)
            if name:
                if name not in signature:
                    raise unknown(name)
                if name not in eps and _check_not_endpoint(signature[name]):
                    raise UsageError(f"--{flag} {item}: {name!r} is not an endpoint of {call} "
                                     f"(its endpoints: {', '.join(eps) or 'none'})")
            else:
                fits = [n for n, d in eps.items() if not d or flag in d]
                if len(fits) > 1:
                    raise UsageError(f"--{flag} {item}: {call} {flag}s {len(fits)} endpoints "
                                     f"({', '.join(fits)}): say which, e.g. --{flag} {fits[0]}={text}")
                if not fits and len(eps) != 1:
                    raise UsageError(f"--{flag} {item}: {call} {flag}s no endpoint"
                                     + (f" (its endpoints: {describe_endpoints(fn)})" if eps else ""))
                name = fits[0] if fits else next(iter(eps))   # the one endpoint, the wrong way: said below
            direction = eps.get(name, frozenset())
            if direction and flag not in direction:
                other = next(iter(direction))
                raise UsageError(f"--{flag} {item}: {call} {other}s {name!r}, it never {flag}s it: "
                                 f"use --{other} {name}={text}")
            endpoint, warning = check_endpoint(text, flag, all_interfaces, local)
            if warning:
                warnings.append(warning)
            if _is_list(signature[name]):
                values.setdefault(name, [])
                if not isinstance(values[name], list):
                    raise UsageError(f"bad parameters for {call}: {name} is given twice")
                values[name].append(endpoint)
            elif name in values:
                raise UsageError(f"bad parameters for {call}: {name} is given twice")
            else:
                values[name] = endpoint

    for name, direction in eps.items():         # endpoints given as name=value: the same checks
        if name not in values or values[name] is None:
            continue
        value = values[name]
        many = isinstance(value, (list, tuple))
        checked = []
        for v in (value if many else [value]):
            flag = next(iter(direction)) if len(direction) == 1 else None
            try:
                endpoint, warning = check_endpoint(v, flag, all_interfaces, local)
            except UsageError as exc:
                raise UsageError(f"{name}: {exc}") from None
            if warning and warning not in warnings:
                warnings.append(warning)
            checked.append(endpoint)
        values[name] = checked if many else checked[0]

    defaulted: dict[str, Any] = {}
    for name, value in CLI_DEFAULTS.get(call, {}).items():
        if name in signature and name not in values:
            if cli_defaults:
                values[name] = defaulted[name] = value
            elif signature[name].default is not inspect.Parameter.empty:
                values[name] = signature[name].default      # spelled out: the child takes no CLI default
    for name, value in values.items():
        _check_type(call, name, value, signature[name], is_secret(name, fn))
        _check_number(call, name, value)
    try:
        inspect.signature(fn).bind(None, **values)
    except TypeError as exc:
        missing = [n for n, p in signature.items() if p.default is inspect.Parameter.empty
                   and p.kind is not p.VAR_KEYWORD and p.kind is not p.VAR_POSITIONAL and n not in values]
        if missing:
            hints = []
            for n in missing:
                d = eps.get(n)
                flag = next(iter(d)) if d and len(d) == 1 else ("bind/--connect" if n in eps else None)
                hints.append(f"--{flag} {n}=tcp://127.0.0.1:PORT" if flag else f"{n}=VALUE")
            raise UsageError(f"bad parameters for {call}: missing {', '.join(missing)} "
                             f"(give {' '.join(hints)})") from None
        raise UsageError(f"bad parameters for {call}: {exc}") from None
    return RoleCall(pattern, role, fn, values, warnings, all_interfaces=bool(warnings),
                    defaulted=defaulted if cli_defaults else {})


def _check_not_endpoint(param: inspect.Parameter) -> bool:
    """True when a parameter's annotation says it cannot hold an endpoint (a number, a flag)."""
    ann = param.annotation
    text = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
    parts = {p.strip() for p in str(text).split("|")} - {"None"}
    return bool(parts) and parts <= {"int", "float", "bool"}


def shown(argv: list[str], fn: Callable | None = None) -> str:
    """A command line as you would type it (``python`` for this interpreter), every secret parameter
    (``password=...``) shown as ``password=***``."""
    words = ["python", *argv[1:]] if argv and argv[0] == sys.executable else list(argv)
    words = [f"{w.split('=', 1)[0]}={MASK}" if re.match(r"[A-Za-z_]\w*=", w) and is_secret(w.split("=", 1)[0], fn)
             else w for w in words]
    return shlex.join(words)


#: The environment variable that carries a child's secret parameters (JSON), off its command line.
SECRETS_ENV = "ZGUIDE_SECRET_PARAMS"
