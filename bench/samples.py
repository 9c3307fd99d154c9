"""Tracking-number strings for the parser benchmark (stdlib only, deterministic).

The mix resembles what the tracking API receives: mostly IMpb PICs (some typed with spaces
as printed on labels), scanned barcodes with the 420+ZIP routing prefix, international S10
numbers and a share of invalid input (typos, truncation, junk).
"""

import random
import string
from collections import Counter
from dataclasses import dataclass

from core.tracking_numbers import (
    AmbiguousTrackingNumber,
    InvalidTrackingNumber,
    make_impb,
    parse,
    s10_check_digit,
)

SEED = 20260


@dataclass(frozen=True, slots=True)
class ParserInputs:
    numbers: list[str]
    kinds: Counter[str]


def random_mid(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return "9" + "".join(rng.choices(string.digits, k=8))
    return str(rng.randint(0, 8)) + "".join(rng.choices(string.digits, k=5))


def random_pic(rng: random.Random, *, routable: bool = False) -> str:
    """A valid PIC; ``routable`` keeps it at 22 or 26 digits so 420+ZIP still fits in 34."""
    mid = random_mid(rng)
    if len(mid) == 9:
        channel = rng.choice(["92", "94"])
        serial_lengths = [7, 11] if routable or channel == "92" else [7, 11, 15]
    else:
        channel = rng.choice(["93", "94"])
        serial_lengths = [10, 14]
    serial = "".join(rng.choices(string.digits, k=rng.choice(serial_lengths)))
    service = "".join(rng.choices(string.digits, k=3))
    return make_impb(mid=mid, service_type_code=service, serial=serial, channel=channel)


def _routed(rng: random.Random) -> str:
    pic = random_pic(rng, routable=True)
    zip_length = 9 if len(pic) == 22 and rng.random() < 0.5 else 5
    return "420" + "".join(rng.choices(string.digits, k=zip_length)) + pic


def _s10(rng: random.Random) -> str:
    serial = "".join(rng.choices(string.digits, k=8))
    prefix = "".join(rng.choices(string.ascii_uppercase, k=2))
    return prefix + serial + s10_check_digit(serial) + rng.choice(["US", "CN", "GB", "DE"])


def _spaced(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _invalid(rng: random.Random) -> str:
    pic = random_pic(rng)
    kind = rng.randrange(6)
    if kind == 0:  # typo in the check digit
        return pic[:-1] + str((int(pic[-1]) + 1) % 10)
    if kind == 1:  # truncated copy-paste (never to a length that is a format of its own)
        return pic[: rng.choice([n for n in range(8, len(pic)) if n not in (20, 22, 26)])]
    if kind == 2:  # S10 with a wrong check digit
        number = _s10(rng)
        return number[:10] + str((int(number[10]) + 1) % 10) + number[11:]
    if kind == 3:  # unknown channel
        return "97" + pic[2:]
    if kind == 4:  # 34 digits without the routing prefix
        return "".join(rng.choices(string.digits, k=34))
    return "".join(rng.choices(string.ascii_letters + string.digits + "-#", k=rng.randint(5, 40)))


def parser_inputs(count: int = 1000, seed: int = SEED) -> ParserInputs:
    """``count`` strings: 45% IMpb, 25% routed, 15% S10, 15% invalid, shuffled."""
    rng = random.Random(seed)
    shares = {"impb": 0.45, "routed": 0.25, "s10": 0.15}
    plan = {kind: round(count * share) for kind, share in shares.items()}
    plan["invalid"] = count - sum(plan.values())
    numbers: list[tuple[str, str]] = []
    for _ in range(plan["impb"]):
        pic = random_pic(rng)
        numbers.append(("impb", _spaced(pic) if rng.random() < 0.2 else pic))
    routed = [_routed(rng) for _ in range(plan["routed"])]
    numbers += [("ambiguous" if _is_ambiguous(n) else "routed", n) for n in routed]
    numbers += [("s10", _s10(rng)) for _ in range(plan["s10"])]
    numbers += [("invalid", _invalid(rng)) for _ in range(plan["invalid"])]
    rng.shuffle(numbers)
    _check(numbers)
    return ParserInputs(numbers=[n for _, n in numbers], kinds=Counter(k for k, _ in numbers))


def _is_ambiguous(number: str) -> bool:
    """Real scans include routed barcodes that read two ways with two MIDs; the parser refuses
    them (core.tracking_numbers), and the mix says how many there are."""
    try:
        parse(number)
    except AmbiguousTrackingNumber:
        return True
    return False


def _check(numbers: list[tuple[str, str]]) -> None:
    """The mix must be what it claims: valid kinds parse, invalid ones are rejected."""
    for kind, number in numbers:
        try:
            parse(number)
        except AmbiguousTrackingNumber:
            assert kind == "ambiguous", f"{kind} sample {number!r} was refused as ambiguous"
        except InvalidTrackingNumber:
            assert kind == "invalid", f"{kind} sample {number!r} did not parse"
        else:
            assert kind != "invalid", f"invalid sample {number!r} parsed"
