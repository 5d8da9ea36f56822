"""Term lists: word frequencies and codebook expansion suggestions.

Words come from the jieba tokenizer with the codebook's terms in its user dictionary
(:mod:`casecoder.lang_zh`): one tokenizer per process and term list, so ``casecoder
terms`` loads the dictionary once, and the sentences are cut once, spread over ``jobs``
processes, for both lists. A *candidate term* for a code is a word of two or more
characters, not already a term of the codebook, that occurs in the units coded with
that code clearly more often than in the corpus as a whole: ranked by the lift
``(in-code share) / (corpus share)`` with at least ``min_count`` occurrences in coded
units. They are suggestions for the analyst to read, never added automatically.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from casecoder.models import Codebook
from casecoder.queries import sentence_texts, unit_codes
from casecoder.store import Store

_WORD = re.compile(r"^[\u4e00-\u9fffA-Za-z]{2,}$")
STOPWORDS = frozenset(
    "我们 他们 你们 一个 这个 那个 什么 没有 就是 还是 以及 通过 进行 开展 实现 推动 提升 相关 "
    "工作 方面 情况 问题 可以 已经 其中 同时 为了 因为 所以 但是 如果 这些 那些 自己 主要 "
    "一些 不是 也是 对于 作为 还有 这样 那么 然后 之后 以上 以下 等等".split()
)


def _keep(counts: Counter) -> Counter:
    """Words of 2+ characters (Chinese or Latin letters) that are not stopwords."""
    return Counter({w: n for w, n in counts.items() if _WORD.match(w) and w not in STOPWORDS})


def _count(store: Store, terms: Iterable[str], pass_name: str | None, jobs: int,
           ) -> tuple[Counter, dict[str, Counter]]:
    """Kept words over every current sentence, and over the sentences coded with each
    frame id in ``pass_name`` (none without a pass); each sentence is cut once."""
    from casecoder.lang_zh import grouped_word_counts, shared_tokenizer

    units = unit_codes(store.codings(pass_name)) if pass_name is not None else {}
    sentences = sentence_texts(store)
    groups = [sorted(units.get((sid, s, e), ())) for sid, s, e, _t in sentences]
    total, by_code = grouped_word_counts(shared_tokenizer(terms), [t for *_, t in sentences],
                                         groups, jobs=jobs)
    return _keep(total), {code: _keep(c) for code, c in by_code.items()}


def word_frequencies(store: Store, codebook_terms: list[str] | None = None, jobs: int = 1,
                     ) -> Counter:
    """Word counts over every current sentence (words of 2+ characters, no stopwords).

    Parameters
    ----------
    store : Store
        The open project store.
    codebook_terms : list of str, optional
        Words the tokenizer keeps whole (:func:`casecoder.coding.codebook_terms`).
    jobs : int, default=1
        Processes to spread the sentences over.
    """
    return _count(store, codebook_terms or [], None, jobs)[0]


def _candidates(overall: Counter, per_code: dict[str, Counter], known: set[str], top: int,
                min_count: int) -> dict[str, list[dict[str, Any]]]:
    total = sum(overall.values()) or 1
    long_known = [k for k in known if len(k) > 1]
    out: dict[str, list[dict[str, Any]]] = {}
    for code in sorted(per_code):
        counts = per_code[code]
        code_total = sum(counts.values())
        rows = []
        for w, n in counts.items():
            if n < min_count or w in known or any(w in k or k in w for k in long_known):
                continue
            lift = (n / max(1, code_total)) / (overall[w] / total)
            if lift > 1.5:
                rows.append({"term": w, "count": n, "corpus": overall[w], "lift": round(lift, 2)})
        rows.sort(key=lambda r: (-r["lift"] * r["count"], r["term"]))
        out[code] = rows[:top]
    return out


def candidate_terms(store: Store, pass_name: str, codebook: Codebook, top: int = 10,
                    min_count: int = 3, jobs: int = 1) -> dict[str, list[dict[str, Any]]]:
    """Words that go with each frame code in ``pass_name`` but are not in the codebook.

    Parameters
    ----------
    store : Store
        The open project store.
    pass_name : str
        The coding pass whose coded sentences are compared with the corpus.
    codebook : Codebook
        Its terms are left out (and kept whole by the tokenizer).
    top : int, default=10
        Candidates per code.
    min_count : int, default=3
        Least occurrences in the code's sentences.
    jobs : int, default=1
        Processes to spread the sentences over.

    Returns
    -------
    dict of str to list of dict
        Per frame id, rows ``term``, ``count`` (in the code's sentences), ``corpus`` and
        ``lift``, best first.
    """
    return term_lists(store, codebook, pass_name, top=0, candidates_top=top,
                      min_count=min_count, jobs=jobs)["candidates"]


def term_lists(store: Store, codebook: Codebook, pass_name: str | None = "rules",
               top: int = 30, candidates_top: int = 10, min_count: int = 3, jobs: int = 1,
               ) -> dict[str, Any]:
    """Both term lists of ``casecoder terms`` from one cut of the corpus.

    Parameters
    ----------
    store : Store
        The open project store.
    codebook : Codebook
        Its terms go into the tokenizer's user dictionary and are never candidates.
    pass_name : str or None, default="rules"
        The pass for candidate terms; ``None`` for frequencies only.
    top : int, default=30
        How many of the most frequent words to list.
    candidates_top, min_count : int, default=10, 3
        See :func:`candidate_terms`.
    jobs : int, default=1
        Processes to spread the sentences over.

    Returns
    -------
    dict
        ``frequencies``: rows ``term``, ``count``, most frequent first;
        ``candidates``: as :func:`candidate_terms` (empty without a pass).

    Raises
    ------
    CasecoderError
        CC006 when ``pass_name`` is given and the project has no such pass.
    """
    from casecoder.coding import codebook_terms

    if pass_name is not None:
        store.require_pass(pass_name)
    known = codebook_terms(codebook)
    overall, per_code = _count(store, known, pass_name, jobs)
    freq = sorted(overall.items(), key=lambda x: (-x[1], x[0]))[:top]
    return {"frequencies": [{"term": w, "count": n} for w, n in freq],
            "candidates": _candidates(overall, per_code, set(known), candidates_top,
                                      min_count) if pass_name is not None else {}}
