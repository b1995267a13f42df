"""civic.rpc.SignatureKnown: the signature worked out once gives nameko's verdicts."""

import functools
from types import SimpleNamespace

import pytest
from nameko.exceptions import IncorrectSignature
from nameko.extensions import Entrypoint

from civic.rpc import SignatureKnown


def passthrough(method):
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        return method(self, *args, **kwargs)

    return run


class Service:
    def plain(self, actor, page=1, per_page=20):
        return actor

    @passthrough
    def wrapped(self, actor, payload):
        return payload


class Known(SignatureKnown, Entrypoint):
    pass


def entrypoint(cls, method_name):
    found = cls(None)
    found.container = SimpleNamespace(service_cls=Service)
    found.method_name = method_name
    return found


CALLS = [
    ("plain", ({"account_id": "a"},), {}),
    ("plain", (), {"actor": None, "page": 2}),
    ("plain", ({"account_id": "a"}, 1, 20), {}),
    ("plain", (), {}),  # actor missing
    ("plain", (None,), {"pages": 2}),  # no such argument
    ("plain", (None, 1, 2, 3), {}),  # too many
    ("plain", (None,), {"actor": None}),  # twice
    ("wrapped", (), {}),  # the wrapper takes anything: so does nameko's check
    ("wrapped", (1, 2, 3), {"x": 1}),
]


@pytest.mark.parametrize(("method_name", "args", "kwargs"), CALLS)
def test_the_verdict_is_nameko_s(method_name, args, kwargs):
    def verdict(cls):
        try:
            entrypoint(cls, method_name).check_signature(args, kwargs)
        except IncorrectSignature:
            return "refused"
        return "taken"

    assert verdict(Known) == verdict(Entrypoint)


def test_a_refusal_says_what_is_wrong():
    with pytest.raises(IncorrectSignature, match="actor"):
        entrypoint(Known, "plain").check_signature((), {})
