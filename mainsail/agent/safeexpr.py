"""A tiny, safe evaluator for changed_when / failed_when.

Expressions are parsed with ``ast`` and only a whitelist of node types is
evaluated by hand: comparisons, and/or/not, ``in``, constants, lists/tuples of
those, and the names rc, stdout, stderr, true/false/True/False/none/None.
Nothing is ever passed to eval(), so ``__import__('os')`` is a syntax the
evaluator simply refuses (a call), not something it runs.
"""
from __future__ import annotations

import ast
import operator
from typing import Any, Callable, Dict, Mapping

from .core import OpError

MAX_LENGTH = 1000

CONSTANT_NAMES = {"true": True, "false": False, "True": True, "False": False,
                  "none": None, "None": None}
VARIABLES = ("rc", "stdout", "stderr")

COMPARE_OPS: Dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}


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
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsafeExpression("cannot parse condition %r: %s" % (expr, exc.msg))
    except ValueError as exc:  # Python < 3.12 refuses NUL bytes this way
        raise UnsafeExpression("cannot parse condition %r: %s" % (expr, exc))
    return bool(_eval(tree.body, values, expr))


def _eval(node: ast.AST, values: Mapping[str, Any], expr: str) -> Any:
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
    raise UnsafeExpression("condition %r uses %s, which is not allowed" % (expr, type(node).__name__),
                           hint="use comparisons, and/or/not, in, constants and rc/stdout/stderr")


def _name(name: str, values: Mapping[str, Any], expr: str) -> Any:
    if name in CONSTANT_NAMES:
        return CONSTANT_NAMES[name]
    if name in VARIABLES:
        return values.get(name)
    raise UnsafeExpression("condition %r uses unknown name %r" % (expr, name),
                           hint="only rc, stdout and stderr are known")


def _boolop(node: ast.BoolOp, values: Mapping[str, Any], expr: str) -> Any:
    is_and = isinstance(node.op, ast.And)
    result = is_and
    for sub in node.values:  # short-circuit like Python does
        result = _eval(sub, values, expr)
        if bool(result) != is_and:
            return result
    return result


def _compare(node: ast.Compare, values: Mapping[str, Any], expr: str) -> bool:
    left = _eval(node.left, values, expr)
    for op, right_node in zip(node.ops, node.comparators):
        right = _eval(right_node, values, expr)
        try:
            if not COMPARE_OPS[type(op)](left, right):
                return False
        except TypeError as exc:
            raise UnsafeExpression("condition %r: %s" % (expr, exc))
        left = right
    return True
