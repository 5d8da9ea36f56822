"""Term lists: word frequencies and codebook expansion suggestions.

Words come from the jieba tokenizer with the codebook's terms in its user dictionary
(:mod:`casecoder.lang_zh`). A *candidate term* for a code is a word of two or more
characters, not already a term of the codebook, that occurs in the units coded with
that code clearly more often than in the corpus as a whole: ranked by the lift
``(in-code share) / (corpus share)`` with at least ``min_count`` occurrences in coded
units. They are suggestions for the analyst to read, never added automatically.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from casecoder.models import Codebook
from casecoder.queries import frame_id, sentence_texts
from casecoder.store import Store

_WORD = re.compile(r"^[\u4e00-\u9fffA-Za-z]{2,}$")
STOPWORDS = frozenset(
    "我们 他们 你们 一个 这个 那个 什么 没有 就是 还是 以及 通过 进行 开展 实现 推动 提升 相关 "
    "工作 方面 情况 问题 可以 已经 其中 同时 为了 因为 所以 但是 如果 这些 那些 自己 主要 "
    "一些 不是 也是 对于 作为 还有 这样 那么 然后 之后 以上 以下 等等".split()
)


def word_frequencies(store: Store, codebook_terms: list[str] | None = None, jobs: int = 1,
                     ) -> Counter:
    """Word counts over every current sentence (words of 2+ characters, no stopwords)."""
    from casecoder.lang_zh import ZhTokenizer, word_counts

    texts = [t for *_, t in sentence_texts(store)]
    counts = word_counts(ZhTokenizer(codebook_terms or []), texts, jobs=jobs)
    return Counter({w: n for w, n in counts.items() if _WORD.match(w) and w not in STOPWORDS})


def candidate_terms(store: Store, pass_name: str, codebook: Codebook, top: int = 10,
                    min_count: int = 3) -> dict[str, list[dict[str, Any]]]:
    """Words that go with each frame code in ``pass_name`` but are not in the codebook."""
    from casecoder.coding import codebook_terms
    from casecoder.lang_zh import ZhTokenizer

    store.require_pass(pass_name)
    known = set(codebook_terms(codebook))
    tok = ZhTokenizer(sorted(known))
    units: dict[tuple[int, int, int], set[str]] = defaultdict(set)
    for c in store.codings(pass_name):
        units[(c.source_id, c.start_char, c.end_char)].add(frame_id(c.code))
    overall: Counter = Counter()
    per_code: dict[str, Counter] = defaultdict(Counter)
    code_total: Counter = Counter()
    for sid, s, e, text in sentence_texts(store):
        words = [w for w in tok.words(text) if _WORD.match(w) and w not in STOPWORDS]
        overall.update(words)
        for code in units.get((sid, s, e), ()):
            per_code[code].update(words)
            code_total[code] += len(words)
    total = sum(overall.values()) or 1
    out: dict[str, list[dict[str, Any]]] = {}
    for code in sorted(per_code):
        rows = []
        for w, n in per_code[code].items():
            if n < min_count or w in known or any(w in k or k in w for k in known if len(k) > 1):
                continue
            lift = (n / max(1, code_total[code])) / (overall[w] / total)
            if lift > 1.5:
                rows.append({"term": w, "count": n, "corpus": overall[w], "lift": round(lift, 2)})
        rows.sort(key=lambda r: (-r["lift"] * r["count"], r["term"]))
        out[code] = rows[:top]
    return out
