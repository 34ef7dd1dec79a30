"""SHA-crypt as glibc's crypt(3) computes it: results checked against known hashes."""

from __future__ import annotations

import pytest

from mainsail.shacrypt import new_salt, sha_crypt

# (scheme, password, salt, rounds, hash): the specification's examples and glibc's answers,
# covering a salt cut to 16 characters, an empty salt and password, and explicit rounds.
KNOWN = [
    ("sha512", "Hello world!", "saltstring", None,
     "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdF"
     "CoEOfaS35inz1"),
    ("sha512", "This is just a test", "toolongsaltstring", 5000,
     "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUh"
     "x1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"),
    ("sha512", "", "anotherlongsaltstring", 1400,
     "$6$rounds=1400$anotherlongsalts$CvyNSQwf6bQerEu9N9SQOWtPnrIu1XZzaKZQpGKfoQ/SaumCMqHGCEv"
     "fGxtQ5xG2Au23d5sGapl8LQH64hLtn/"),
    ("sha256", "Hello world!", "saltstringsaltstring", 10000,
     "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"),
    ("sha256", "This is just a test", "", None,
     "$5$$xCMf.xqMjERtwglM3QyyDRdP7gHKO2jVQNE2F2jdotC"),
    ("sha256", "we have a short salt string but not a short password", "short", 77777,
     "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"),
]


@pytest.mark.parametrize("scheme, password, salt, rounds, expected", KNOWN)
def test_known_hashes(scheme: str, password: str, salt: str, rounds: int | None,
                      expected: str) -> None:
    assert sha_crypt(password, salt, scheme, rounds) == expected


def test_rounds_are_kept_within_the_allowed_range() -> None:
    assert sha_crypt("x", "ab", "sha256", 10).startswith("$5$rounds=1000$ab$")


def test_bad_salts_and_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="salt"):
        sha_crypt("x", "a$b")
    with pytest.raises(ValueError, match="scheme"):
        sha_crypt("x", "ab", "md5")


def test_new_salts_are_random_crypt_characters() -> None:
    salts = {new_salt() for _ in range(5)}
    assert len(salts) == 5 and all(len(s) == 16 and "$" not in s for s in salts)
