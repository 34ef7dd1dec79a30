"""The agent's plain record classes keep the manners of the dataclasses they replaced:
keyword and positional constructors with the same defaults, equality, repr, hashing and
immutability where frozen, ``replace``."""
from __future__ import annotations

import copy
import pickle

import pytest

from mainsail.agent import protocol
from mainsail.agent.core import Context, Outcome
from mainsail.agent.ops.accounts import GroupEntry
from mainsail.agent.proc import Proc
from mainsail.agent.record import FrozenInstanceError
from mainsail.agent.spec import Arg, OpSpec, Ships, replaced


def test_a_frozen_record_compares_hashes_and_refuses_assignment() -> None:
    arg = Arg("name", doc="the name", aliases=("n",))
    assert arg == Arg("name", "str", None, (), ("n",), "the name")
    assert arg != Arg("name") and arg != ("name",)
    assert hash(arg) == hash(Arg("name", doc="the name", aliases=("n",)))
    assert len({arg, Arg("name", doc="the name", aliases=("n",)), Arg("other")}) == 2
    with pytest.raises(FrozenInstanceError):
        arg.doc = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del arg.name  # type: ignore[misc]
    with pytest.raises(AttributeError):
        arg.unknown = 1  # type: ignore[attr-defined]
    assert repr(arg) == ("Arg(name='name', type='str', default=None, choices=(), aliases=('n',), "
                         "doc='the name', operand='', var='')")


def test_replace_and_copies_keep_every_field() -> None:
    spec = OpSpec("op", "summary", (Arg("a", default=1),), "doc", ships=Ships("file", "src"),
                  provides=False)
    assert spec.replace(doc="other") == OpSpec("op", "summary", (Arg("a", default=1),), "other",
                                               ships=Ships("file", "src"), provides=False)
    assert replaced(Arg("a", default=1), doc="d") == Arg("a", default=1, doc="d")
    assert copy.deepcopy(spec) == spec and pickle.loads(pickle.dumps(spec)) == spec
    with pytest.raises(TypeError):
        spec.replace(nope=1)


def test_mutable_records_are_not_hashable_and_default_to_new_containers() -> None:
    outcome = Outcome()
    outcome.status = "changed"
    outcome.data["x"] = 1
    assert Outcome().data == {} and Outcome().data is not Outcome().data
    assert outcome == Outcome("changed", data={"x": 1})
    assert outcome.replace(msg="m") == Outcome("changed", "m", data={"x": 1})
    with pytest.raises(TypeError):
        hash(outcome)
    ctx = Context(check=True)
    assert ctx.replace(journal=None) == ctx and ctx.replace(diff=True).diff
    assert GroupEntry("g", 1).members == [] and GroupEntry("g", 1) == GroupEntry("g", 1, [])
    assert Proc(["true"], 0, "", "").cmd == "true"
    assert repr(Outcome()) == ("Outcome(status='ok', msg='', diff='', rc=None, stdout='', "
                               "stderr='', cmd=None, data={})")


def test_messages_keep_their_defaults() -> None:
    step = protocol.Step(1, "file")
    assert step.args == {} and step.extra == {} and step.notify == () and not step.later
    assert protocol.Step.from_wire(step.to_wire()) == step
    assert protocol.StepResult(1, "ok").data == {}
    assert protocol.Hello({}, "sha").protocol == protocol.VERSIONS
    assert protocol.NeedAgent() == protocol.NeedAgent()
    assert protocol.Done(True) == protocol.Done(failed=True, host="ok")
    with pytest.raises(FrozenInstanceError):
        step.op = "copy"  # type: ignore[misc]
