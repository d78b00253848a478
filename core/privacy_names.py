"""Person names, found by the words people use to give them, in English and Chinese.

Why cues and not named-entity recognition: NER needs a model (spaCy's or a transformer's)
that the suite does not ship, and running one on every log line would cost more than the
line. Customers give their names in a few set ways ("my name is ...", "Mr ...", "我叫...",
"姓名：...", "...先生"), and those are what a support log or a transcript holds. So this
finds a name only after such a cue, which keeps it precise; a bare name in the middle of a
sentence is missed. ``tests/core/test_privacy.py`` has the table of both.

English: the cue is case-insensitive, the name is one to three capitalised words
("Ana", "Mary-Jane O'Neil"). After the weaker cues ("I am", "I'm", "this is") a capitalised
word that is not a name in a support conversation ("Sorry", "Visa", "Premium") is skipped.

Chinese: after a cue the name is a common surname (single or compound) and one or two more
characters, cut before a function word or a word that follows names ("卡", "想", "的").
Before an honorific (先生, 女士, 小姐) the surname and given name go, the honorific stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# The most common Chinese surnames (about 85% of people), compound ones first so that
# 欧阳 wins over 欧.
_COMPOUND_SURNAMES = [
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "令狐",
]
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴"
    "霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑"
    "景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
# Characters that end a name rather than continue it: particles, pronouns, and the words
# that most often follow a name in a support message.
_NAME_STOPS = set(
    "的了是在想要我你他她们和与跟从给说问请帮能会不没这那就也都还卡号手账已刚今昨来去找打"
)
_HAN = r"[\u4e00-\u9fff]"

_ZH_CUES = re.compile(
    r"(?:我叫|我的名字是|我的名字叫|名字叫|本人是|本人|姓名\s*[:：]?\s*|联系人\s*[:：]?\s*|户名\s*[:：]?\s*)"
)
_ZH_HONORIFIC = re.compile(rf"({_HAN}{{1,4}})(?=先生|女士|小姐)")

_EN_WORD = r"(?:[A-Z][a-z]+|[A-Z](?=['’]))(?:['’-][A-Z]?[a-z]+)*"
_EN_NAME = rf"{_EN_WORD}(?:[ ]{_EN_WORD}){{0,2}}"
# Strong cues: what follows is a name whenever it is capitalised.
_EN_STRONG = re.compile(
    rf"(?i:\b(?:my name is|my name's|name is|name\s*:|call me|contact person\s*:?|"
    rf"(?:mr|mrs|ms|miss|mx|dr|prof)\.?)\s+)(?P<name>{_EN_NAME})"
)
# Weak cues: "I am Ana", but also "I am Sorry", "this is Visa".
_EN_WEAK = re.compile(rf"(?i:\b(?:i am|i'm|i’m|this is)\s+)(?P<name>{_EN_NAME})")
# A sign-off at the end of a message: "Thanks,\nAna Lima".
_EN_SIGNOFF = re.compile(
    rf"(?i:\b(?:regards|best wishes|best|thanks|thank you|cheers|sincerely|yours)[,!.]?\s*\n\s*)"
    rf"(?P<name>{_EN_NAME})[.!]?\s*$"
)
_NOT_NAMES = {
    word.lower()
    for word in [
        "Sorry",
        "Happy",
        "Glad",
        "Not",
        "So",
        "Very",
        "Just",
        "Still",
        "Here",
        "Calling",
        "Writing",
        "Trying",
        "Looking",
        "Going",
        "Unable",
        "Able",
        "Afraid",
        "Angry",
        "Upset",
        "Confused",
        "Sure",
        "Done",
        "Back",
        "New",
        "Interested",
        "Having",
        "Getting",
        "Waiting",
        "The",
        "A",
        "An",
        "In",
        "On",
        "At",
        "From",
        "With",
        "Your",
        "My",
        "Our",
        "This",
        "That",
        "Visa",
        "Mastercard",
        "Amex",
        "Premium",
        "Gold",
        "Platinum",
        "Standard",
        "Business",
        "Customer",
        "Support",
        "Account",
        "Card",
        "English",
        "Chinese",
        "British",
        "American",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Today",
        "Urgent",
        "Regarding",
        "About",
        "Re",
        "Hello",
        "Hi",
        "Ok",
        "Okay",
        "Yes",
        "No",
        "Please",
        "Thanks",
    ]
}


def find_person_names(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, end, name)`` for each person name given after a cue, in no particular order."""
    for pattern in (_EN_STRONG, _EN_WEAK, _EN_SIGNOFF):
        for m in pattern.finditer(text):
            words = m.group("name").split(" ")
            # Cut at the first word that is not a name ("Ana Please" -> "Ana").
            keep = 0
            while keep < len(words) and _base_word(words[keep]) not in _NOT_NAMES:
                keep += 1
            if keep == 0:
                continue
            name = " ".join(words[:keep])
            yield m.start("name"), m.start("name") + len(name), name
    for m in _ZH_CUES.finditer(text):
        name = _chinese_name_at(text, m.end())
        if name:
            yield m.end(), m.end() + len(name), name
    for m in _ZH_HONORIFIC.finditer(text):
        run = m.group(1)
        # The name is the end of the run of characters before the honorific: try the
        # longest surname-led tail first ("联系张伟先生" -> "张伟").
        for size in (4, 3, 2):
            tail = run[-size:]
            if len(tail) == size and _chinese_name_at(tail, 0) == tail:
                yield m.end(1) - size, m.end(1), tail
                break


def _base_word(word: str) -> str:
    """The word without a possessive, lower-cased: "Visa's" -> "visa"."""
    return re.split(r"['’]s$", word)[0].lower()


def _chinese_name_at(text: str, start: int) -> str:
    """The surname-led name starting at ``start`` (2 to 4 characters), or ``""``."""
    surname = next((s for s in _COMPOUND_SURNAMES if text.startswith(s, start)), "")
    if not surname and start < len(text) and text[start] in _SURNAMES:
        surname = text[start]
    if not surname:
        return ""
    given = ""
    i = start + len(surname)
    while (
        i < len(text) and len(given) < 2 and re.match(_HAN, text[i]) and text[i] not in _NAME_STOPS
    ):
        given += text[i]
        i += 1
    return surname + given if given else ""
