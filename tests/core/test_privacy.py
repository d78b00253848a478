"""Personal-data redaction: a table per kind, true positives and near misses, then the modes.

Each true positive names the exact text that must be replaced; each near miss must come
through unchanged.
"""

from __future__ import annotations

import io
import logging
import stat

import pytest

from core.privacy import (
    LABELS,
    SALT_FILE,
    Redactor,
    cn_id_valid,
    find_personal_data,
    iban_valid,
    install_log_redaction,
    luhn_valid,
)
from core.settings import Settings

MASK = Redactor("mask")

# (text, the part that is personal data)
TRUE_POSITIVES = {
    "email": [
        ("write to ana@example.com today", "ana@example.com"),
        ("first.last+orders@mail.example.co.uk", "first.last+orders@mail.example.co.uk"),
        ("我的邮箱是zhang.san@qq.com谢谢", "zhang.san@qq.com"),
        ("SUPPORT@EXAMPLE.ORG.", "SUPPORT@EXAMPLE.ORG"),
    ],
    "phone": [
        ("call +44 20 7946 0958 please", "+44 20 7946 0958"),
        ("+1 (415) 555-0132", "+1 (415) 555-0132"),
        ("(415) 555-0132", "(415) 555-0132"),
        ("415.555.0132", "415.555.0132"),
        ("+33 1 23 45 67 89", "+33 1 23 45 67 89"),
        ("我的手机是13812345678谢谢", "13812345678"),
        ("手机 138 1234 5678", "138 1234 5678"),
        ("+86 138-1234-5678", "+86 138-1234-5678"),
        ("0086 13812345678", "0086 13812345678"),
        ("电话：010-12345678。", "010-12345678"),
        ("(0755) 1234 5678", "(0755) 1234 5678"),
        ("London 020 7946 0958", "020 7946 0958"),
    ],
    "card": [
        ("card 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111"),
        ("4111111111111111", "4111111111111111"),
        ("5500-0000-0000-0004", "5500-0000-0000-0004"),
        ("amex 378282246310005", "378282246310005"),
        ("银联卡6222020000000000000", "6222020000000000000"),
        ("card 4111 1111 1111 1111 2 items", "4111 1111 1111 1111"),
    ],
    "iban": [
        ("IBAN DE89 3704 0044 0532 0130 00 please", "DE89 3704 0044 0532 0130 00"),
        ("GB82WEST12345698765432", "GB82WEST12345698765432"),
        ("FR14 2004 1010 0505 0001 3M02 606", "FR14 2004 1010 0505 0001 3M02 606"),
        ("to NL91ABNA0417164300.", "NL91ABNA0417164300"),
        ("CH93 0076 2011 6238 5295 7", "CH93 0076 2011 6238 5295 7"),
    ],
    "cn_id": [
        ("身份证号11010519491231002X", "11010519491231002X"),
        ("ID 11010519491231002x ok", "11010519491231002x"),
        ("440305199901010013", "440305199901010013"),
        ("320106198507151233，请核对", "320106198507151233"),
    ],
    "ip": [
        ("from 192.168.1.10 at noon", "192.168.1.10"),
        ("dns 8.8.8.8.", "8.8.8.8"),
        # Decision: a bare dotted quad is indistinguishable from an address, so it goes.
        ("1.2.3.4", "1.2.3.4"),
        ("host 2001:db8::1", "2001:db8::1"),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
        ("mapped ::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("fe80::1ff:fe23:4567:890a", "fe80::1ff:fe23:4567:890a"),
    ],
    "name": [
        ("Hi, my name is Ana Lima and my card is stuck", "Ana Lima"),
        ("MY NAME IS Chen Jing", "Chen Jing"),
        ("I'm Mary-Jane O'Neil, calling about a refund", "Mary-Jane O'Neil"),
        ("I am Tom. Please help", "Tom"),
        ("Can Mrs. Okafor call back?", "Okafor"),
        ("Dr Smith Please call", "Smith"),
        ("Name: Priya Patel", "Priya Patel"),
        ("The card arrived.\nThanks,\nLucas Silva", "Lucas Silva"),
        ("你好，我叫陈静，手机丢了", "陈静"),
        ("我叫张伟卡丢了", "张伟"),
        ("我的名字是欧阳娜娜", "欧阳娜娜"),
        ("姓名：王小明", "王小明"),
        ("本人李娜，想查询余额", "李娜"),
        ("请联系张伟先生", "张伟"),
        ("王丽女士您好", "王丽"),
    ],
}

NEAR_MISSES = {
    "email": [
        "logo@2x.png",  # an image at double resolution
        "user@localhost",  # no top-level domain
        "follow @springboard",
        "name at example dot com",
    ],
    "phone": [
        "12345678901",  # 11 digits, but no Chinese mobile starts 12
        "1381234567",  # a mobile missing a digit
        "138123456789",  # and one too many
        "order 20240512001",
        "2024-05-12",
        "¥1,299.00",
        "12:30",
        "3.1415926",
        "room 1203",
        "+5 points",
    ],
    "card": [
        "4111 1111 1111 1112",  # fails Luhn
        "order 2024051200012345",  # fails Luhn
        "ref 1234567812345670",  # passes Luhn, but no payment card starts with 1
        "tracking 9400 1000 0000 0000 0000 00",
        "411111111111",  # 12 digits: too short
    ],
    "iban": [
        "DE89 3704 0044 0532 0130 01",  # fails mod-97
        "DE12 3456 7890 1234 5678 90",
        "XX89370400440532013000",  # no such country
        "GB82 WEST 1234 5698 7654",  # too short for GB
    ],
    "cn_id": [
        "110105194912310021",  # wrong check digit (X is right)
        "110105194913310021",  # check digit right, month 13
        "440305199901010014",
        "order 123456789012345678",
    ],
    "ip": [
        "version 1.2.3.4",
        "v1.2.3.4",
        "版本 1.2.3.4",
        "1.2.3.4.5",  # five parts: a version
        "256.1.1.1",
        "at 12:30:45",
        "mac 00:1A:2B:3C:4D:5E",
        "pi is 3.14",
        "std::vector",
        "serving at http://127.0.0.1:7860",  # this machine, not a person
        "listening on 0.0.0.0 and ::1",
    ],
    "name": [
        "I am unable to log in",  # no capital: not a name
        "I'm Sorry to bother you",  # a capitalised word that is not a name
        "this is Visa's fault",
        "The name field is empty",
        "my name is on the card",
        "Call me back tomorrow",
        "我是学生",  # 我是 is not a cue: "I am a student"
        "先生您好",  # an honorific alone names no one
        "刘先生",  # a surname alone identifies no one; it stays
        "我想找一位先生",
        "本人已经挂失了",  # 本人 followed by no surname
        "姓名栏是空的",
    ],
}


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [(kind, text, value) for kind, rows in TRUE_POSITIVES.items() for text, value in rows],
)
def test_each_kind_of_personal_data_is_found_and_masked(kind, text, value):
    found = find_personal_data(text)
    assert [(f.kind, f.value) for f in found] == [(kind, value)]
    assert MASK.redact(text) == text.replace(value, f"[{LABELS[kind]}]")


@pytest.mark.parametrize(
    ("kind", "text"), [(kind, text) for kind, rows in NEAR_MISSES.items() for text in rows]
)
def test_near_misses_are_left_alone(kind, text):
    assert find_personal_data(text) == []
    assert MASK.redact(text) == text


def test_the_checksums_themselves():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid(
        "DE89 3704 0044 0532 0130 01"
    )
    assert cn_id_valid("11010519491231002X") and not cn_id_valid("110105194912310021")


def test_a_message_with_several_kinds_keeps_everything_else():
    text = (
        "Hi, I'm order #100234. Mail ana@example.com or call 138-1234-5678; "
        "card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, from 10.0.0.7."
    )
    assert MASK.redact(text) == (
        "Hi, I'm order #100234. Mail [EMAIL] or call [PHONE]; card [CARD], IBAN [IBAN], from [IP]."
    )


def test_only_the_chosen_kinds_are_redacted():
    only_email = Redactor("mask", kinds=["email"])
    assert only_email.redact("ana@example.com 13812345678") == "[EMAIL] 13812345678"
    with pytest.raises(ValueError, match="Unknown kinds"):
        find_personal_data("x", kinds=["names"])


def test_hash_mode_is_stable_per_salt_and_ignores_formatting():
    a, b = Redactor("hash", salt=b"one"), Redactor("hash", salt=b"two")
    tag = a.redact("ana@example.com")
    assert tag.startswith("[EMAIL:") and len(tag) == len("[EMAIL:]") + 8
    assert a.redact("ANA@Example.com") == tag  # the same customer, written differently
    assert a.redact("4111-1111-1111-1111") == a.redact("4111 1111 1111 1111")
    assert a.redact("bob@example.com") != tag
    assert b.redact("ana@example.com") != tag  # another installation cannot link them
    assert "ana" not in tag


def test_keep_mode_changes_nothing_and_modes_are_checked():
    assert Redactor("keep").redact("ana@example.com") == "ana@example.com"
    with pytest.raises(ValueError, match="Unknown redaction mode"):
        Redactor("scramble")
    with pytest.raises(ValueError, match="salt"):
        Redactor("hash")


def test_settings_choose_the_mode_and_hash_mode_makes_one_private_salt(tmp_path, monkeypatch):
    assert Settings(data_dir=tmp_path).privacy.redaction == "mask"  # private by default
    monkeypatch.setenv("SPRINGBOARD_PRIVACY__REDACTION", "hash")
    settings = Settings(data_dir=tmp_path)
    first = Redactor.from_settings(settings).redact("ana@example.com")
    salt = tmp_path / SALT_FILE
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600
    assert Redactor.from_settings(Settings(data_dir=tmp_path)).redact("ana@example.com") == first
    monkeypatch.setenv("SPRINGBOARD_PRIVACY__HASH_SALT", "configured secret")
    assert Redactor.from_settings(Settings(data_dir=tmp_path)).redact("ana@example.com") != first
    monkeypatch.setenv("SPRINGBOARD_PRIVACY__REDACTION", "keep")
    assert Redactor.from_settings(Settings(data_dir=tmp_path)).mode == "keep"


def test_the_log_filter_redacts_messages_arguments_and_tracebacks():
    logger = logging.getLogger("springboard.test-privacy")
    logger.propagate = False
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        install_log_redaction(Redactor("mask"), logger)
        install_log_redaction(Redactor("mask"), logger)  # twice: still one filter
        assert len(handler.filters) == 1
        logger.warning("customer %s asked from %s", "ana@example.com", "192.168.1.10")
        try:
            raise ValueError("bad phone 13812345678")
        except ValueError:
            logger.exception("lookup failed for ana@example.com")
        text = stream.getvalue()
        assert "customer [EMAIL] asked from [IP]" in text
        assert "bad phone [PHONE]" in text and "lookup failed for [EMAIL]" in text
        assert "ana@example.com" not in text and "13812345678" not in text
    finally:
        logger.removeHandler(handler)
