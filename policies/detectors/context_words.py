"""Context words: where a recognizer's score rises, found in either Chinese script.

`ContextWords` is what the PII detector asks of a finding: does a context word stand before it
(and is it not the end of the name of something else)? `ContextLexicon` finds the Chinese ones
(and every word, for `ContextWords.word_ends`) in a stretch of text: one Aho-Corasick walk.

Words are listed once, Chinese ones in Simplified characters. Each is also looked for as
written in Traditional characters (`normalize.spellings`: every character as itself or any
character OpenCC's t2s data folds to it), so 護照, 電話 and 卡號 count as 护照, 电话 and
卡号. The walk reads the window lower-cased, so English words count in any case. A regex
alternation of the same words took three times as long per window (1.8 µs against 0.6).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import ahocorasick

from policies.normalize import either_script, spellings

#: Names of numbers that are not phone numbers. "number" and 号码 do not count as the end of one
#: (`Order number 2009020653`, `发票号码 5254395893`), while "phone number" and 电话号码 do; and
#: a number one of them names takes no context word at all (`请联系我。订单号 2024112701`).
#: Only nouns that name no phone, whatever comes before them ("caller ID number", 同学号码,
#: "please check number" keep theirs).
OTHER_NUMBERS = (
    *(f"{thing} number" for thing in (
        "order", "invoice", "tracking", "serial", "account", "reference", "ticket", "model", "part", "item",
        "batch", "version", "page", "room", "flight", "policy", "customer", "membership", "transaction",
        "confirmation", "booking", "registration", "license", "licence", "passport", "card", "plate", "shipment",
        "container", "contract", "project", "employee", "student", "patient", "claim", "receipt", "cheque",
        "routing", "vat", "product")),
    *(f"{thing} no" for thing in ("order", "invoice", "tracking", "serial", "reference", "ref", "ticket", "item")),
    *(f"{thing}号码" for thing in (
        "订单", "发票", "快递", "运单", "物流", "单据", "账单", "身份证", "证件", "护照", "账户", "帐户", "银行卡",
        "房间", "车牌", "航班", "合同", "工单", "会员", "序列", "批次", "型号", "保单", "座位", "通行证", "驾驶证",
        "社保", "医保", "纳税人识别")),
    *(f"{thing}号" for thing in (
        "订单", "发票", "快递单", "运单", "物流单", "单", "账单", "合同", "工单", "序列", "批次", "型", "保单", "房间",
        "航班", "车次", "学", "工", "编", "会员", "证件", "护照", "身份证")),
)  # fmt: skip
#: Names of device and product numbers: a 15-digit IMEI may read as a legacy resident ID
#: (`IMEI: 350926790309961`), a serial as a mobile number (`SN 177-5458-0812-2003`).
DEVICE_NUMBERS = ("imei", "meid", "iccid", "imsi", "serial", "sn", "s/n", "串号", "设备号", "序列号", "机身码")
#: Names of business numbers that run to 15-19 digits, as bank cards and IDs do: specific ones
#: only. Generic names (编号, 号码, number) are what an ID or card is called too (身份证编号).
BUSINESS_NUMBERS = (
    *(f"{thing}{suffix}"
      for thing in ("订单", "快递单", "运单", "物流单", "账单", "合同", "工单", "保单", "交易", "交易单")
      for suffix in ("号", "编号", "号码")),
    "发票号", "发票号码", "发票代码", "流水号", "批次号", "航班号",
    *(f"{thing} {suffix}" for thing in ("order", "invoice", "tracking", "transaction", "confirmation", "booking",
                                        "shipment", "reference", "ticket", "batch", "policy", "contract", "part",
                                        "model") for suffix in ("number", "no")),
    "ref no",
)  # fmt: skip


def other_names(names: Iterable[str], own_context: Iterable[str]) -> tuple[str, ...]:
    """`names` of other things, less those that hold one of a recognizer's own context words
    (a card recognizer's "card number", an ID recognizer's 身份证号码)."""
    own = [word.lower() for word in own_context]
    return tuple(name for name in names if not any(word in name for word in own))


#: Added to a finding's score when a context word stands before it, and the score it then
#: has at least (Presidio's context-aware enhancer's defaults).
CONTEXT_BOOST = 0.35
CONTEXT_MIN_SCORE = 0.4


class ContextLexicon:
    """`find(text, start, end)`: a listed word that occurs in `text[start:end]`, as listed,
    unless it is the end of one of `phrases_about_else` there (订单号码 is not 号码)."""

    def __init__(self, words: Iterable[str], phrases_about_else: Iterable[str] = ()) -> None:
        self.words = tuple(dict.fromkeys(w.strip().lower() for w in words if w.strip()))
        phrases = [p.strip().lower() for p in phrases_about_else if p.strip()]
        #: How far before a window a phrase about something else may start and still end in it.
        self._reach = max(map(len, phrases), default=0)
        self._automaton = ahocorasick.Automaton()
        for phrase in phrases:
            for spelling in spellings(phrase):
                self._automaton.add_word(spelling, _ELSE)
        for word in self.words:
            for spelling in spellings(word):
                if self._automaton.get(spelling, None) is None:
                    self._automaton.add_word(spelling, word)
        self._automaton.make_automaton()

    def find(self, text: str, start: int, end: int) -> str | None:
        """The first listed word to end in `text[start:end]` (by where it ends) that does not
        end a phrase about something else there, if any."""
        if not self.words or start >= end:
            return None
        origin = max(0, start - self._reach)  # a phrase begun before the window still voids
        found: str | None = None
        found_end = voided_end = -1
        for at, word in self._automaton.iter(_lowered(text[origin:end])):
            if found is not None and at != found_end:
                break  # every match ending where the word ends has been seen: none voids it
            if word == _ELSE:
                voided_end = at
                if at == found_end:
                    found = None
            elif found is None and at != voided_end and origin + at + 1 - len(word) >= start:
                found, found_end = word, at
        return found

    def ends(self, text: str, start: int, end: int) -> list[int]:
        """Where listed words in `text[start:end]` end (exclusive), those that end a phrase about
        something else included: every place `find` may find one, and more."""
        if not self.words or start >= end:
            return []
        return [start + at + 1 for at, word in self._automaton.iter(_lowered(text[start:end]))
                if word != _ELSE and at + 1 >= len(word)]


def _lowered(text: str) -> str:
    """`text` lower-cased character for character, so positions in it are positions in `text`
    (`str.lower` makes two of `İ`, U+0130)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


#: The automaton's value for a phrase that ends in a context word but is about something else.
_ELSE = ""


#: Characters of separators a phrase about something else may have beyond single spaces.
PHRASE_SLACK = 8
#: The letters `re.IGNORECASE` matches to an ASCII one that `str.lower` does not make it (review).
_FOLDS_LIKE_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
#: What may stand between a name and the value it names: `Order no.: 123`, `订单号：123`.
NAME_TO_VALUE = r"[\s:：#＃.．\-]*"
#: The same characters, for `str.rstrip` (white space aside, which `names_else` tests apart).
_NAME_TO_VALUE_CHARS = ":：#＃.．-" + "".join(chr(cp) for cp in range(0x3001) if chr(cp).isspace())


def _backwards(phrase: str) -> str:
    """A regex for `phrase` written backwards: Latin words joined by any spaces, dashes or
    underscores, an optional plural `s`, and no letter or digit before it; Chinese characters
    in either script."""
    if not phrase.isascii():
        return either_script(phrase[::-1])
    words = r"[\s_\-]+".join(re.escape(word[::-1]) for word in reversed(phrase.split()))
    return rf"s?{words}(?![0-9A-Za-z])"


class ContextWords:
    """Words that raise a match's score when they stand just before it, as Presidio does.

    Chinese words match anywhere in the window: there are no spaces to split words on; they
    count in Traditional characters too (`電話` as `电话`). ASCII words match only as whole
    words (an optional plural `s` aside), so `tel` does not fire in `hotel` nor `ip` in
    `ship`; `tel13812345678` still counts. `phrases_about_else` name other things ("order
    number", "订单号"): a word does not count as the end of one, and a match that one of them
    names (`Order number: 2022041579`) takes no context word at all, even one said before.
    """

    def __init__(self, words: Iterable[str], phrases_about_else: Iterable[str] = ()) -> None:
        cleaned = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
        other_phrases = sorted({p.strip().lower() for p in phrases_about_else if p.strip()}, key=len, reverse=True)
        self.words = tuple(cleaned)
        self._other = ContextLexicon((w for w in cleaned if not w.isascii()),
                                     (p for p in other_phrases if not p.isascii()))
        latin = [re.escape(w) for w in cleaned if w.isascii()]
        self._latin = (
            re.compile(rf"(?<![0-9a-z])(?:{'|'.join(latin)})s?(?![0-9a-z])", re.IGNORECASE | re.ASCII)
            if latin
            else None
        )
        # For `word_ends`: every word wherever it occurs, inside longer words too (`before` cuts
        # the text where a match starts, so `tel` ends a word in `tel4155552671` and `telephone`).
        self._anywhere = ContextLexicon(cleaned)
        # Phrases about something else are read backwards from where they would end, so one
        # `match` at one position answers (a search over the window, one try of every phrase
        # at every character, took 26 µs).
        backwards = [_backwards(p) for p in other_phrases]
        # A Latin word's end: a Chinese one's is the lexicon's to judge (`self._other`).
        latin_backwards = [_backwards(p) for p in other_phrases if p.isascii()]
        self._ends_else = re.compile("|".join(latin_backwards), re.IGNORECASE) if latin_backwards else None
        self._names_else = re.compile(f"{NAME_TO_VALUE}(?:{'|'.join(backwards)})", re.IGNORECASE) if backwards else None
        #: How a phrase about something else may end, in either script (with the plural `s` that
        #: `_backwards` allows), lower-cased: the last three characters of its last word, or the
        #: whole of a shorter one (`no`, `sn`, 版本). `names_else`'s quick test: most text before
        #: a number ends otherwise.
        self._phrase_ends = frozenset(
            spelling[-3:] for p in other_phrases
            for spelling in ([p.split()[-1], p.split()[-1] + "s"] if p.isascii() else spellings(p)))
        #: How far back from its end a phrase about something else may begin.
        self._reach = max(map(len, other_phrases), default=0) + PHRASE_SLACK

    def names_else(self, text: str, start: int) -> bool:
        """Whether a phrase about something else names what starts at `text[start]`
        (`订单号：` or `Order no. ` right before it). Most matches have no such phrase before them:
        the last characters before the separators, not those a phrase ends in, say so at once."""
        if self._names_else is None:
            return False
        before = text[max(0, start - self._reach) : start].rstrip(_NAME_TO_VALUE_CHARS)
        tail = before[-3:].translate(_FOLDS_LIKE_ASCII).lower()
        if tail not in self._phrase_ends and tail[-2:] not in self._phrase_ends:
            return False
        return self._names_else.match(self._backwards_from(text, start)) is not None

    def before(self, text: str, start: int, window: int) -> bool:
        """Whether a word ends within `window` characters before `text[start]`, and no phrase
        about something else names what starts there. The search sees the character before
        the window, so a word cut by the window is not a word."""
        if self.names_else(text, start):
            return False
        low = max(0, start - window)
        if self._latin is not None:
            for word in self._latin.finditer(text, low, start):
                if self._ends_else is None or not self._ends_else.match(self._backwards_from(text, word.end())):
                    return True
        return self._other.find(text, low, start) is not None

    def word_ends(self, text: str, low: int, high: int) -> list[int]:
        """Where context words in `text[low:high]` end, sorted: every place `before` may find
        one, and more (inside longer words, or voided by a phrase about something else).
        Positions are the text's own: lower-casing `İ` does not shift them."""
        return self._anywhere.ends(text, low, high)

    def _backwards_from(self, text: str, end: int) -> str:
        """The characters before `end` that a phrase about something else may take, last first."""
        return text[max(0, end - self._reach) : end][::-1]

    def boost(self, score: float, text: str, start: int, window: int) -> float:
        """`score`, raised when a context word stands before the match at `start`."""
        if not self.words or score >= 1.0 or not self.before(text, start, window):
            return score
        return min(1.0, max(score + CONTEXT_BOOST, CONTEXT_MIN_SCORE))
