"""Chinese language glue: the only module that imports jieba or spaCy.

A :class:`ZhTokenizer` wraps one ``jieba.Tokenizer`` whose user dictionary holds the
codebook's terms. :func:`shared_tokenizer` keeps one per term list and process: the
dictionary is loaded and the terms added before the first text is cut, and it is never
changed afterwards, so every text of a run is cut the same way. Worker processes are
forked after the parent loaded it (they inherit it) or load it once each, on first use.
Token offsets are code points of the text given.

spaCy is used as ``spacy.blank("zh")`` with a tokenizer that takes its words from the
same jieba tokenizer, so token-level rules (proximity in tokens, Matcher patterns) see
exactly the tokens the rest of the tool sees. No model is downloaded.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import multiprocessing
import os
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

_STATE: dict[str, Any] = {"loads": 0}
_SHARED: dict[str, ZhTokenizer] = {}


def _note_load(tokenizer: ZhTokenizer) -> None:
    """Count a dictionary load (in this process); see :func:`dictionary_loads`."""
    _STATE["loads"] += 1


def dictionary_loads() -> int:
    """How many jieba dictionaries this process has loaded so far."""
    return int(_STATE["loads"])


class ZhTokenizer:
    """jieba with a fixed user dictionary.

    Parameters
    ----------
    terms : iterable of str, default=()
        Words to keep whole (the codebook's keywords and synonyms).
    hmm : bool, default=True
        Let jieba's HMM find words missing from its dictionary.
    """

    def __init__(self, terms: Iterable[str] = (), hmm: bool = True) -> None:
        self.terms = tuple(sorted({t for t in terms if t and not t.isascii()}))
        self.hmm = hmm
        self._jieba: Any = None
        self._nlp: Any = None
        self._last: tuple[str, Any] | None = None

    @property
    def key(self) -> str:
        """Identifies the dictionary: a hash of the user terms and the HMM flag."""
        text = "\n".join(self.terms) + f"\nhmm={self.hmm}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _tok(self) -> Any:
        if self._jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            for term in self.terms:
                tok.add_word(term, freq=max(tok.suggest_freq(term, tune=False), 10))
            self._jieba = tok
            _note_load(self)
        return self._jieba

    def load(self) -> ZhTokenizer:
        """Load the dictionary now (before forking workers, say); returns ``self``."""
        self._tok()
        return self

    def words(self, text: str) -> list[str]:
        """The words of ``text`` in order (``jieba.lcut`` with the user dictionary)."""
        return list(self._tok().cut(text, HMM=self.hmm))

    def ends(self, text: str) -> array:
        """End offsets of the tokens of ``text`` (the start of each is the previous end)."""
        out = array("i")
        pos = 0
        for w in self._tok().cut(text, HMM=self.hmm):
            pos += len(w)
            out.append(pos)
        return out

    def spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` of every token of ``text``."""
        out = []
        pos = 0
        for w in self._tok().cut(text, HMM=self.hmm):
            out.append((pos, pos + len(w)))
            pos += len(w)
        return out

    def spacy(self) -> Any:
        """The ``spacy.blank("zh")`` pipeline whose tokenizer is this jieba tokenizer
        (built on first use, then reused)."""
        if self._nlp is None:
            import spacy
            from spacy.tokens import Doc

            nlp = spacy.blank("zh")
            outer = self

            class _Tokenizer:
                def __init__(self, vocab: Any) -> None:
                    self.vocab = vocab

                def __call__(self, text: str) -> Any:
                    words = outer.words(text)
                    return Doc(self.vocab, words=words, spaces=[False] * len(words))

            nlp.tokenizer = _Tokenizer(nlp.vocab)
            self._nlp = nlp
        return self._nlp

    def doc(self, text: str) -> Any:
        """The spaCy ``Doc`` of ``text`` (token ``idx`` are offsets in ``text``).

        The last text's Doc is kept, so a unit that needs tokens for several rules is
        cut once.
        """
        last = self._last
        if last is not None and last[0] == text:
            return last[1]
        doc = self.spacy().tokenizer(text)
        self._last = (text, doc)
        return doc

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` of every token of the spaCy ``Doc`` of ``text`` (the same
        tokens as :meth:`spans`, from the Doc the Matcher patterns see)."""
        return [(t.idx, t.idx + len(t.text)) for t in self.doc(text)]


def shared_tokenizer(terms: Iterable[str] = (), hmm: bool = True) -> ZhTokenizer:
    """The process's tokenizer for this user dictionary (one per term list, built on
    first use and reused: the jieba dictionary is loaded once per process)."""
    tok = ZhTokenizer(terms, hmm)
    return _SHARED.setdefault(tok.key, tok)


class TokenMatcher:
    """spaCy ``Matcher`` patterns over the tokens of a :class:`ZhTokenizer`.

    Parameters
    ----------
    tokenizer : ZhTokenizer
        Cuts the texts (its spaCy pipeline gives the vocabulary).
    patterns : sequence of list of dict
        Matcher token patterns (checked by :func:`casecoder.codebook.load_codebook`);
        each is added with ``greedy="LONGEST"``, so overlapping matches of one pattern
        keep the longest.
    """

    def __init__(self, tokenizer: ZhTokenizer, patterns: Sequence[list[dict[str, Any]]]
                 ) -> None:
        self.tokenizer = tokenizer
        self.patterns = list(patterns)
        self._matcher: Any = None
        self._index: dict[int, int] = {}

    def _m(self) -> Any:
        if self._matcher is None:
            from spacy.matcher import Matcher

            vocab = self.tokenizer.spacy().vocab
            matcher = Matcher(vocab, validate=True)
            for i, pattern in enumerate(self.patterns):
                matcher.add(f"p{i}", [pattern], greedy="LONGEST")
                self._index[vocab.strings[f"p{i}"]] = i
            self._matcher = matcher
        return self._matcher

    def load(self) -> TokenMatcher:
        """Build the matcher now (before forking workers, say); returns ``self``."""
        self._m()
        return self

    def find(self, text: str, which: Iterable[int]) -> list[tuple[int, int, int]]:
        """``(pattern index, start, end)`` of the matches in ``text`` of the patterns
        ``which``, sorted; offsets are code points of ``text``."""
        wanted = set(which)
        if not wanted:
            return []
        matcher = self._m()
        doc = self.tokenizer.doc(text)
        out = []
        for match_id, s, e in matcher(doc):
            i = self._index[match_id]
            if i in wanted:
                span = doc[s:e]
                out.append((i, span.start_char, span.end_char))
        return sorted(out)


def spacy_pattern_errors(pattern: list[dict[str, Any]]) -> list[str]:
    """What spaCy's Matcher finds wrong with a token pattern (``[]`` when it accepts it);
    :func:`casecoder.codebook.load_codebook` checks patterns without importing spaCy, and
    the tests hold the two checks together."""
    from spacy.schemas import validate_token_pattern

    return list(validate_token_pattern(pattern))


def plain_lcut(text: str) -> list[str]:
    """``jieba.lcut`` with jieba's default dictionary (the benchmark's baseline)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba.lcut(text)


def _init_worker(tokenizer: ZhTokenizer) -> None:
    _STATE["tok"] = tokenizer


def _count_batch(batch: list[tuple[str, tuple[str, ...]]]
                 ) -> tuple[Counter, dict[str, Counter]]:
    return _count(_STATE["tok"], batch)


def _count(tok: ZhTokenizer, batch: Iterable[tuple[str, tuple[str, ...]]]
           ) -> tuple[Counter, dict[str, Counter]]:
    total: Counter = Counter()
    by_group: dict[str, Counter] = {}
    for text, groups in batch:
        words = tok.words(text)
        total.update(words)
        for g in groups:
            by_group.setdefault(g, Counter()).update(words)
    return total, by_group


def _batches(texts: Sequence[Any], jobs: int, size_of: Any = len) -> list[list[Any]]:
    """Split ``texts`` into about ``jobs * 4`` batches of similar size (in order)."""
    total = sum(size_of(t) for t in texts) or 1
    size = max(1, total // (jobs * 4))
    out: list[list[Any]] = []
    cur: list[Any] = []
    n = 0
    for t in texts:
        cur.append(t)
        n += size_of(t)
        if n >= size:
            out.append(cur)
            cur, n = [], 0
    if cur:
        out.append(cur)
    return out


def _pool(tokenizer: ZhTokenizer, jobs: int) -> Any:
    tokenizer.load()  # load once in the parent; forked workers inherit it
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    # Objects alive at the fork (the dictionary, the texts) go to the permanent
    # generation, so the workers' garbage collections neither walk them nor copy
    # their pages (the gc.freeze recipe of the Python documentation).
    gc.freeze()
    try:
        return ctx.Pool(jobs, initializer=_init_worker, initargs=(tokenizer,))
    finally:
        gc.unfreeze()


def grouped_word_counts(tokenizer: ZhTokenizer, texts: Sequence[str],
                        groups: Sequence[Iterable[str]] | None = None, jobs: int = 1,
                        ) -> tuple[Counter, dict[str, Counter]]:
    """Word frequencies over ``texts``, and over the texts of each group.

    Parameters
    ----------
    tokenizer : ZhTokenizer
        Cuts the texts (with its user dictionary).
    texts : sequence of str
        The texts, cut once each.
    groups : sequence of iterable of str, optional
        The groups (code ids, say) each text belongs to; default none.
    jobs : int, default=1
        Processes to spread the texts over (forked after the dictionary is loaded).

    Returns
    -------
    (Counter, dict of str to Counter)
        Word counts over all texts, and per group.
    """
    items = list(zip(texts, (tuple(g) for g in groups) if groups is not None
                     else [()] * len(texts), strict=True))
    if jobs <= 1 or len(items) < 2:
        return _count(tokenizer, items)
    total: Counter = Counter()
    by_group: dict[str, Counter] = {}
    with _pool(tokenizer, jobs) as pool:
        for part, part_groups in pool.map(_count_batch,
                                          _batches(items, jobs, lambda x: len(x[0])),
                                          chunksize=1):
            total.update(part)
            for g, c in part_groups.items():
                by_group.setdefault(g, Counter()).update(c)
    return total, by_group


def word_counts(tokenizer: ZhTokenizer, texts: Sequence[str], jobs: int = 1) -> Counter:
    """Word frequencies over ``texts``, spread over ``jobs`` processes."""
    return grouped_word_counts(tokenizer, texts, jobs=jobs)[0]
