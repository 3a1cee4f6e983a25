"""Reading a role's command line: which role, which parameters, which endpoints.

``python -m zguide_py run PATTERN.ROLE ...`` and :func:`zguide_py.procs.process` both go through
:func:`resolve`. The role's source says which parameters it binds and which it connects (we read its
``sock.bind(x)`` / ``sock.connect(x)`` calls), so ``--bind``/``--connect`` are checked against what the
role really does, and the parameter name can be left out when only one endpoint fits::

    python -m zguide_py run paranoidpirate.queue --bind frontend=tcp://127.0.0.1:5555 --bind backend=5556
    python -m zguide_py run paranoidpirate.worker --connect tcp://127.0.0.1:5556 liveness=5

A tcp endpoint without a host (``5556``, ``:5556``, ``tcp://:5556``) means 127.0.0.1, this machine
only. Binding every interface (``tcp://*:5555``, ``0.0.0.0``) is refused unless you add
``--all-interfaces``, and then it is done with a warning: nothing here authenticates its peers.
"""
from __future__ import annotations

import ast
import functools
import inspect
import re
import shlex
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

from . import patterns

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
        raise UsageError(f"parameter {name}={value!r} cannot go on a command line: a process gets "
                         "numbers, strings, booleans, None, and lists or dicts of them")
    return text


def check_endpoint(text: str, direction: str | None = None, all_interfaces: bool = False) -> tuple[str, str | None]:
    """Check one endpoint for a role run as a process; return it normalised, and a warning or None.

    ``direction`` is "bind", "connect" or None (unknown). A bare port, ``:PORT`` or ``tcp://:PORT``
    means ``tcp://127.0.0.1:PORT``; ``HOST:PORT`` means ``tcp://HOST:PORT``."""
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
        return t, None
    if scheme != "tcp":
        raise UsageError(f"bad endpoint {text!r}: transport {scheme!r} is not for roles run as processes; "
                         "use tcp://HOST:PORT or ipc://PATH")
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]/\s]*):([^:/\s]*)", rest)
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
    if host in ALL_INTERFACES:
        if direction == "connect":
            raise UsageError(f"bad endpoint {text!r}: cannot connect to {host!r}; name the host, "
                             f"e.g. tcp://127.0.0.1:{port}")
        if not all_interfaces:
            raise UsageError(f"refusing to bind {endpoint} on every network interface: anybody who can reach "
                             f"this machine could talk to this role. Bind tcp://127.0.0.1:{port} (this machine "
                             "only) or one interface's address, or add --all-interfaces if you mean it")
        return endpoint, (f"warning: {endpoint} listens on every network interface: anybody who can reach "
                          "this machine can connect, and nothing here checks who they are")
    return endpoint, None


# ---- what a role binds and connects --------------------------------------------------------------

def role_params(fn: Callable) -> dict[str, inspect.Parameter]:
    """A role's parameters, without ``peer``."""
    return {n: p for n, p in inspect.signature(fn).parameters.items() if n != "peer"}


@functools.lru_cache(maxsize=None)
def _directions(fn: Callable, depth: int = 2) -> dict[str, frozenset[str]]:
    """{parameter: {"bind"/"connect"}} read from the role's source: ``x.bind(param)``,
    ``x.connect(param)``, a loop ``for e in param: x.connect(e)``, and the same one call deep
    (``helper(peer, param)`` where ``helper`` binds or connects its own parameter)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
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


def _check_type(call: str, name: str, value: Any, param: inspect.Parameter) -> None:
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
        raise UsageError(f"bad parameters for {call}: {name} must be {text}, not {value!r}")


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

    @property
    def target(self) -> str:
        return f"{self.pattern}.{self.role}"

    def argv(self, name: str | None = None, every: float | None = None, supervised: bool = False) -> list[str]:
        """The command line that runs this call as a process (``sys.executable -m zguide_py run ...``)."""
        eps = endpoint_params(self.fn)
        args = [sys.executable, "-m", "zguide_py", "run", self.target]
        for key, value in self.params.items():
            direction = eps.get(key)
            if direction and len(direction) == 1:
                values = list(value) if isinstance(value, (list, tuple)) else [value]
                if all(isinstance(v, str) for v in values):
                    for v in values:
                        args += [f"--{next(iter(direction))}", f"{key}={v}"]
                    continue
            args.append(f"{key}={format_value(key, value)}")
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
            connects: list[str] | None = None, all_interfaces: bool = False) -> RoleCall:
    """Check a command line against the role it names; a :class:`UsageError` says what is wrong."""
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
        values[key] = parse_value(text)

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
            endpoint, warning = check_endpoint(text, flag, all_interfaces)
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
            flag = next(iter(direction)) if len(direction) == 1 else ("bind" if isinstance(v, str) and
                                                                       re.search(r"//(\*|0\.0\.0\.0):", v) else None)
            try:
                endpoint, warning = check_endpoint(v, flag, all_interfaces)
            except UsageError as exc:
                raise UsageError(f"{name}: {exc}") from None
            if warning and warning not in warnings:
                warnings.append(warning)
            checked.append(endpoint)
        values[name] = checked if many else checked[0]

    for name, value in values.items():
        _check_type(call, name, value, signature[name])
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
    return RoleCall(pattern, role, fn, values, warnings, all_interfaces=bool(warnings))


def _check_not_endpoint(param: inspect.Parameter) -> bool:
    """True when a parameter's annotation says it cannot hold an endpoint (a number, a flag)."""
    ann = param.annotation
    text = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
    parts = {p.strip() for p in str(text).split("|")} - {"None"}
    return bool(parts) and parts <= {"int", "float", "bool"}


def shown(argv: list[str]) -> str:
    """A command line as you would type it (``python`` for this interpreter)."""
    return shlex.join(["python", *argv[1:]] if argv and argv[0] == sys.executable else argv)
