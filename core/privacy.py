"""Personal-data redaction: find emails, phones, cards, IBANs, Chinese ID numbers and IPs in text.

Used before anything is stored or logged (conversations, tickets, the application log)::

    >>> from core.privacy import Redactor
    >>> Redactor("mask").redact("Mail ana@example.com or call +44 20 7946 0958")
    'Mail [EMAIL] or call [PHONE]'

Three modes (``Settings.privacy.redaction``):

- ``mask``: the value becomes its kind, ``[EMAIL]``.
- ``hash``: the kind plus a short salted HMAC of the normalised value, ``[EMAIL:3f2a9c01]``:
  the same customer gives the same tag across messages and restarts, so conversations can
  still be linked, but the value cannot be read back. The salt is per installation
  (``<data_dir>/.redaction_salt``, made on first use) unless ``privacy.hash_salt`` is set,
  because an unsalted hash of a phone number is reversed by trying every number.
- ``keep``: nothing is changed. It has to be chosen explicitly and the status page says so.

Why rules and not a library: Presidio's pattern recognizers are regexes with checksums like
these, but its analyzer engine loads a spaCy model (downloaded separately) and it is not a
dependency of the suite. The rules here are small, validated by checksums where a format
has one, and each has a table of true positives and near misses in
``tests/core/test_privacy.py``. Person names are found only where a cue introduces them
("my name is", "Mr", "我叫", "姓名：", "先生"): NER would need a model the suite does not ship
(see ``core/privacy_names.py``).

Decisions on ambiguous text (each is tested):

- Card numbers: 13-19 digits (spaces or dashes allowed) that pass the Luhn check and start
  with 2-6 (the issuer ranges of payment cards: Visa, Mastercard, Amex, UnionPay, JCB,
  Discover, Diners); order numbers that fail Luhn stay.
- IBANs: a known country's length and a valid mod-97 check; look-alikes that fail stay.
- Chinese resident IDs: 18 characters with a valid birth date and ISO 7064 MOD 11-2 check.
- Phones: a leading ``+``/``00`` country code with 8-15 digits, Chinese mobiles
  (``1[3-9]`` and 11 digits), national numbers with a leading 0 (9-12 digits, such as
  Chinese landlines ``010-12345678``), and North American ``(415) 555-0132``. Bare digit
  runs of other shapes (order numbers, amounts, dates) stay.
- IPv4: four dotted numbers 0-255 are an address, so a bare ``1.2.3.4`` is redacted (we
  cannot tell it from an address, and over-redacting is the safe side); ``v1.2.3.4`` and
  ``version 1.2.3.4`` / ``版本 1.2.3.4`` stay, as do five-part versions.
- IPv6: what ``ipaddress`` accepts, with at least two colons; times like ``12:30:45`` and
  MAC addresses are not IPv6 and stay.
- Loopback and unspecified addresses (``127.0.0.1``, ``::1``, ``0.0.0.0``) name the
  machine, not a person, and stay: the server logs the address it serves on.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from .privacy_names import find_person_names

Mode = Literal["mask", "hash", "keep"]
MODES: tuple[Mode, ...] = ("mask", "hash", "keep")
KINDS = ("email", "card", "iban", "cn_id", "phone", "ip", "name")
LABELS = {
    "email": "EMAIL",
    "card": "CARD",
    "iban": "IBAN",
    "cn_id": "CN_ID",
    "phone": "PHONE",
    "ip": "IP",
    "name": "NAME",
}
SALT_FILE = ".redaction_salt"
HASH_HEX_CHARS = 8  # 32 bits: distinct customers rarely share a tag, and it stays short


@dataclass(frozen=True)
class Finding:
    """One piece of personal data in a text: its kind and where it is."""

    kind: str
    start: int
    end: int
    value: str


# --------------------------------------------------------------------------- checksums


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check that every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# IBAN length per country, from the SWIFT IBAN registry.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_valid(iban: str) -> bool:
    """Known country, its length, and the ISO 13616 mod-97 check (remainder 1)."""
    iban = iban.replace(" ", "").upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def cn_id_valid(number: str) -> bool:
    """An 18-character resident ID: a real birth date and the ISO 7064 MOD 11-2 check."""
    number = number.upper()
    if len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= date.today().year:
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _CN_ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17]


# --------------------------------------------------------------------------- detectors
# re.ASCII everywhere: Chinese characters are then not "word" characters, so a number
# written right after 电话 or before 谢谢 still has a boundary. Cards and most phone
# shapes may not start right after "<digit><space>": that is the middle of a longer number
# (a parcel tracking number, the digits of an IBAN).
_A = re.ASCII

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])",
    _A,
)
_CARD = re.compile(r"(?<![\w.,-])(?<!\d[ -])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\w-]|[.,]\d)", _A)
_IBAN = re.compile(r"(?<![\w])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}(?!\w)", _A)
_CN_ID = re.compile(r"(?<![\w])[1-9]\d{16}[\dXx](?!\w)", _A)
_PHONE = re.compile(
    "|".join(
        (
            # +country or 00country, then groups: +44 20 7946 0958, +86 138-1234-5678, 0049 30 1234567
            r"(?<![\w+])(?<!\d[ -])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(?\d{1,5}\)?){1,6}(?!\d)",
            # Chinese mobile: 13812345678, 138 1234 5678, 138-1234-5678
            r"(?<![\w+])1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)",
            # national numbers with a trunk 0: 010-12345678, (0755) 1234 5678, 020 7946 0958
            r"(?<![\w+.])(?<!\d[ -])\(?0\d{1,4}\)?(?:[ -]?\d{2,8}){1,4}(?![\w]|[.,]\d)",
            # North America: (415) 555-0132, 415-555-0132, 415.555.0132
            r"(?<![\w+])(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d)",
        )
    ),
    _A,
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.\d)", _A)
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![\w:])", _A)
_VERSION_CUE = re.compile(r"(?:version|ver\.?|release|build|版本|版本号)\s*[:：]?\s*$", re.IGNORECASE)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# "logo@2x.png" is an image at double resolution, not an address.
_FILE_SUFFIXES = {"png", "jpg", "jpeg", "gif", "svg", "webp", "pdf", "css", "js"}


def _emails(text: str) -> Iterable[Finding]:
    for m in _EMAIL.finditer(text):
        if m.group().rsplit(".", 1)[1].lower() not in _FILE_SUFFIXES:
            yield Finding("email", m.start(), m.end(), m.group())


def _cards(text: str) -> Iterable[Finding]:
    for m in _CARD.finditer(text):
        # "4111 1111 1111 1111 2 items": the match may run on into a following number,
        # so try whole groups from the longest down.
        groups = re.split(r"(?<=\d)(?=[ -])", m.group())
        for n in range(len(groups), 0, -1):
            value = "".join(groups[:n])
            digits = _digits(value)
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                yield Finding("card", m.start(), m.start() + len(value), value)
                break


def _ibans(text: str) -> Iterable[Finding]:
    for m in _IBAN.finditer(text):
        value = m.group()
        length = IBAN_LENGTHS.get(value[:2].upper())
        if length is None:
            continue
        # The match may run on into the next word ("DE89 3704 ... 00 please"): cut it at the
        # country's length, which must end a group.
        count, end = 0, 0
        while end < len(value) and count < length:
            count += value[end] != " "
            end += 1
        rest = value[end:]
        if count != length or (rest and not rest.startswith(" ")):
            continue
        if iban_valid(value[:end]):
            yield Finding("iban", m.start(), m.start() + end, value[:end])


def _cn_ids(text: str) -> Iterable[Finding]:
    for m in _CN_ID.finditer(text):
        if cn_id_valid(m.group()):
            yield Finding("cn_id", m.start(), m.end(), m.group())


def _phones(text: str) -> Iterable[Finding]:
    for m in _PHONE.finditer(text):
        value = m.group()
        digits = _digits(value)
        if value.startswith(("+", "00")):
            ok = 8 <= len(digits) <= 15
        elif value.lstrip("(").startswith("0"):
            ok = 9 <= len(digits) <= 12
        else:
            ok = len(digits) in (10, 11)
        if ok:
            yield Finding("phone", m.start(), m.end(), value)


def _ips(text: str) -> Iterable[Finding]:
    for m in _IPV4.finditer(text):
        if _VERSION_CUE.search(text[max(0, m.start() - 16) : m.start()]):
            continue
        if not _machine_address(m.group()):
            yield Finding("ip", m.start(), m.end(), m.group())
    for m in _IPV6.finditer(text):
        value = m.group()
        if value.count(":") < 2:
            continue
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        if not _machine_address(value):
            yield Finding("ip", m.start(), m.end(), value)


def _names(text: str) -> Iterable[Finding]:
    for start, end, value in find_person_names(text):
        yield Finding("name", start, end, value)


def _machine_address(value: str) -> bool:
    """Loopback and "any" (127.0.0.1, ::1, 0.0.0.0, ::) name this machine, never a person;
    the server logs them ("serving at http://127.0.0.1:7860")."""
    address = ipaddress.ip_address(value)
    return address.is_loopback or address.is_unspecified


# Earlier wins when two findings overlap at the same start: an 18-digit resident ID can
# also pass Luhn, and a card number can look like a long phone number.
_DETECTORS: dict[str, Callable[[str], Iterable[Finding]]] = {
    "email": _emails,
    "iban": _ibans,
    "cn_id": _cn_ids,
    "card": _cards,
    "ip": _ips,
    "phone": _phones,
    "name": _names,
}


def find_personal_data(text: str, kinds: Iterable[str] = KINDS) -> list[Finding]:
    """Every non-overlapping piece of personal data in ``text``, in order.

    Where findings overlap, the one that starts first wins, then the longer, then the
    one whose kind is checked more strictly (see ``_DETECTORS``).
    """
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"Unknown kinds of personal data: {', '.join(sorted(unknown))}")
    order = {kind: n for n, kind in enumerate(_DETECTORS)}
    found = [f for kind, detect in _DETECTORS.items() if kind in wanted for f in detect(text)]
    found.sort(key=lambda f: (f.start, -(f.end - f.start), order[f.kind]))
    kept: list[Finding] = []
    for f in found:
        if not kept or f.start >= kept[-1].end:
            kept.append(f)
    return kept


# --------------------------------------------------------------------------- redaction


def _normalise(kind: str, value: str) -> str:
    """The form that is hashed, so that formatting does not change a customer's tag."""
    if kind == "email":
        return value.lower()
    if kind in ("card", "phone"):
        digits = _digits(value)
        if kind == "phone" and value.startswith("00"):
            digits = digits[2:]
        return digits
    if kind == "ip":
        return str(ipaddress.ip_address(value))
    if kind == "name":
        return " ".join(value.split()).lower()
    return value.replace(" ", "").upper()


class Redactor:
    """Replaces personal data in text according to a mode (mask, hash or keep).

    Args:
        mode: ``mask`` (``[EMAIL]``), ``hash`` (``[EMAIL:3f2a9c01]``) or ``keep``.
        salt: the secret for ``hash`` mode; required there.
        kinds: which kinds of personal data to look for (default: all, see ``KINDS``).
    """

    def __init__(self, mode: Mode = "mask", *, salt: bytes | None = None, kinds: Iterable[str] = KINDS) -> None:
        if mode not in MODES:
            raise ValueError(f"Unknown redaction mode {mode!r}; choose one of {', '.join(MODES)}.")
        if mode == "hash" and not salt:
            raise ValueError("Hash mode needs a salt (see Redactor.from_settings).")
        self.mode = mode
        self.kinds = tuple(kinds)
        self._salt = salt or b""

    @classmethod
    def from_settings(cls, settings) -> Redactor:
        """The redactor the settings ask for (``settings.privacy``), salted per installation."""
        privacy = settings.privacy
        salt = None
        if privacy.redaction == "hash":
            configured = privacy.hash_salt.get_secret_value() if privacy.hash_salt else ""
            salt = configured.encode() if configured else installation_salt(settings.data_dir)
        return cls(privacy.redaction, salt=salt, kinds=privacy.kinds)

    def tag(self, kind: str, value: str) -> str:
        """What replaces one value: ``[EMAIL]`` or ``[EMAIL:<hash>]``."""
        label = LABELS[kind]
        if self.mode == "mask":
            return f"[{label}]"
        digest = hmac.new(self._salt, f"{kind}:{_normalise(kind, value)}".encode(), hashlib.sha256)
        return f"[{label}:{digest.hexdigest()[:HASH_HEX_CHARS]}]"

    def redact(self, text: str) -> str:
        """``text`` with every piece of personal data replaced (unchanged in keep mode)."""
        if self.mode == "keep" or not text:
            return text
        findings = find_personal_data(text, self.kinds)
        if not findings:
            return text
        out, last = [], 0
        for f in findings:
            out += [text[last : f.start], self.tag(f.kind, f.value)]
            last = f.end
        out.append(text[last:])
        return "".join(out)


def installation_salt(data_dir: Path) -> bytes:
    """This installation's secret salt for hash mode, created once (mode 0600) in ``data_dir``."""
    path = Path(data_dir) / SALT_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as fh:
        fh.write(salt.hex())
    return salt


# --------------------------------------------------------------------------- logging


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message (and traceback) before it is written."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if self.redactor.mode == "keep":
            return True
        message = record.getMessage()
        clean = self.redactor.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Exception messages often quote the input that caused them.
            record.exc_text = self.redactor.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        return True


def install_log_redaction(redactor: Redactor, logger: logging.Logger | None = None) -> RedactingFilter:
    """Redact every record that ``logger``'s handlers (default: the root logger's) write.

    The filter goes on the handlers, not the logger, because a logger's own filters do not
    see records that propagate up from child loggers. Installing twice replaces the first.
    """
    logger = logger or logging.getLogger()
    flt = RedactingFilter(redactor)
    for handler in logger.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(flt)
    return flt
