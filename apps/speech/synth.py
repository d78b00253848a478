"""Synthetic speech with espeak-ng: example clips for the page, test and benchmark sets.

espeak-ng output is generated on this machine at run time (nothing is
downloaded and no recording of a person is shipped). Mandarin uses the
``cmn-latn-pinyin`` voice, which reads tone-numbered pinyin; each sentence is
kept with its characters, which are the reference transcript.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from core.errors import InvalidInputError

ENGLISH: tuple[str, ...] = (
    "Please send the invoice to our office before Friday.",
    "We shipped the new version of the app to all customers today.",
    "The meeting with the design team has moved to three o'clock.",
    "Our revenue grew by twenty percent in the last quarter.",
    "Can you call me back when you have a minute?",
    "The delivery truck arrived at the warehouse this morning.",
    "I would like to book a table for four people tonight.",
    "The server went down for about ten minutes last night.",
    "Remember to back up your files before the update.",
    "She explained the pricing plan to the new client.",
    "The train to London leaves from platform two.",
    "We need more people on the support team next month.",
    "Thank you for waiting, your order is ready.",
    "The weather will be sunny with a light breeze.",
    "He forgot his password and asked for a reset link.",
    "Let us review the contract line by line.",
    "The library closes early on public holidays.",
    "Our new office has a great view of the river.",
    "Please write down the address and the phone number.",
    "The children played football in the park after school.",
    "A small startup can move faster than a large company.",
    "The doctor said I should drink more water every day.",
)

# (characters, tone-numbered pinyin as espeak-ng's cmn-latn-pinyin voice reads it)
MANDARIN: tuple[tuple[str, str], ...] = (
    ("今天天气很好。", "jin1 tian1 tian1 qi4 hen3 hao3."),
    ("我想喝一杯咖啡。", "wo3 xiang3 he1 yi4 bei1 ka1 fei1."),
    ("请把发票寄到我们的办公室。", "qing3 ba3 fa1 piao4 ji4 dao4 wo3 men5 de5 ban4 gong1 shi4."),
    ("明天上午我们开会。", "ming2 tian1 shang4 wu3 wo3 men5 kai1 hui4."),
    ("这个产品卖得很好。", "zhe4 ge4 chan3 pin3 mai4 de5 hen3 hao3."),
    ("他是我的好朋友。", "ta1 shi4 wo3 de5 hao3 peng2 you5."),
    ("我们的公司在北京。", "wo3 men5 de5 gong1 si1 zai4 bei3 jing1."),
    ("你今天晚上有空吗？", "ni3 jin1 tian1 wan3 shang4 you3 kong4 ma5?"),
    ("火车站离这里不远。", "huo3 che1 zhan4 li2 zhe4 li3 bu4 yuan3."),
    ("我每天早上跑步。", "wo3 mei3 tian1 zao3 shang4 pao3 bu4."),
    ("这本书非常有意思。", "zhe4 ben3 shu1 fei1 chang2 you3 yi4 si5."),
    ("请你说慢一点。", "qing3 ni3 shuo1 man4 yi4 dian3."),
    ("我们下个星期去上海。", "wo3 men5 xia4 ge4 xing1 qi1 qu4 shang4 hai3."),
    ("客户对我们的服务很满意。", "ke4 hu4 dui4 wo3 men5 de5 fu2 wu4 hen3 man3 yi4."),
    ("他在医院工作。", "ta1 zai4 yi1 yuan4 gong1 zuo4."),
    ("我不知道他的电话号码。", "wo3 bu4 zhi1 dao4 ta1 de5 dian4 hua4 hao4 ma3."),
    ("中国是一个很大的国家。", "zhong1 guo2 shi4 yi2 ge4 hen3 da4 de5 guo2 jia1."),
    ("我喜欢吃米饭和面条。", "wo3 xi3 huan1 chi1 mi3 fan4 he2 mian4 tiao2."),
    ("现在几点了？", "xian4 zai4 ji3 dian3 le5?"),
    ("谢谢你的帮助。", "xie4 xie4 ni3 de5 bang1 zhu4."),
    ("我们的新软件下个月发布。", "wo3 men5 de5 xin1 ruan3 jian4 xia4 ge4 yue4 fa1 bu4."),
    ("学生们在教室里学习。", "xue2 sheng1 men5 zai4 jiao4 shi4 li3 xue2 xi2."),
)


def espeak_available() -> bool:
    """Whether the espeak-ng program is installed."""
    return shutil.which("espeak-ng") is not None


def speak(text: str, path: str | Path, voice: str = "en-us", words_per_minute: int = 165) -> Path:
    """Write ``text`` spoken by espeak-ng to the wav file ``path`` (22.05 kHz mono)."""
    if not espeak_available():
        raise InvalidInputError("espeak-ng is not installed (apt-get install espeak-ng).")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), "--", text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path
