"""Chinese language glue: the only module that imports jieba or spaCy.

A :class:`ZhTokenizer` wraps one ``jieba.Tokenizer`` whose user dictionary holds the
codebook's terms. It is built once per process (the dictionary is loaded and the
terms added before the first text is cut) and never changed afterwards, so every text
of a run is cut the same way. Token offsets are code points of the text given.

spaCy is used as ``spacy.blank("zh")`` with a tokenizer that takes its words from
the same jieba tokenizer, so token-level rules (proximity in tokens, Matcher
patterns) see exactly the tokens the rest of the tool sees. No model is downloaded.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

_STATE: dict[str, Any] = {}


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

    def _tok(self) -> Any:
        if self._jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            for term in self.terms:
                tok.add_word(term, freq=max(tok.suggest_freq(term, tune=False), 10))
            self._jieba = tok
        return self._jieba

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
        """A ``spacy.blank("zh")`` pipeline whose tokenizer is this jieba tokenizer."""
        import spacy
        from spacy.tokens import Doc

        nlp = spacy.blank("zh")
        outer = self

        class _Tokenizer:
            def __init__(self, vocab: Any) -> None:
                self.vocab = vocab

            def __call__(self, text: str) -> Any:
                words = [w for w in outer.words(text)]
                spaces = [False] * len(words)
                return Doc(self.vocab, words=words, spaces=spaces)

        nlp.tokenizer = _Tokenizer(nlp.vocab)
        return nlp


def plain_lcut(text: str) -> list[str]:
    """``jieba.lcut`` with jieba's default dictionary (the benchmark's baseline)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba.lcut(text)


def _init_worker(tokenizer: ZhTokenizer) -> None:
    _STATE["tok"] = tokenizer


def _ends_batch(batch: list[str]) -> list[array]:
    tok = _STATE["tok"]
    return [tok.ends(t) for t in batch]


def _count_batch(batch: list[str]) -> Counter:
    tok = _STATE["tok"]
    out: Counter = Counter()
    for t in batch:
        out.update(tok.words(t))
    return out


def _batches(texts: Sequence[str], jobs: int) -> list[list[str]]:
    """Split ``texts`` into about ``jobs * 4`` batches of similar size (in order)."""
    total = sum(len(t) for t in texts) or 1
    size = max(1, total // (jobs * 4))
    out: list[list[str]] = []
    cur: list[str] = []
    n = 0
    for t in texts:
        cur.append(t)
        n += len(t)
        if n >= size:
            out.append(cur)
            cur, n = [], 0
    if cur:
        out.append(cur)
    return out


def _pool(tokenizer: ZhTokenizer, jobs: int) -> Any:
    tokenizer._tok()  # load once in the parent; forked workers inherit it
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    # Objects alive at the fork (the dictionary, the texts) go to the permanent
    # generation, so the workers' garbage collections neither walk them nor copy
    # their pages (the gc.freeze recipe of the Python documentation).
    gc.freeze()
    try:
        return ctx.Pool(jobs, initializer=_init_worker, initargs=(tokenizer,))
    finally:
        gc.unfreeze()


def token_ends(tokenizer: ZhTokenizer, texts: Sequence[str], jobs: int = 1) -> list[array]:
    """Token end offsets of each text, spread over ``jobs`` processes (in batches)."""
    if jobs <= 1 or len(texts) < 2:
        return [tokenizer.ends(t) for t in texts]
    with _pool(tokenizer, jobs) as pool:
        return [a for part in pool.map(_ends_batch, _batches(texts, jobs), chunksize=1)
                for a in part]


def word_counts(tokenizer: ZhTokenizer, texts: Sequence[str], jobs: int = 1) -> Counter:
    """Word frequencies over ``texts``, spread over ``jobs`` processes."""
    if jobs <= 1 or len(texts) < 2:
        total: Counter = Counter()
        for t in texts:
            total.update(tokenizer.words(t))
        return total
    total = Counter()
    with _pool(tokenizer, jobs) as pool:
        for c in pool.map(_count_batch, _batches(texts, jobs), chunksize=1):
            total.update(c)
    return total
