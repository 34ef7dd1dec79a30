"""Plain record classes with a dataclass's manners, for the agent's start path.

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``) and builds
each class's methods with ``exec``: about 25 ms of the host's CPU at every agent start. A
record here lists its fields as ``__slots__`` (in constructor order) and writes its own
``__init__``; this base gives it what a dataclass would: equality with a record of the same
class and equal fields, a repr naming the fields, ``replace`` (``dataclasses.replace``).
A :class:`Frozen` record refuses assignment and is hashable, as ``frozen=True`` makes a
dataclass. Stdlib only: this module runs on the host too (Python >= 3.8).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Tuple

if TYPE_CHECKING:  # a TypeVar with a bound compiles its string: 1 ms at every start
    from typing import TypeVar
    _R = TypeVar("_R", bound="Record")


class FrozenInstanceError(AttributeError):
    """An assignment to a field of a frozen record (as dataclasses' own)."""


class Record:
    """Mutable: equal field by field, not hashable (as ``@dataclass``)."""

    __slots__: Tuple[str, ...] = ()

    def _values(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()  # type: ignore[attr-defined]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "%s(%s)" % (self.__class__.__qualname__, ", ".join(
            "%s=%r" % (name, getattr(self, name)) for name in self.__slots__))

    def replace(self: _R, **changes: Any) -> _R:
        """A copy with some fields changed (``dataclasses.replace``)."""
        fields = dict(zip(self.__slots__, self._values()))
        fields.update(changes)
        return self.__class__(**fields)  # type: ignore[call-arg]

    def __reduce__(self) -> Any:  # copy and pickle: slots and a refused __setattr__
        return self.__class__, self._values()


class Frozen(Record):
    """Immutable and hashable by its fields (as ``@dataclass(frozen=True)``); its
    ``__init__`` sets every field at once with ``_fill``."""

    __slots__ = ()

    def _fill(self, *values: Any) -> None:
        """Every field's value, in ``__slots__`` order."""
        if len(values) != len(self.__slots__):
            raise TypeError("%s has %d fields, not %d"
                            % (self.__class__.__name__, len(self.__slots__), len(values)))
        for name, value in zip(self.__slots__, values):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError("cannot assign to field %r" % name)

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError("cannot delete field %r" % name)

    def __hash__(self) -> int:
        return hash(self._values())
