"""A tiny, safe evaluator for changed_when / failed_when.

Expressions are parsed with ``ast`` and only a whitelist of node types is
evaluated by hand: comparisons, and/or/not, ``in``, constants, lists/tuples of
those, the names rc, stdout, stderr, stdout_lines, stderr_lines, true/false/True/
False/none/None, and ``result`` (the step's own result with Ansible's field names:
``result.rc``, ``result['stdout']``), plus Jinja-style filters ``| length``,
``| int``, ``| bool``, ``| lower``, ``| upper``, ``| trim``. The controller writes a
task's registered name as ``result`` (:func:`bind_register`).
Nothing is ever passed to eval(), so ``__import__('os')`` is a syntax the
evaluator simply refuses (a call), not something it runs.

``ast`` (and ``tokenize``, for the controller's :func:`bind_register`) are imported when first
needed: a condition that is a constant (``changed_when: false``) is answered without them, so
a no-op run of the agent does not load them.
"""
from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Tuple

from .core import OpError

if TYPE_CHECKING:
    import ast

MAX_LENGTH = 1000

CONSTANT_NAMES = {"true": True, "false": False, "True": True, "False": False,
                  "none": None, "None": None}
VARIABLES = ("rc", "stdout", "stderr", "stdout_lines", "stderr_lines", "result",
             "changed", "change", "failed", "failure", "succeeded", "success", "successful",
             "skipped", "defined", "undefined")
RESULT = "result"
FILTERS: Dict[str, Callable[[Any], Any]] = {
    "length": len, "count": len, "int": lambda v: int(v), "string": str, "lower": lambda v: str(v).lower(),
    "upper": lambda v: str(v).upper(), "trim": lambda v: str(v).strip(),
    "bool": lambda v: str(v).strip().lower() in ("1", "true", "yes", "on", "y")
    if not isinstance(v, bool) else v,
}


def _allowed_nodes() -> Tuple[type, ...]:
    """Node types the evaluator handles; the controller refuses others when the playbook
    loads (as ``ALLOWED_NODES``)."""
    import ast
    return (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
            ast.Compare, ast.cmpop, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
            ast.Attribute, ast.Subscript, getattr(ast, "Index", ast.Subscript), ast.BinOp,
            ast.BitOr)


_compare_ops: Dict[type, Callable[[Any, Any], bool]] = {}


def compare_ops() -> Dict[type, Callable[[Any, Any], bool]]:
    """The comparison node types and what they do (as ``COMPARE_OPS``), built once."""
    if not _compare_ops:
        import ast
        _compare_ops.update({
            ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
            ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
            ast.Is: operator.is_, ast.IsNot: operator.is_not,
        })
    return _compare_ops


def __getattr__(name: str) -> Any:
    # ALLOWED_NODES and COMPARE_OPS: built (and ast imported) on first use (PEP 562).
    if name == "ALLOWED_NODES":
        value = globals()[name] = _allowed_nodes()
        return value
    if name == "COMPARE_OPS":
        return compare_ops()
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def result_values(rc: Any, stdout: str, stderr: str, changed: bool = False,
                  failed: bool = False, msg: str = "") -> Dict[str, Any]:
    """The names a condition may use, for one step's outcome (``result`` has rc, stdout and
    stderr only when the op ran a program, as Ansible's results do)."""
    fields = {"rc": rc, "stdout": stdout, "stderr": stderr,
              "stdout_lines": stdout.splitlines(), "stderr_lines": stderr.splitlines()}
    result = dict(fields if rc is not None else {}, changed=changed, failed=failed,
                  skipped=False, msg=msg)
    return dict(fields, result=result)


def bind_register(expr: Any, name: str) -> Any:
    """``expr`` with the task's own registered name written as ``result`` (``out.rc`` ->
    ``result.rc``); attribute names and strings are left alone."""
    if not isinstance(expr, str) or not name or name not in expr:
        return expr
    import io
    import tokenize
    text = expr.strip()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return expr  # refused with its reason when evaluated
    starts = [0]
    for line in text.splitlines(True):
        starts.append(starts[-1] + len(line))
    pieces: List[str] = []
    done = 0
    previous = ""
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string == name and previous != ".":
            begin = starts[tok.start[0] - 1] + tok.start[1]
            pieces += [text[done:begin], RESULT]
            done = begin + len(name)
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = tok.string
    return "".join(pieces) + text[done:]


class UnsafeExpression(OpError):
    pass


def evaluate(expr: Any, values: Mapping[str, Any]) -> bool:
    """Truth of expr (a bool, or an expression string) given rc/stdout/stderr."""
    if isinstance(expr, bool):
        return expr
    if not isinstance(expr, str):
        raise UnsafeExpression("condition must be a string or boolean, got %r" % (expr,))
    if len(expr) > MAX_LENGTH:
        raise UnsafeExpression("condition is too long (%d characters)" % len(expr))
    text = expr.strip()
    if text in CONSTANT_NAMES:  # `changed_when: false`, templated to a string: nothing to parse
        return bool(CONSTANT_NAMES[text])
    import ast
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise UnsafeExpression("cannot parse condition %r: %s" % (expr, exc.msg))
    except ValueError as exc:  # Python < 3.12 refuses NUL bytes this way
        raise UnsafeExpression("cannot parse condition %r: %s" % (expr, exc))
    return bool(_eval(tree.body, values, expr))


def _eval(node: ast.AST, values: Mapping[str, Any], expr: str) -> Any:
    import ast
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if isinstance(node, ast.Name):
        return _name(node.id, values, expr)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(elt, values, expr) for elt in node.elts]
    if isinstance(node, ast.BoolOp):
        return _boolop(node, values, expr)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _eval(node.operand, values, expr)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand = _eval(node.operand, values, expr)
        if isinstance(operand, (int, float)) and not isinstance(operand, bool):
            return -operand
    if isinstance(node, ast.Compare):
        return _compare(node, values, expr)
    if isinstance(node, ast.Attribute):
        return _field(_eval(node.value, values, expr), node.attr, expr)
    if isinstance(node, ast.Subscript):
        return _subscript(node, values, expr)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _filter(node, values, expr)
    raise UnsafeExpression("condition %r uses %s, which is not allowed" % (expr, type(node).__name__),
                           hint="use comparisons, and/or/not, in, constants, rc/stdout/stderr "
                                "and result.<field>")


def _field(value: Any, key: Any, expr: str) -> Any:
    if isinstance(value, Mapping):
        if key not in value:
            raise UnsafeExpression("condition %r: the result has no field %r" % (expr, key),
                                   hint="fields: " + ", ".join(sorted(map(str, value))))
        return value[key]
    raise UnsafeExpression("condition %r: cannot take %r of %s" % (expr, key, type(value).__name__))


def _subscript(node: ast.Subscript, values: Mapping[str, Any], expr: str) -> Any:
    import ast
    index = node.slice
    if isinstance(index, getattr(ast, "Index", ())):  # Python 3.8
        index = index.value  # type: ignore[attr-defined]
    key = _eval(index, values, expr)
    target = _eval(node.value, values, expr)
    if isinstance(target, (list, str)) and isinstance(key, int) and not isinstance(key, bool):
        try:
            return target[key]
        except IndexError:
            raise UnsafeExpression("condition %r: index %d is out of range" % (expr, key))
    return _field(target, key, expr)


def _filter(node: ast.BinOp, values: Mapping[str, Any], expr: str) -> Any:
    import ast
    if not isinstance(node.right, ast.Name) or node.right.id not in FILTERS:
        raise UnsafeExpression("condition %r: only the filters %s are known"
                               % (expr, ", ".join(sorted(FILTERS))))
    try:
        return FILTERS[node.right.id](_eval(node.left, values, expr))
    except (TypeError, ValueError) as exc:
        raise UnsafeExpression("condition %r: %s" % (expr, exc))


def _name(name: str, values: Mapping[str, Any], expr: str) -> Any:
    if name in CONSTANT_NAMES:
        return CONSTANT_NAMES[name]
    if name in VARIABLES:
        return values.get(name)
    raise UnsafeExpression("condition %r uses unknown name %r" % (expr, name),
                           hint="known: " + ", ".join(VARIABLES))


def _boolop(node: ast.BoolOp, values: Mapping[str, Any], expr: str) -> Any:
    import ast
    is_and = isinstance(node.op, ast.And)
    result = is_and
    for sub in node.values:  # short-circuit like Python does
        result = _eval(sub, values, expr)
        if bool(result) != is_and:
            return result
    return result


# Ansible's tests on a result, written ``result is succeeded`` (Python reads `is NAME`).
RESULT_TESTS: Dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "changed": lambda r: bool(r.get("changed")), "change": lambda r: bool(r.get("changed")),
    "failed": lambda r: bool(r.get("failed")), "failure": lambda r: bool(r.get("failed")),
    "succeeded": lambda r: not r.get("failed"), "success": lambda r: not r.get("failed"),
    "successful": lambda r: not r.get("failed"), "skipped": lambda r: bool(r.get("skipped")),
}


def _is_test(node: ast.Compare, values: Mapping[str, Any], expr: str) -> Any:
    """``X is [not] TEST`` for a result test or defined/undefined; None when not one."""
    import ast
    if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Is, ast.IsNot)):
        return None
    right = node.comparators[0]
    if not isinstance(right, ast.Name) or right.id not in set(RESULT_TESTS) | {"defined",
                                                                              "undefined"}:
        return None
    if right.id in ("defined", "undefined"):
        try:
            _eval(node.left, values, expr)
            held = right.id == "defined"
        except UnsafeExpression:
            held = right.id == "undefined"
    else:
        left = _eval(node.left, values, expr)
        if not isinstance(left, Mapping):
            raise UnsafeExpression("condition %r: the %r test needs a result" % (expr, right.id))
        held = RESULT_TESTS[right.id](left)
    return held != isinstance(node.ops[0], ast.IsNot)


def _compare(node: ast.Compare, values: Mapping[str, Any], expr: str) -> bool:
    tested = _is_test(node, values, expr)
    if tested is not None:
        return bool(tested)
    left = _eval(node.left, values, expr)
    for op, right_node in zip(node.ops, node.comparators):
        right = _eval(right_node, values, expr)
        try:
            if not compare_ops()[type(op)](left, right):
                return False
        except TypeError as exc:
            raise UnsafeExpression("condition %r: %s" % (expr, exc))
        left = right
    return True
