"""Who an article is about: the alias table first, then names the table does not know.

Unknown names are found by their shape: Latin-script names (also inside Chinese text),
transliterated names with '·', names glossed in brackets (卢卡斯·贝耶尔（Lucas Beyer）, and
the Latin form wins), Chinese organisations by their suffix (…公司, …集团, …科技), Chinese
people after a role (首席执行官…, 负责人…). A later short mention (贝耶尔, Mr Bondi) resolves
to the full name found earlier in the same article. Pure.

One module (~1,280 lines): every name finder adds to the same mentions, which the later-mention
resolution then reads; split, that state would cross modules on the extraction's hot path.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import accumulate
from operator import itemgetter
from typing import NamedTuple

from bot.core.text import HAN, holds_from, matches_by_opening
from bot.extract.amounts import trie_pattern
from bot.extract.rules import Hit, RulePack
from bot.extract.sentences import LOST, Sentence
from bot.extract.words import (
    ACRONYMS,
    COMMON,
    FUNCTION,
    LEGAL_SUFFIXES,
    PLACES,
    REGIONS,
    ROLES,
    VERB_FORMS,
)

PERSON, ORG, UNKNOWN = "person", "org", "unknown"
_new = tuple.__new__  # a Mention made without its Python-level constructor: twice as fast


def _shaped(start: int, end: int, name: str, kind: str) -> Mention:
    """A Mention of a name found by its shape or place (not the alias table's): made with
    `_new`, a named tuple's own constructor being Python code."""
    return _new(Mention, (start, end, name, kind, False, False))


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Characters Chinese uses to transliterate foreign names; a '·' name is made of them.
_TRANSLIT = set(
    "阿埃艾爱爱安昂奥澳巴拜班邦保鲍贝本比彼毕宾冰波伯博布才查达戴丹道德迪蒂丁东杜多厄恩尔法凡范菲费芬丰"
    "弗福盖甘冈高戈格哥古圭果哈海汉豪赫黑亨华怀霍基吉加贾杰金津卡凯坎康柯科克肯库夸奎拉莱赖兰朗劳勒"
    "雷蕾黎利莉里理丽连林琳隆卢鲁路伦罗洛吕马玛迈麦曼梅门蒙米密缅敏莫默姆穆纳娜奈南内尼妮宁纽努诺欧"
    "帕潘庞佩彭皮珀普奇齐恰乔切钦琼丘萨塞赛森沙莎尚舍绍申圣施什史斯松苏索塔泰坦汤唐陶特提汀图托瓦万"
    "旺威韦维温沃乌伍西希锡夏谢辛休许雅亚延扬耶伊因英尤于约泽扎詹珍朱兹佐艾瑞雪琪娅莱茨莉贾维"
)
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃"
    "武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒"
    "阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓"
    "古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣"
    "巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_ZH_ROLES = _split(
    "首席执行官 执行长 首席运营官 首席财务官 首席技术官 首席科学家 首席商务官 联合创始人 创始人 董事长 副董事长 总裁 副总裁 总经理 总监 负责人 研究员 科学家 工程师 高管 主席 发言人 董事 经理 主管 教授 分析师 律师 法官 核心 主力 ceo cto cfo coo"
    " 股东 控股股东 实际控制人 实控人 董秘 董事会秘书 监事 行长 副行长 合伙人 书记 法定代表人 部长 局长 厅长"
    " 行政总裁 创办人 总编辑 总编 主编 社长"
    # Kin before a name, as family firms are written of (长子李泽钜, 儿子…).
    " 长子 次子 儿子 女儿 父亲 胞弟 胞兄"
)
_ZH_ROLE_RE = re.compile("(?:" + "|".join(_ZH_ROLES) + f")[ ]?(?P<name>[{HAN}]{{2,3}})")
# Nouns that follow a role as a second role or a part of it, and start with a character
# that is also a surname (顾, 高, 程 …).
_ZH_ROLE_NOUNS = frozenset(
    _split(
        "顾问 助理 秘书 代表 高管 高级 团队 职位 一职 任期 期间 身份 候选 人选 办公 成员 级别 特别 方面 程序"
    )
)
_ZH_JOIN = frozenset("和与及兼")
# A person by the honorific after the name: 王启辉先生, 李静女士 (not 一位女士).
_HONORIFIC_RE = re.compile("先生|女士")
_APPOINTED_RE = re.compile(
    f"(?:任命|聘请|聘任|委任|提名|提拔)(?P<name>[{HAN}]{{2,3}}?)(?:为|出任|担任)"
)
# After a name, these start the rest of the sentence (说, 表示, 的, 离职 …): the name ended.
_AFTER_NAME = set("说表称的在和与将已也于曾被透指认则等离加接出担宣向对为是从入及今昨涉")
_GLOSS_RE = re.compile(
    r"[（(][ ]?(?P<lat>[A-Z][A-Za-z0-9.'’&\-]*(?:[ ][A-Z][A-Za-z0-9.'’&\-]*){0,4})[ ]?[)）]"
)
_LOWER_WORD_RE = re.compile(r"[a-z][a-z0-9]*")
_HAN_RE = re.compile(f"[{HAN}]")
_HAN_BLOCK = ord(HAN[0]) >> 8  # no Han character before this block (U+3400)
_ZH_PART_RE = re.compile(f"[{HAN}·•・{LOST}]+")
_HAN_TAIL_RE = re.compile(f"[{HAN}·•・{LOST}]{{2,16}}$")
_DOT_RE = re.compile("[·•・]")
_DOTS = "·•・"
_GLOSS_MARKS = ("·", "•", "・", LOST)  # besides Chinese characters, what a gloss may follow
_APPOINTING = ("任命", "聘请", "聘任", "委任", "提名", "提拔")  # what _APPOINTED_RE opens with
_HONORIFICS = ("先生", "女士")  # _HONORIFIC_RE's words


def _per_opening(pattern: re.Pattern[str], opening: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """A pattern opening with the class `opening` ('[（(]') as one pattern per character of it:
    a literal opening skips ahead in a tight loop where a class is tested at each character
    (several times the time over Chinese text). Each with its character, for an `in` first."""
    rest = pattern.pattern.removeprefix(opening)
    assert rest != pattern.pattern, pattern.pattern
    return tuple((c, re.compile(re.escape(c) + rest, pattern.flags)) for c in opening[1:-1])


def _positions(text: str, words: Sequence[str]) -> list[int]:
    """Where the words stand in `text`, in order: what a pattern of the words (none of which
    overlaps another or itself) finds, by searches that skip ahead in C."""
    out: list[int] = []
    for word in words:
        at = text.find(word)
        while at >= 0:
            out.append(at)
            at = text.find(word, at + len(word))
    out.sort()
    return out


_GLOSS_BY_BRACKET = _per_opening(_GLOSS_RE, "[（(]")
# A capital or a digit not inside a word, then a capitalised word or a number with letters
# ('3M'); written to open with one character class, so the engine skips ahead to candidates.
_LATIN_NAME_RE = re.compile(
    r"[A-Z0-9](?<![A-Za-z0-9].)"
    r"(?:(?<=[A-Z])[A-Za-z0-9]*(?:[-.&'’](?![sS]\b)[A-Za-z0-9]+)*|(?<=[0-9])[0-9]*[A-Za-z][A-Za-z0-9]*)"
    # 'Clayton and Dubilier Inc', 'Oppenheimer and Co Inc': 'and' inside a firm's name
    r"(?:(?:[ ]and(?=[ ](?:[A-Z][A-Za-z0-9.'’&\-]*[ ]){0,2}"
    r"(?:Co|Cos|Inc|Corp|Ltd|Associates|Sons|Partners|Company)\b))?"
    r"[ ](?:of|de|da|van|von|der|den|del|di|du|la|le|bin|al|&)?[ ]?"
    r"(?:[A-Z][A-Za-z0-9]*(?:[-.&'’](?![sS]\b)[A-Za-z0-9]+)*))*"
)
_ORG_SUFFIXES = _split(
    "（集团）股份有限公司 （集团）有限公司 (集团)有限公司 股份有限公司 有限责任公司 有限公司 股份公司 公司 集团 家族 科技 研究院 研究所 实业 银行 基金会 大学 实验室 资本 控股 证券 汽车 电子 传媒 工作室 委员会 交易所 协会 基金"
    " 股份 医药 药业 制药 生物 医疗 保险 物业 地产 置业 能源 环保 电气 电力 化工 矿业 食品 教育 光电"
    " 通信 软件 物流 航空 重工 机械 环境 检测 金控 信托"
    " 监督管理局 管理局 监管局 公安局 公安厅 税务局 财政厅 财政局 发改委 工信厅 网信办 证监会 银保监会"
    " 国资委 人民政府 政府 人民法院 法院 检察院 医院"
    " 创投 高新 农牧 芯片 半导体 电器 家电 水务 燃气 钢铁 建工 置地 酒店 乳业 酒业 珠宝 影视"
)
# These suffixes are also ordinary words (科技巨头, 汽车行业): accept them only before a break.
_WEAK_SUFFIXES = frozenset(
    _split(
        "科技 资本 控股 证券 汽车 电子 传媒 基金 股份 医药 药业 制药 生物 医疗 保险 物业 地产 置业 能源"
        " 环保 电气 电力 化工 矿业 食品 教育 光电 通信 软件 物流 航空 重工 机械 环境 检测 金控 信托"
        " 创投 高新 农牧 芯片 半导体 电器 家电 水务 燃气 钢铁 建工 置地 酒店 乳业 酒业 珠宝 影视"
    )
)
# After these the suffix word is part of a longer common word (科技巨头, 汽车行业, 电子产品).
_ORG_NOT_BEFORE = set("巨行领产企园馆界圈类型化部板大创股水含业品展城网公集交")
# A trie, not an alternation: many suffixes start with a common character (公, 大, 电), and an
# alternation tries all of them there. The same matches: no suffix is listed after a prefix of it.
_ORG_RE = re.compile(trie_pattern(_ORG_SUFFIXES))
_NAME_THEN = frozenset(("公告", "公布", "公开", "大股", "股东", "股价", "股票", "股份"))
_ORG_STOP = set(
    "的在与和由是了为从向对被将称等及或于把给让使也就还又并其该这那此各某曾任责，。、；：！？（）“”《》 "
)
_ORG_HEAD_RE = re.compile("[^\\W" + "".join(sorted(_ORG_STOP - {" "})) + "_]{0,14}$")
# A registered name is long (深圳市东创精密技术有限公司); a name before a bare suffix is short.
_LONG_SUFFIXES = frozenset(
    (
        "（集团）股份有限公司",
        "（集团）有限公司",
        "(集团)有限公司",
        "股份有限公司",
        "有限责任公司",
        "有限公司",
        "股份公司",
    )
)
# Legal forms folded away when a name stands before them: 太极实业股份有限公司 → 太极实业.
_ZH_LEGAL_RE = re.compile(
    "(?:[（(]集团[)）])?(?:股份有限公司|有限责任公司|有限公司|股份公司|公司)$"
)
# Words that end a phrase before a name: what comes after them is the name
# (拟收购联银通科技 → 联银通科技, 中车供货商通业科技 → 通业科技, 近日收到公司 → nothing).
_ZH_BEFORE_NAME = _split(
    "收购 购买 并购 出售 转让 投资 入股 增资 控股 参股 中标 收到 辞去 离开 加入 注销 减少 回购"
    " 翻查 宣布 公告 披露 表示 认为 成立 设立 旗下 下属 子公司 拟 占 购 及 领导 带领 表明 显示"
    " 说明 证明 减持 增持 持有 控制 管理 经营 运营 通知 确认 成为 担任 出任 任职 履新 退出 进入"
    " 推动 帮助 支持 影响 要求 告知 提醒 同意 批准 起诉 处罚 约谈 通过 作为 代表 向 对 发行 既得"
    " 供应商 供货商"
)
_ZH_BEFORE_NAME_RE = re.compile("|".join(sorted(_ZH_BEFORE_NAME, key=len, reverse=True)))
# Not a name but a count or a kind of firm: 至少有三家公司, 一家设计公司.
_ZH_COUNTED_RE = re.compile("[一二三四五六七八九十两几数多每各某\\d]+[家间个所座]")
# A listed company's short name before its stock code: 恒大高新（002591.SZ）, 中国中铁(601390)
# A stock code in brackets, found first (it is rare), then the name before it.
_CODE_RE = re.compile(
    "[（(][ ]?(?:(?:sz|sh|hk|bj|深|沪|港|股票代码|证券代码|代码)[ ]?[:：.]?[ ]?)?"
    "(?:\\d{6}|\\d{4,5}|0\\d{2})(?:[ ]?[.](?:sz|sh|hk|bj))?[ ]?[)）]"
)
_CODE_BY_BRACKET = _per_opening(_CODE_RE, "[（(]")
_HAN_BEFORE_RE = re.compile(f"[{HAN}]{{2,12}}[ ]?$")
_ORG_GENERIC = _split(
    "子 母 该 这家 那家 一家 两家 多家 本 初创 上市 科技 其 旗下 空壳 控股 有限 股份 投资 创业"
    " 互联网 人工智能 大型 全资 合资 分 未来 中国 美国 国产 全球 国内 海外 本土 一间 这间 那间"
    " 这个 那个 整个 各 多个 相关 有关 知名 头部 龙头 领先 民营 国有 外资 上述 下属 其他 其它 部分 每"
)
_NOT_A_NAME_RE = re.compile(r"[A-Z]\d*|\d+\w{0,2}|\d+(?:\.\d+)?(?:bn|m|k|b|tn|million|billion)")
_TITLE_WORDS = _wordset("Mr Mrs Ms Dr Sir Prof Judge Dame Lord Lady")
_TITLES = re.compile(r"^(?:Mr|Mrs|Ms|Dr|Sir|Prof|Judge|Dame|Lord|Lady)\.?\s+")
# Capitalised words that are not names: sentence openers, months, places, common acronyms.
_LATIN_STOP = _wordset(
    """
    a an the this that these those it its he she they we i you our their his her my your but
    and or if so as at by for from in into of on to with without after before when while
    however meanwhile although though because since until also then there here what which
    who why how where all any some many most more much several such no not one two three new
    monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december ai api gpu cpu ceo cfo coo cto
    cpo vp svp evp md pc hd sd ip pdf agi llm ui ux app apps us usa uk eu un uae china
    chinese american british european russian russia japan japanese korea korean india
    indian german germany french france italian italy texas california english europe asia
    africa london beijing shanghai washington new york hong kong taiwan q1 q2 q3 q4 ok okay
    yes update note see read more via per mr mrs ms dr judge chief executive president
    chairman director officer founder co-founder analyst spokesman spokeswoman reporter chapter
    editor tech news report reports reuters bbc ev evs moscow houston paris tokyo berlin
    sydney toronto delaware silicon valley wall street
    """
)


_JOINERS = frozenset(("of", "and", "&", "de", "den", "van", "von", "der", "la", "le"))
_ENGLISH_NEXT_RE = re.compile(r"(?:[’']s)?[ ,;:]*[a-z]")
# An opener that says something is its sentence's subject, a name: 'Healthvest said it…'.
_SPEAKS_NEXT_RE = re.compile(r"[ ](?:said|says|told|reported|announced)\b")
_ORG_WORDS = _wordset(
    """
    group inc corp corporation ltd llc plc co company labs lab games air bancorp times journal
    herald tribune gazette worlds bank capital
    ventures media film films studio studios holdings partners technologies technology
    systems motors airlines airways commission court agency fund foundation university
    institute international global trust association union council authority department
    ministry network networks software services industries energy pharmaceuticals securities
    """
)


_FIRM_ENDS = _ORG_WORDS | LEGAL_SUFFIXES


class Mention(NamedTuple):  # a tuple: built by the hundred per article, and cheaply
    """A name in one sentence."""

    start: int
    end: int
    name: str  # canonical (table or resolved) or as written
    kind: str  # PERSON, ORG or UNKNOWN
    known: bool  # from the alias table
    initial: bool = False  # one capitalised word opening an English sentence: maybe not a name


def article_mentions(
    text: str,
    folded: str,
    starts: Sequence[int],
    hits: Sequence[Sequence[Hit]],
    pack: RulePack,
    title_end: int = 0,
) -> list[list[Mention]]:
    """The names of each sentence (of the joined article text), leftmost-longest, the alias
    table winning overlaps. `title_end`: where the title's lines end in the text."""
    han = _HAN_RE.search(folded) if holds_from(folded, _HAN_BLOCK) else None
    shaped: list[Mention] = []
    # A gloss follows Chinese characters or dots; a dotted name has a dot: plain English text
    # has neither, which a few `in` tests tell faster than the patterns' passes.
    if han is not None or any(c in folded for c in _GLOSS_MARKS):
        shaped += _glossed(text, folded)
        glossed = _Taken(shaped)
        shaped += [m for m in _dotted(text, folded) if not glossed.overlaps(m)]
    if han is not None:  # both need Chinese characters
        shaped += list(_role_people(text, folded, han.start()))
        shaped += list(_organisations(text, folded))
        # Names known by their place alone, where no name by its shape is: their overlaps
        # among themselves are settled leftmost-longest, with the rest of the sentence's.
        by_place = [
            *_listed(text, folded),
            *_titled(text, folded),
            *_speakers(text, folded, title_end),
            *_subjects(text, folded, han.start()),
            *_objects(text, folded, han.start()),
        ]
        if by_place:
            taken = _Taken(shaped)
            shaped += [m for m in by_place if not taken.overlaps(m)]
    aliases = {
        h.start + d: h.end + d
        for d, found in zip(starts, hits, strict=True)
        for h in found
        if h.term.kind == "alias"
    }
    by_sentence: list[list[Mention]] = [[] for _ in starts]
    for m in shaped:
        i = bisect_right(starts, m.start) - 1
        d = starts[i]
        by_sentence[i].append(
            _new(Mention, (m.start - d, m.end - d, m.name, m.kind, m.known, m.initial))
        )
    _file_latin_names(text, aliases, starts, by_sentence)  # the most numerous: filed as found
    out: list[list[Mention]] = []
    kinds = pack.entity_kinds
    for sentence_hits, own in zip(hits, by_sentence, strict=True):
        if not sentence_hits and not own:
            out.append([])
            continue
        table = [
            _new(Mention, (h.start, h.end, h.term.value, kinds[h.term.value], True, False))
            for h in sentence_hits
            if h.term.kind == "alias"
        ]
        if not table and not own:
            out.append([])
            continue
        if not table:
            found = _leftmost_longest(own)
        elif not own:
            found = _leftmost_longest(table)
        else:
            found = _leftmost_longest(table)
            taken = _Taken(found)
            found += [m for m in _leftmost_longest(own) if not taken.overlaps(m)]
        found.sort(key=_START)
        out.append(found)
    return out


def title_end(sentences: Sequence[Sentence], starts: Sequence[int]) -> int:
    """Where the title's lines end in the joined text (the title comes first)."""
    titled = sum(1 for s in sentences if s.paragraph == 0)
    return starts[titled] if titled < len(starts) else sum(len(s.text) + 1 for s in sentences)


_START = itemgetter(0)  # a Mention's start, read without a Python call


class _Taken:
    """Spans already taken, asked whether a mention overlaps any: one bisection each, not a
    pass over them all (one long line can hold thousands of names). A handful (most
    sentences) are compared one by one: indexing them costs more than the comparisons."""

    _FEW = 8

    def __init__(self, taken: Iterable[Mention]) -> None:
        spans = [(m.start, m.end) for m in taken]
        self.few: list[tuple[int, int]] | None = spans if len(spans) <= self._FEW else None
        if self.few is None:
            spans.sort()
            self.starts = [s for s, _ in spans]
            self.reach = list(accumulate((e for _, e in spans), max))  # furthest end so far

    def overlaps(self, m: Mention) -> bool:
        if self.few is not None:
            for start, end in self.few:  # noqa: SIM110 (a loop: any() would start a generator)
                if start < m.end and end > m.start:
                    return True
            return False
        # Of the spans starting before `m` ends, the furthest-reaching one ends after it starts.
        i = bisect_left(self.starts, m.end) - 1
        return i >= 0 and self.reach[i] > m.start


def _leftmost_longest(mentions: Sequence[Mention]) -> list[Mention]:
    if len(mentions) < 2:
        return list(mentions)
    # The common case: found in order and apart (names by shape are), nothing to choose.
    end = -1
    for m in mentions:
        if m.start < end or m.start >= m.end:
            break
        end = m.end
    else:
        return list(mentions)
    chosen: list[Mention] = []
    for m in sorted(mentions, key=lambda m: (m.start, -(m.end - m.start))):
        if not chosen or m.start >= chosen[-1].end:
            chosen.append(m)
    return chosen


def _glossed(text: str, folded: str) -> Iterable[Mention]:
    for m in matches_by_opening(_GLOSS_BY_BRACKET, text):
        latin = m.group("lat").strip()
        if latin.lower() in _LATIN_STOP:
            continue
        before = folded[max(0, m.start() - 17) : m.start()].rstrip(" ")
        tail = _HAN_TAIL_RE.search(before)
        if tail is None:
            continue
        zh = tail.group()
        zh_end = m.start() - (len(folded[max(0, m.start() - 17) : m.start()]) - len(before))
        dotted = "·" in zh or "•" in zh or "・" in zh
        kind = PERSON if dotted or (" " in latin and not latin.isupper()) else UNKNOWN
        if dotted:
            zh = _trim_translit(zh)
        elif kind == PERSON:
            zh = zh[-3:] if len(zh) >= 3 and zh[-3] in _SURNAMES else zh[-2:]
        yield _shaped(zh_end - len(zh), m.end(), latin, kind)


def _trim_translit(name: str) -> str:
    """Keep the transliterated part: '首席执行官马克·扎克伯格' → '马克·扎克伯格'."""
    start = len(name)
    while start > 0 and (name[start - 1] in _TRANSLIT or name[start - 1] in "·•・"):
        start -= 1
    return name[start:].lstrip("·•・")


def _dotted(text: str, folded: str) -> Iterable[Mention]:
    """'马克·扎克伯格': transliterated parts around a middle dot."""
    dot = _next_dot(folded, 0)
    while dot >= 0:
        begin = dot
        while begin > 0 and dot - begin < 6 and folded[begin - 1] in _TRANSLIT:
            begin -= 1
        end = dot + 1
        while (
            end < len(folded)
            and end - dot <= 12
            and (folded[end] in _TRANSLIT or (folded[end] in "·•・" and end + 1 < len(folded)))
        ):
            end += 1
        while end > dot + 1 and folded[end - 1] in "·•・":
            end -= 1
        if begin < dot and end > dot + 1:
            yield _shaped(begin, end, _canonical(text, folded, begin, end), PERSON)
        dot = _next_dot(folded, max(end, dot + 1))


def _next_dot(folded: str, start: int) -> int:
    """Where _DOT_RE.search(folded, start) matches, -1 if nowhere: three searches in C."""
    found = [at for at in (folded.find(c, start) for c in _DOTS) if at >= 0]
    return min(found) if found else -1


def _han_lines(folded: str, first: int, most: int = 8) -> list[tuple[int, int]]:
    """The lines holding a Chinese character (`first` is the first), as (start, end); the
    whole text when more than `most` do (Chinese text: one pass is cheaper)."""
    out: list[tuple[int, int]] = []
    while True:
        begin = folded.rfind("\n", 0, first) + 1
        end = folded.find("\n", first)
        end = len(folded) if end < 0 else end
        out.append((begin, end))
        if len(out) > most:
            return [(0, len(folded))]
        at = _HAN_RE.search(folded, end)
        if at is None:
            return out
        first = at.start()


def _role_people(text: str, folded: str, first_han: int = 0) -> Iterable[Mention]:
    """People named after their role (首席执行官马化腾) or appointment (任命卢伟冰为总裁).
    A role pattern needs a Chinese name, so it runs only on lines with Chinese characters:
    in English text with a Chinese phrase, its English roles ('ceo') would be tried at every
    'c'. No match spans a line."""
    matches = (
        m
        for begin, end in _han_lines(folded, first_han)
        for m in _ZH_ROLE_RE.finditer(folded, begin, end)
    )
    for m in matches:
        start = m.start("name")
        if folded[start] not in _SURNAMES or folded[m.end() : m.end() + 1] in "·•・":
            continue  # tested before the name is made: most matches fail here
        name = _canonical(text, folded, start, m.end("name"))
        if len(name) == 3 and (
            folded[start + 2] in _AFTER_NAME or folded[start + 2 : start + 4] in ("先生", "女士")
        ):
            name = name[:2]
        if len(name) == 2 and folded[start + 1] in _AFTER_NAME:
            continue
        if name[:1] in _ZH_JOIN or name[:2] in _ZH_ROLE_NOUNS:
            continue  # 董事长和创始人, 首席执行官顾问: a second role, not a name
        yield _shaped(start, start + len(name), name, PERSON)
    for at in _positions(folded, _HONORIFICS):  # 王启辉先生, 李静女士
        for size in (3, 2):
            start = at - size
            name = folded[start:at] if start >= 0 else ""
            if (
                name
                and name[0] in _SURNAMES
                and _HAN_RE.fullmatch(name[-1])
                and _HAN_RE.fullmatch(name[1])
                and not (size == 3 and name[1] in _AFTER_NAME)
                and name[:2] not in _ZH_ROLE_NOUNS
            ):
                yield _shaped(start, at, _canonical(text, folded, start, at), PERSON)
                break
    appointing = any(word in folded for word in _APPOINTING)
    for m in _APPOINTED_RE.finditer(folded) if appointing else ():  # 任命卢伟冰为总裁
        start = m.start("name")
        if folded[start] in _SURNAMES:
            name = _canonical(text, folded, start, m.end("name"))
            yield _shaped(start, m.end("name"), name, PERSON)


# Who speaks or owns, as a clause opens: 金字火腿发布公告称…, 近日，人福医药宣布…, 永辉超市董事长
# 张轩松…, 腾讯旗下…: a short name with no suffix, known by its place.
_SUBJECT_ROLES = _split(
    "董事长 副董事长 总裁 总经理 首席执行官 执行长 行政总裁 首席财务官 创始人 董秘 董事会秘书 行长"
)
# Every alternative opens with a character, so the engine skips ahead to those characters (a
# group among them would make it try the whole alternation at every character: 15× slower).
_SUBJECT_CUE_RE = re.compile(
    "发布了?公告|公告称|公告显示|宣布|旗下|"
    + "|".join(f"{role}(?![/、和与及])" for role in _SUBJECT_ROLES)
)
_CLAUSE_START = frozenset("，。；：！？、\n（(“ ")
_WHEN_WORDS = frozenset(_split("今日 今天 昨日 日前 近日 晚间 早间"))
_ALL_HAN_RE = re.compile(f"[{HAN}]+")
# A role that a subject's name would run into (联合创始人 is not 联合 + 创始人).
_ZH_ROLE_AT_RE = re.compile("|".join(r for r in _ZH_ROLES if not r.isascii()))
# Subjects that are no one in particular.
_GENERIC_SUBJECTS = frozenset(
    _split(
        "公司 本公司 该公司 集团 本集团 该集团 上市公司 董事会 管理层 双方 对方 官方 外界 业内 市场"
        " 媒体 记者 报道 消息 人士 专家 分析师 投资者 股东 股民 机构 监管 法院 政府 我们 他们 她们"
        " 其中 此外 同时 随后 目前 今年 去年 此前 本次 此次 其 该 他 她 它 日前 近日 公告 联合"
    )
)
_NOT_IN_SUBJECT = set("的了们在是和与及或从向对被将把给于为也都就还又并其该这那此各某年月日")


# The object of a deal verb: 收购宜昌人福55%股权, 约谈美团, 投资编程猫。
_OBJECT_CUES = ("收购", "并购", "入股", "参股", "控股", "约谈", "起诉", "战略投资", "领投", "增资")
_OBJECT_CUE_RE = re.compile("|".join(_OBJECT_CUES))
_OBJECT_RE = re.compile(f"[{HAN}]{{2,6}}")
# What a deal verb takes that is not a name.
_COMMON_OBJECTS = (
    "资产 项目 股权 股份 业务 计划 事项 方案 协议 合同 资金 工作 事宜 标的 公司 企业 集团 子公司"
    " 平台 部分 全部 相关 其 该 这 此 一 两 多 旗下 境外 海外 国内 同行 对手 竞争 少数 剩余 目标 完成 成功"
    " 后 前 以 及 等 的 了 为 将 已 正 再 又 并 与 和 或 完 事 交易 价格 金额 计划 行为 案 方式 进行"
    " 谈判 年报 报告 公告 消息 传闻 事件 问题 风险 申报 技术 产品 服务 市场 份额 资格 许可 权益 债权"
    " 债务 土地 资源 品牌 团队 人才 专利 版权 门店 工厂 资质 无 到 不"
)
_COMMON_OBJECT_HEADS = tuple(_split(_COMMON_OBJECTS))


def _objects(text: str, folded: str, first_han: int = 0) -> Iterable[Mention]:
    """The name a deal verb takes, up to the next particle, number or break."""
    if not any(word in folded for word in _OBJECT_CUES):
        return  # a few searches in C tell it faster than the pattern's pass
    cues = (
        cue
        for begin, end in _han_lines(folded, first_han)
        for cue in _OBJECT_CUE_RE.finditer(folded, begin, end)
    )
    for cue in cues:
        run = _OBJECT_RE.match(folded, cue.end())
        if run is None:
            continue
        name = run.group()
        for stop in _ORG_STOP:
            if stop in name:
                name = name[: name.index(stop)]
        if (
            len(name) < 2
            or name.startswith(_COMMON_OBJECT_HEADS)
            or _ORG_RE.search(name)
            or _ZH_BEFORE_NAME_RE.search(name)
            or _ZH_COUNTED_RE.search(name)
            or _role_within(folded, cue.end(), cue.end() + len(name))
        ):
            continue
        after = folded[cue.end() + len(name) : cue.end() + len(name) + 1]
        if after and not (after in _ORG_STOP or after.isdecimal() or after in "股旗"):
            continue  # the run goes on: the name's end is unknown
        if folded.count(name) < 2:
            continue  # a name is named again; a passing word (谈判, 年报) seldom
        start = cue.end()
        end = start + len(name)
        yield _shaped(start, end, _canonical(text, folded, start, end), ORG)


def _role_within(folded: str, start: int, end: int) -> bool:
    """A role starts inside folded[start:end] (联合|创始人, 新罗酒店执|行长)."""
    role = _ZH_ROLE_AT_RE.search(folded, start, end + 4)
    return role is not None and role.start() < end


def _subjects(text: str, folded: str, first_han: int = 0) -> Iterable[Mention]:
    """Names by their place: the subject of an announcement, the owner of a subsidiary,
    the employer before a role. On lines with Chinese characters only."""
    cues = (
        cue
        for begin, end in _han_lines(folded, first_han)
        for cue in _SUBJECT_CUE_RE.finditer(folded, begin, end)
    )
    for cue in cues:  # the cue first (rare), then the clause before it
        end = cue.start()
        if folded[end - 2 : end] in _WHEN_WORDS:  # 金字火腿今日公告称
            end -= 2
        start = end
        while start > 0 and end - start <= 6 and folded[start - 1] not in _CLAUSE_START:
            start -= 1
        name = folded[start:end]
        if (
            not 3 <= len(name) <= 6
            or (start and folded[start - 1] not in _CLAUSE_START)
            or not _ALL_HAN_RE.fullmatch(name)
            or name in _GENERIC_SUBJECTS
            or name.startswith(_ORG_GENERIC)
            or any(c in _NOT_IN_SUBJECT for c in name)
            or _ZH_BEFORE_NAME_RE.search(name)
            or _ZH_COUNTED_RE.search(name)
            or _role_within(folded, start, end)
        ):
            continue
        kind = PERSON if len(name) <= 3 and name[0] in _SURNAMES else ORG
        yield _shaped(start, end, _canonical(text, folded, start, end), kind)


# A headline that opens with who speaks: 翔鹭钨业：股东…解除质押.
_SPEAKER_RE = re.compile(f"([{HAN}]{{2,6}})[：:]")


def _speakers(text: str, folded: str, title_end: int) -> Iterable[Mention]:
    """The speaker before the headline's colon, when the article names it again (a
    headline's rubric, 重磅：, 独家：, seldom recurs)."""
    m = _SPEAKER_RE.match(folded, 0, title_end)
    if m is None:
        return
    start, end = m.span(1)
    name = m.group(1)
    if (
        name in _GENERIC_SUBJECTS
        or name.startswith(_ORG_GENERIC)
        or any(c in _NOT_IN_SUBJECT for c in name)
        or _ZH_BEFORE_NAME_RE.search(name)
        or _ZH_COUNTED_RE.search(name)
        or _role_within(folded, start, end)
        or folded.find(name, title_end) < 0
    ):
        return
    kind = PERSON if len(name) <= 3 and name[0] in _SURNAMES else ORG
    yield _shaped(start, end, _canonical(text, folded, start, end), kind)


def _organisations(text: str, folded: str) -> Iterable[Mention]:
    for m in _ORG_RE.finditer(folded):
        suffix = m.group()
        if suffix in _WEAK_SUFFIXES:
            after = folded[m.end() : m.end() + 1]
            if after in _ORG_NOT_BEFORE and folded[m.end() : m.end() + 2] not in _NAME_THEN:
                continue
        reach = 14 if suffix in _LONG_SUFFIXES else 8
        head_match = _ORG_HEAD_RE.search(folded, max(0, m.start() - reach), m.start())
        head = head_match.group() if head_match else ""
        if _ORG_RE.search(head):  # another suffix inside: the name starts after the last one
            head = head[max(head.rfind(s) + len(s) for s in _ORG_SUFFIXES if s in head) :]
        head = _after_last_cue(head)
        shortest = 3 if suffix in ("公司", "家族") else 2
        if suffix == "股份" and (len(head) > 4 or "股" in head):
            continue  # a short name (金科股份), not shares (发行股份, 万股既得股份)
        if (
            len(head) < shortest
            or _generic_head(head)
            or head.endswith(_ORG_GENERIC)
            or _ZH_COUNTED_RE.search(head)
        ):
            continue
        start = m.start() - len(head)
        name = _zh_legal_folded(_canonical(text, folded, start, m.end()))
        yield _shaped(start, m.end(), name, ORG)


def _generic_head(head: str) -> bool:
    """该公司, 中国公司, 美国科技公司: a kind of firm, not a name; but 中国建设银行 is one."""
    if not head.startswith(_ORG_GENERIC):
        return False
    rest = head
    while rest.startswith(_ORG_GENERIC):
        rest = rest[max(len(g) for g in _ORG_GENERIC if rest.startswith(g)) :]
    return len(rest) < 2 or rest in _ORG_SUFFIXES


def _after_last_cue(head: str) -> str:
    """What follows the last verb or particle that cannot be inside a name."""
    cut = 0
    for cue in _ZH_BEFORE_NAME_RE.finditer(head):
        cut = cue.end()
    return head[cut:]


def _zh_legal_folded(name: str) -> str:
    """太极实业股份有限公司 → 太极实业: the legal form is not part of who it is (kept when
    too little would be left: 小米公司 stays)."""
    short = _ZH_LEGAL_RE.sub("", name)
    return short if len(short) >= 2 and short != name and not short.endswith(_ORG_GENERIC) else name


def _listed(text: str, folded: str) -> Iterable[Mention]:
    """A listed company's short name, as it stands before its stock code."""
    if "(" not in folded and "（" not in folded:
        return
    for m in matches_by_opening(_CODE_BY_BRACKET, folded):
        tail = _HAN_BEFORE_RE.search(folded, max(0, m.start() - 13), m.start())
        if tail is None:
            continue
        head = tail.group().rstrip(" ")
        end = tail.start() + len(head)
        for stop in _ORG_STOP:
            if stop in head:
                head = head[head.rfind(stop) + 1 :]
        head = _after_last_cue(head)
        if _ORG_RE.search(head[-2:]) and _ZH_LEGAL_RE.search(head):
            continue  # a registered name: the organisation pattern has it
        head = head[-4:] if len(head) > 4 else head  # short names are of 2 to 4 characters
        if len(head) < 2 or head.startswith(_ORG_GENERIC):
            continue
        yield _shaped(end - len(head), end, _canonical(text, folded, end - len(head), end), ORG)


# A publication is a firm too: 《香港01》创办人…, 网媒《香港01》, 《端》大股东: a title with a role or
# its staff after it, or an outlet's kind before it, names an employer, not a work (《堡垒之夜》).
_TITLED_RE = re.compile("《([^《》\\n]{2,10})》")
_OUTLET_BEFORE = ("网媒", "媒体", "传媒", "报章", "网站", "杂志")
_EMPLOYER_AFTER_RE = re.compile(
    "(?:大|前|执行|副)?(?:" + "|".join(r for r in _ZH_ROLES if not r.isascii()) + ")|母公司|员工"
)


def _titled(text: str, folded: str) -> Iterable[Mention]:
    """Every mention, inside its brackets, of a title that names a publication once."""
    if "《" not in folded:
        return
    titles = list(_TITLED_RE.finditer(folded))
    employers = {
        m.group(1)
        for m in titles
        if folded[: m.start()].endswith(_OUTLET_BEFORE) or _EMPLOYER_AFTER_RE.match(folded, m.end())
    }
    for m in titles:
        if m.group(1) in employers:
            start, end = m.span(1)
            yield _shaped(start, end, _canonical(text, folded, start, end), ORG)


def _canonical(text: str, folded: str, start: int, end: int) -> str:
    """The name as written, its Chinese characters simplified (folded has them so, and is as
    long): 太極實業 and 太极实业 are one actor, whichever script the article is in."""
    surface = text[start:end]
    if surface.isascii() or surface == folded[start:end]:  # nothing to fold: simplified Chinese
        return surface
    return "".join(
        f if "\u3400" <= f <= "\u9fff" else t
        for t, f in zip(surface, folded[start:end], strict=True)
    )


# Where a name stands in a run of capitalised words: (offset in the run, length, name, kind,
# one word). A function of the run alone: worked out once per distinct run of an article.
_Part = tuple[int, int, str, str, bool]


def _file_latin_names(
    text: str, aliases: dict[int, int], starts: Sequence[int], by_sentence: list[list[Mention]]
) -> None:
    """Names in Latin letters, each filed into its line (of `starts`) as it is found, at a
    position in that line. A loop, not a generator: a hundred names an article."""
    if not starts:
        return
    line, last = 0, len(starts) - 1
    shift, following = starts[0], starts[1] if last else len(text) + 1
    filed = by_sentence[0]
    for m in _LATIN_NAME_RE.finditer(text):
        parts = _name_parts(m.group())
        if not parts:  # 'The', 'In', '2024': most runs
            continue
        start, end = m.span()
        if aliases.get(start, -1) >= end:
            continue  # the alias table has it
        if start >= following:
            while line < last and starts[line + 1] <= start:
                line += 1
            shift, filed = starts[line], by_sentence[line]
            following = starts[line + 1] if line < last else len(text) + 1
        if _a_product_or_place(text, start, end, parts):
            continue
        if len(parts) > 1 and text[end : end + 1] == "," and _a_town(text, end, parts[-1]):
            parts = parts[:-1]  # 'Brenmoor Corp of Paterson, N.J.'
        for offset, size, name, kind, single in parts:
            at = start + offset
            initial = (
                single
                and (at == 0 or text[at - 1] == "\n")
                and _ENGLISH_NEXT_RE.match(text, at + size) is not None
                and _SPEAKS_NEXT_RE.match(text, at + size) is None
            )
            filed.append(_new(Mention, (at - shift, at - shift + size, name, kind, False, initial)))


# A version after a name makes it a product ('Llama 4', 'Voice Design v3', 'GPT 4.1'): a
# number of one or two digits, not a quantity ('Nvidia 5%', 'Apple 2024', 'Tesla 3 亿').
_VERSION_AFTER_RE = re.compile(
    r"[ ]?[vV]?\d{1,2}(?:\.\d+)*(?![\d.,%:/]|[ ]?(?:%|percent|per|bn|mn|m\b|k\b|b\b|million"
    r"|billion|trillion|pct|dlrs|stg|yen|亿|万|千|百|美元|元|年|月|日|号|家|名|个|位|岁|倍|股|点|次|天|小时"
    r"|分钟|周|%))"
)
_MODEL_BEFORE_RE = re.compile(r"(?:模型|型号|models?[ ]|version[ ])[ ]?$", re.IGNORECASE)
_MODEL_AFTER_RE = re.compile(r"[ ]?(?:大?模型|models?\b|型号)")
# One word with a version in it: 'Llama4.1', 'RAV4', 'BB10'.
_VERSIONED_RE = re.compile(r"[A-Za-z][A-Za-z-]*\d{1,2}(?:\.\d+)*")
# 'Portland, Ore.', 'Paterson, N.J.': a town and its state, as a dateline names them.
_STATE_AFTER_RE = re.compile(r",[ ]?([A-Z][A-Za-z.]{1,13})")


def _a_product_or_place(text: str, start: int, end: int, parts: Sequence[_Part]) -> bool:
    """A run (of at most three words, not a firm) that is a product by its version or by
    'model' before it, or a town by the state after it. Cheap tests first: it runs for
    every name of an article."""
    if len(parts) != 1 or parts[0][3] == ORG or parts[0][2].count(" ") > 2:
        return False
    after = text[end : end + 14]
    first = after[:1]
    near = after[1:2] if first == " " else first
    if (near.isdecimal() or near in ("v", "V")) and near and _VERSION_AFTER_RE.match(after):
        return True
    if ("模" in after[:3] or "型" in after[:2] or near in ("m", "M")) and _MODEL_AFTER_RE.match(
        after
    ):
        return True
    before = text[max(0, start - 8) : start]
    if ("模" in before or "型" in before or "odel" in before or "ersion" in before) and (
        _MODEL_BEFORE_RE.search(before)
    ):
        return True
    name = parts[0][2]
    if name[-1].isdecimal() and _VERSIONED_RE.fullmatch(name):
        return True
    return first == "," and _a_town(text, end, parts[0])


def _a_town(text: str, end: int, part: _Part) -> bool:
    """The name ending the run at `end` is a town: a state or country follows it."""
    if part[3] == ORG or part[2].count(" ") > 2:
        return False
    state = _STATE_AFTER_RE.match(text, end, end + 14)
    return state is not None and state.group(1).lower().rstrip(".") in REGIONS


# A function of the run alone, and the same runs ('The', 'Yukos', 'Microsoft') recur within
# and across articles: remembered, in bounded memory.
@lru_cache(maxsize=1 << 14)
def _name_parts(run: str) -> tuple[_Part, ...]:
    if " " in run:
        return tuple(_latin_name(0, run.split(" ")))
    lower = run.lower()  # one word: the common case, kept cheap
    if lower.rstrip(".") in _LATIN_STOP or _not_a_name(run):
        return ()
    name = run
    for suffix in ("'s", "’s", "'", "’"):
        name = name.removesuffix(suffix)
    if len(name) < 2 or _a_word(name):
        return ()
    return ((0, len(name), name, UNKNOWN, True),)


def _a_word(word: str) -> bool:
    """A capitalised word of the language, a place, a role, a legal form, a business
    abbreviation or a kind of firm alone ('Struggling', 'Canadian', 'LLC', 'IPO', 'Group'):
    it names no one."""
    lower = word.lower()
    return (
        lower in COMMON
        or lower in PLACES
        or lower in ACRONYMS
        or lower in LEGAL_SUFFIXES
        or lower in ROLES
        or lower in _ORG_WORDS
        or lower.endswith("-based")
    )


def _latin_name(start: int, words: list[str]) -> Iterable[_Part]:
    """One run of capitalised words; 'Mike Powell of Dresdner Kleinwort' is two names, and
    so are 'Workday CEO Carl Eschenbach' and a title's 'Skydance Has Held Talks'."""
    if "of" in words[2:]:
        cut = words.index("of", 2)
        yield from _latin_name(start, words[:cut])
        start += len(" ".join(words[: cut + 1])) + 1
        words = words[cut + 1 :]
    broken = _break_in(words)
    if broken is not None:
        yield from _latin_name(start, words[:broken])
        rest = start + len(" ".join(words[: broken + 1])) + 1
        yield from _latin_name(rest, words[broken + 1 :])
        return
    # A firm's name (a legal form or a word like 'Bank' in it) keeps its common words:
    # 'American Motors Corp', 'Bank of America', 'Standard Oil Co'.
    firm = len(words) > 1 and any(
        w.lower() in _ORG_WORDS or w.lower() in LEGAL_SUFFIXES for w in words
    )
    while words and (
        words[0].lower().rstrip(".") in FUNCTION
        or (not firm and words[0].lower().rstrip(".") in _LATIN_STOP)
        or words[0] in _JOINERS
        or _not_a_name(words[0])
        or words[0].lower() in VERB_FORMS
        or words[0].lower() in ACRONYMS
        or words[0].lower().endswith("-based")
    ):
        start += len(words[0]) + 1
        words = words[1:]
    while words and words[-1] in _JOINERS:
        words = words[:-1]
    if not firm:
        if words and _latin_kind(words) != PERSON:
            while words and _plain_word(words[-1]):  # 'Glenmark-AbbVie Deal', 'RAV4 SUVs'
                words = words[:-1]
        if not words or all(_plain_word(w) or len(w) == 1 for w in words):
            return  # 'Video Model', 'Big Tech', 'Series E'

    if not words:
        return
    kind = ORG if firm else _latin_kind(words)
    name = " ".join(words)
    for suffix in ("'s", "’s", "'", "’"):
        name = name.removesuffix(suffix)
    titled = _TITLES.sub("", name) if words[0].rstrip(".") in _TITLE_WORDS else name
    start += len(name) - len(titled)
    name = titled
    if len(name) < 2 or _not_a_name(name) or (" " not in name and _a_word(name)):
        return
    yield start, len(name), name, kind, len(words) == 1


def _plain_word(word: str) -> bool:
    lower = word.lower()
    return lower in COMMON or lower in PLACES or lower in ACRONYMS or lower in _LATIN_STOP


def _break_in(words: Sequence[str]) -> int | None:
    """Where a run of capitalised words is not one name: at a role ('CEO'), a word like
    'New York-based', a function word ('Has', 'With') or, in a title-cased headline of four
    words or more, a verb ('Announces')."""
    for i, word in enumerate(words):
        lower = word.lower()
        if i and (lower in ROLES or lower.endswith("-based")):
            return i
        if 0 < i < len(words) - 1 and lower in FUNCTION and word not in _JOINERS:
            return i
        if word == "and" and words[i - 1].lower() in _FIRM_ENDS:
            return i  # 'Seismic Holdings Inc and Energy Holdings Inc': two firms
    if len(words) >= 4 and sum(w.lower() in COMMON for w in words) * 2 >= len(words):
        verbs = [i for i in range(1, len(words) - 1) if words[i].lower() in VERB_FORMS]
        if verbs:
            return verbs[-1]
    return None


@lru_cache(maxsize=1 << 12)
def without_legal_form(name: str) -> str:
    """'Apple Inc' → 'Apple', 'Oppenheimer and Co Inc' → 'Oppenheimer': the legal form is not
    part of who it is; but 'Time Inc' is not 'Time' (a word alone names no one). Done once
    the article's names are resolved: 'Gelco Corp' is whole, not short for 'Gelco Express'."""
    words = name.split(" ")
    while len(words) > 1 and (
        words[-1].lower().rstrip(",") in LEGAL_SUFFIXES or words[-1] in _JOINERS
    ):
        words = words[:-1]
    words[-1] = words[-1].rstrip(",")
    if len(words) == 1 and _a_word(words[0]):
        return name
    return " ".join(words)


def _not_a_name(word: str) -> bool:
    """'Q3', '2024', '5bn': a capital and digits, or a number. Most words fail on their first
    two characters, without the pattern."""
    first, second = word[:1], word[1:2]
    if not (first.isdecimal() or ("A" <= first <= "Z" and (not second or second.isdecimal()))):
        return False
    return _NOT_A_NAME_RE.fullmatch(word) is not None


def _latin_kind(words: Sequence[str]) -> str:
    if any(w.lower() in _ORG_WORDS for w in words):
        return ORG
    if len(words) in (2, 3) and all(map(_capitalised, words[:-1])) and _surname(words[-1]):
        return PERSON
    return UNKNOWN


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and word[1:].islower()


def _surname(word: str) -> bool:
    """'Tan', and a double surname ('Mohd-Saaid'); 'Quillon-Varda Deal' is a pair's deal."""
    return all(map(_capitalised, word.split("-")))


def resolve(
    mentions: list[list[Mention]], sentences: Sequence[Sentence], folded: str, starts: Sequence[int]
) -> list[list[Mention]]:
    """Within one article: short forms to full names, Chinese forms to their Latin gloss, and
    names found once by their shape found again wherever they recur."""
    full: dict[str, tuple[str, str]] = {}  # folded surface → (name, kind)
    latin_names: list[tuple[str, str]] = []
    for sentence, found in zip(sentences, mentions, strict=True):
        if not found:
            continue
        folded_line = sentence.folded
        for m in found:
            if m.known:
                continue
            # _zh_part inlined for the common Latin name, whose first character settles it
            zh = _zh_part(folded_line[m.start : m.end]) if folded_line[m.start] >= "\u00b7" else ""
            if zh:
                full.setdefault(zh, (m.name, m.kind))
                if m.kind == PERSON:
                    parts = _DOT_RE.split(zh)
                    if len(parts) > 1 and len(parts[-1]) >= 2:
                        full.setdefault(parts[-1], (m.name, m.kind))
            if m.name[:1].isascii() and m.name[:1].isalpha():
                latin_names.append((m.name, m.kind))
    for found in mentions:
        latin_names += [(m.name, m.kind) for m in found if m.known and " " in m.name]
    if latin_names and full:
        _match_transliterations(full, latin_names)
    longer = _latin_long_forms(latin_names)
    doubtful = _doubtful_openers(mentions, sentences)
    recurring = _recurring(full, folded, starts)
    result: list[list[Mention]] = []
    for i, (sentence, found) in enumerate(zip(sentences, mentions, strict=True)):
        if not found and i not in recurring:
            result.append(found)
            continue
        out = []
        folded_line = sentence.folded
        for m in found:
            if m.initial and m.name in doubtful:
                continue
            if not m.known:
                # A Latin name (the first character settles it) has no Chinese part: skip
                # the slice and the pattern. '' is never a key of `full`.
                zh = (
                    _zh_part(folded_line[m.start : m.end])
                    if full and folded_line[m.start] >= "\u00b7"
                    else ""
                )
                if zh in full and full[zh][0] != m.name:
                    m = _new(Mention, (m.start, m.end, full[zh][0], full[zh][1], False, False))
                elif m.name in longer:
                    name, kind = longer[m.name]
                    m = _new(Mention, (m.start, m.end, name, kind, False, False))
                if " " in m.name:
                    short = without_legal_form(m.name)
                    if short != m.name:
                        m = _new(Mention, (m.start, m.end, short, m.kind, False, m.initial))
            out.append(m)
        again = recurring.get(i)
        if again:  # most sentences have no recurrence: no spans to index
            taken = _Taken(out)
            extra = [m for m in again if not taken.overlaps(m)]
            if extra:
                out += _leftmost_longest(extra)
                out.sort(key=_START)
        result.append(out)
    return result


# The first sound of a syllable Chinese uses to transliterate a foreign name, by the
# pinyin initial of its character ('' for a vowel). 柯德斯塔尼 starts k, d: Kordestani.
_INITIALS = {
    c: initial
    for initial, chars in (
        ("b", "巴拜班邦保鲍贝本比彼毕宾冰波伯博布"),
        ("p", "帕潘庞佩彭皮珀普"),
        ("m", "马玛迈麦曼梅门蒙米密缅敏莫默姆穆"),
        ("f", "法凡范菲费芬丰弗福"),
        ("d", "达戴丹道德迪蒂丁东杜多"),
        ("t", "塔泰坦汤唐陶特提汀图托"),
        ("n", "纳娜奈南内尼妮宁纽努诺"),
        ("l", "拉莱赖兰朗劳勒雷蕾黎利莉里理丽连林琳隆卢鲁路伦罗洛吕"),
        ("g", "盖甘冈高戈格哥古圭果"),
        ("k", "卡凯坎康柯科克肯库夸奎"),
        ("h", "哈海汉豪赫黑亨华怀霍"),
        ("j", "基吉加贾杰金津"),
        ("q", "奇齐恰乔切钦琼丘琪"),
        ("x", "西希锡夏谢辛休许雪"),
        ("zh", "詹珍朱"),
        ("ch", "查"),
        ("sh", "沙莎尚舍绍申圣施什史"),
        ("r", "瑞"),
        ("z", "泽扎兹佐"),
        ("c", "才茨"),
        ("s", "萨塞赛森斯松苏索"),
        ("y", "雅亚延扬耶伊因英尤于约娅"),
        ("w", "瓦万旺威韦维温沃乌伍"),
        ("", "阿埃艾爱安昂奥澳厄恩尔欧"),
    )
    for c in chars
}
# The English spellings each initial stands for (English r is Chinese l: 罗伯特 Robert).
_SOUNDS = {
    "b": ("b",), "p": ("p",), "m": ("m",), "f": ("f", "ph", "v"), "d": ("d", "t"),
    "t": ("t", "th", "d"), "n": ("n", "kn"), "l": ("l", "r", "wr"), "g": ("g", "gu"),
    "k": ("k", "c", "ch", "q", "kh"), "h": ("h", "wh"), "j": ("j", "g", "ge", "gi"),
    "q": ("ch", "q", "ki", "chi", "c"), "x": ("s", "sh", "x", "c", "sch"),
    "zh": ("j", "zh", "g"), "ch": ("ch", "c", "tsch"), "sh": ("sh", "sch", "s", "ch"),
    "r": ("r",), "z": ("z", "s", "ts"), "c": ("ts", "c", "z"), "s": ("s", "c", "z", "ps"),
    "y": ("y", "i", "e", "j", "u"), "w": ("w", "v", "wh", "u", "o"),
    "": ("a", "e", "i", "o", "u", "y", "h"),
}  # fmt: skip


def _sounds_like(zh: str, word: str) -> bool:
    """A transliterated part sounds like an English word: same first sound, a second
    syllable's sound among the word's later consonants, and a like number of syllables."""
    word = word.lower()
    first = _INITIALS.get(zh[0])
    if first is None or not word.startswith(_SOUNDS[first]):
        return False
    syllables = len(re.findall("[aeiouy]+", word)) or 1
    if not syllables - 1 <= len(zh) <= syllables + 3:
        return False
    if len(zh) > 1:
        second = _INITIALS.get(zh[1])
        if second is None:
            return False
        if second and not any(sound in word[1:] for sound in _SOUNDS[second]):
            return False
    return True


def _match_transliterations(
    full: dict[str, tuple[str, str]], latin_names: Sequence[tuple[str, str]]
) -> None:
    """布雷特·泰勒 is Bret Taylor when the article also writes the English name (and
    柯德斯塔尼 is Kordestani): one actor, the English spelling, as a gloss would give."""
    people = {name for name, kind in latin_names if kind != ORG and name.isascii()}
    for surface, (name, kind) in list(full.items()):
        if kind != PERSON or name.isascii() or "·" not in surface:
            continue
        parts = [p for p in _DOT_RE.split(surface) if p]
        matches = {
            english
            for english in people
            if _same_person(parts, english.replace("-", " ").split(" "))
        }
        if len(matches) == 1:
            english = matches.pop()
            for key in (surface, parts[-1]):
                if full.get(key, (name,))[0] == name:
                    full[key] = (english, PERSON)


def _same_person(parts: Sequence[str], words: Sequence[str]) -> bool:
    if len(words) == 1:  # a surname alone: a long last part, its third sound too
        last = parts[-1]
        third = _INITIALS.get(last[2]) if len(last) >= 3 else None
        return (
            third is not None
            and _sounds_like(last, words[0])
            and (not third or any(s in words[0].lower()[2:] for s in _SOUNDS[third]))
        )
    return _sounds_like(parts[0], words[0]) and _sounds_like(parts[-1], words[-1])


def _doubtful_openers(mentions: list[list[Mention]], sentences: Sequence[Sentence]) -> set[str]:
    """'State owned Rosneft…', 'Looking ahead…': a capitalised opener is a name only if the
    article never writes it in lower case and names it more than once."""
    openers = {m.name for found in mentions for m in found if m.initial}
    if not openers:
        return set()
    # Only the openers' names are counted: a few of the article's hundred names.
    counts: Counter[str] = Counter(m.name for found in mentions for m in found if m.name in openers)
    inner = {m.name for found in mentions for m in found if not m.initial and m.name in openers}
    text = "\n".join(s.text for s in sentences)
    return {
        name
        for name in openers
        if (counts[name] < 2 and name not in inner) or _written_lower(name.lower(), text)
    }


def _written_lower(word: str, text: str) -> bool:
    """`word` (lower case) stands in `text` as a whole word: a few finds, not a list of every
    lower-case word of the article."""
    if not _LOWER_WORD_RE.fullmatch(word):
        return False
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if not _is_word_char(text, at - 1) and not _is_word_char(text, end):
            return True
        at = text.find(word, at + 1)
    return False


def _is_word_char(text: str, i: int) -> bool:
    """What `\\w` matches (letters and digits of any script, and '_'); False off the ends."""
    if i < 0 or i >= len(text):
        return False
    c = text[i]
    return c.isalnum() or c == "_"


def _zh_part(surface: str) -> str:
    if surface[:1] < "\u00b7":  # a Latin name: every character of the class comes later
        return ""
    match = _ZH_PART_RE.match(surface)
    return match.group() if match and len(match.group()) >= 2 else ""


def _latin_long_forms(names: Sequence[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """'Bondi' → 'Enrico Bondi', 'Menatep' → 'Menatep Group' when the article has both."""
    distinct = dict(names)
    ends: dict[str, list[str]] = {}
    for long_ in distinct:
        if " " in long_:
            for part in _ends_of(long_):
                ends.setdefault(part, []).append(long_)
    return {
        short: (ends[short][0], distinct[ends[short][0]])
        for short in distinct
        if len(short) >= 3 and len(ends.get(short, ())) == 1
    }


# The longest short form sought: every form of a run of n capitalised words would cost n²
# (a line of 'Orion Orion …' is one run of 30,000 words).
_SHORT_FORM_WORDS = 5


@lru_cache(maxsize=1 << 12)
def _ends_of(name: str) -> tuple[str, ...]:
    """The shorter forms of a name of several words: its first and its last words (up to
    `_SHORT_FORM_WORDS` of them), each once. A function of the name alone, and names recur:
    remembered."""
    words = name.split(" ")
    most = min(len(words) - 1, _SHORT_FORM_WORDS)
    heads = [" ".join(words[:i]) for i in range(1, most + 1)]
    tails = [" ".join(words[-i:]) for i in range(most, 0, -1)]
    return tuple(dict.fromkeys(heads + tails))


def _recurring(
    full: dict[str, tuple[str, str]], folded: str, starts: Sequence[int]
) -> dict[int, list[Mention]]:
    """Every place a name found by its shape recurs, by sentence."""
    out: dict[int, list[Mention]] = {}
    for surface, (name, kind) in full.items():
        at = folded.find(surface)
        while at >= 0:
            i = bisect_right(starts, at) - 1
            d = starts[i]
            out.setdefault(i, []).append(
                _new(Mention, (at - d, at - d + len(surface), name, kind, False, False))
            )
            at = folded.find(surface, at + len(surface))
    return out
