"""Suggest: learn codes from a coded pass and propose them for every sentence.

A :class:`CodeSuggester` turns each sentence into character n-gram TF-IDF features
(Chinese has no spaces between words, so characters, not words, are the features) and
fits one class-balanced logistic regression per code, one code against the rest. It is
trained on a pass's codings over the current sentences: a sentence is positive for a
code when a coding of that code (or of one of its sub-codes, rolled up to the frame id:
``mech.digital.lightweight`` counts as ``mech.digital``) overlaps it.

* :func:`cross_validate` estimates how well that works with folds grouped by case (or
  by source), so no case is ever both trained on and tested on;
* :func:`suggest` writes a *suggestion pass*: one coding per sentence and code whose
  probability reaches a threshold, with the probability as confidence;
* :func:`combine` merges a rule pass and a suggestion pass under a named policy.

``docs/suggest.md`` describes the model, the cross-validation protocol and the policies.
scikit-learn is imported inside the functions that use it.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from casecoder.errors import CasecoderError
from casecoder.queries import LEVELS, check_level, frame_id
from casecoder.store import Store

#: The ``rule`` recorded on every model coding; review orders by uncertainty on these.
RULE = "model:tfidf-char-lr"
MODEL_PREFIX = "model:"
MIN_POSITIVES = 5
GROUP_BY = ("case", "source")
POLICIES = ("union-with-threshold",)
EVIDENCE_NGRAMS = 3

Progress = Callable[[int], None]


# -- the estimator ------------------------------------------------------------------------

class CodeSuggester:
    """Character n-gram TF-IDF with one logistic regression per code.

    Follows scikit-learn's estimator conventions: the constructor only stores its
    parameters, :meth:`fit` returns ``self`` and learned state ends in ``_``.

    Parameters
    ----------
    ngram_range : tuple of (int, int), default=(1, 3)
        Lengths of the character n-grams.
    min_df : int, default=2
        An n-gram must occur in at least this many training sentences.
    C : float, default=1.0
        Inverse regularisation strength of each logistic regression.
    max_features : int, default=200000
        Keep at most this many n-grams (the most frequent).
    random_state : int, default=0
        Seed of the liblinear solver.
    analyzer : {"char_wb", "char"}, default="char_wb"
        ``char_wb`` keeps n-grams inside whitespace-separated runs (so an embedded
        English word such as ``APP`` is not glued to its neighbours); ``char`` runs over
        everything. ASCII letters are lower-cased; nothing else is changed.
    level : {"frame", "code"}, default="frame"
        ``frame`` rolls every label up to its frame id before fitting
        (:func:`casecoder.queries.frame_id`); ``code`` keeps labels as given.

    Attributes
    ----------
    vectorizer_ : sklearn.feature_extraction.text.TfidfVectorizer
        The fitted feature extractor.
    estimators_ : dict of str to sklearn.linear_model.LogisticRegression
        One fitted classifier per code.
    classes_ : list of str
        The codes that have a classifier, sorted.
    feature_names_ : ndarray of str
        The n-grams, in feature order.
    skipped_ : dict of str to str
        Codes seen in the labels that got no classifier, with the reason.
    """

    _PARAMS = ("ngram_range", "min_df", "C", "max_features", "random_state", "analyzer",
               "level")

    def __init__(self, ngram_range: tuple[int, int] = (1, 3), min_df: int = 2, C: float = 1.0,
                 max_features: int = 200000, random_state: int = 0, analyzer: str = "char_wb",
                 level: str = "frame") -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.C = C
        self.max_features = max_features
        self.random_state = random_state
        self.analyzer = analyzer
        self.level = level

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters (as scikit-learn's ``get_params``)."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> CodeSuggester:
        for name, value in params.items():
            if name not in self._PARAMS:
                raise ValueError(f"unknown parameter {name!r} of CodeSuggester")
            setattr(self, name, value)
        return self

    def clone(self) -> CodeSuggester:
        """A new, unfitted suggester with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"CodeSuggester({args})"

    def _label(self, code: str) -> str:
        return frame_id(code) if self.level == "frame" else code

    def fit(self, texts: Sequence[str], label_sets: Sequence[Iterable[str]],
            progress: Progress | None = None) -> CodeSuggester:
        """Fit the vectorizer and one classifier per code.

        Parameters
        ----------
        texts : sequence of str
            One text per unit (sentence).
        label_sets : sequence of iterables of str
            The codes of each unit (empty for an uncoded unit).
        progress : callable, default=None
            Called with 1 after each classifier is fitted.

        Returns
        -------
        self : CodeSuggester
        """
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        from casecoder.coding import fold

        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}; got {self.level!r}")
        texts = list(texts)
        labels = [{self._label(c) for c in ls} for ls in label_sets]
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} label sets")
        self.vectorizer_ = TfidfVectorizer(
            analyzer=self.analyzer, ngram_range=tuple(self.ngram_range), min_df=self.min_df,
            max_features=self.max_features, preprocessor=fold, sublinear_tf=True,
            dtype=np.float64)
        X = self.vectorizer_.fit_transform(texts)
        self.estimators_: dict[str, Any] = {}
        self.skipped_: dict[str, str] = {}
        for code in sorted(set().union(*labels)) if labels else []:
            y = np.fromiter((code in ls for ls in labels), dtype=np.int64, count=len(labels))
            if y.all():
                self.skipped_[code] = "every training unit is coded with it"
                continue
            clf = LogisticRegression(C=self.C, solver="liblinear", class_weight="balanced",
                                     random_state=self.random_state)
            self.estimators_[code] = clf.fit(X, y)
            if progress is not None:
                progress(1)
        self.classes_ = sorted(self.estimators_)
        self.feature_names_ = self.vectorizer_.get_feature_names_out()
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "estimators_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This CodeSuggester is not fitted yet; call fit first.")

    def predict_proba(self, texts: Sequence[str]) -> dict[str, Any]:
        """Probability that each text carries each code.

        Returns
        -------
        dict of str to ndarray of shape (n_texts,)
            One array per code of ``classes_``.
        """
        self._check_fitted()
        X = self.vectorizer_.transform(list(texts))
        return {code: clf.predict_proba(X)[:, 1] for code, clf in self.estimators_.items()}

    def evidence(self, texts: Sequence[str], code: str, top: int = EVIDENCE_NGRAMS,
                 ) -> list[list[tuple[int, int]]]:
        """Spans of each text that speak most for ``code``.

        The ``top`` n-grams of a text with the largest positive contribution
        (TF-IDF weight x coefficient) are located in the text (first occurrence);
        overlapping spans are merged. Offsets are relative to each text.
        """
        self._check_fitted()
        import numpy as np

        from casecoder.coding import fold

        texts = list(texts)
        if not texts:
            return []
        coef = self.estimators_[code].coef_[0]
        X = self.vectorizer_.transform(list(texts)).tocsr()
        out: list[list[tuple[int, int]]] = []
        for i, text in enumerate(texts):
            row = X.getrow(i)
            contrib = row.data * coef[row.indices]
            order = np.lexsort((row.indices, -contrib))
            folded = fold(text)
            spans: list[tuple[int, int]] = []
            for k in order[:top]:
                if contrib[k] <= 0:
                    break
                gram = str(self.feature_names_[row.indices[k]]).strip()
                pos = folded.find(gram) if gram else -1
                if pos >= 0:
                    spans.append((pos, pos + len(gram)))
            out.append(_merge(spans))
        return out


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


# -- training data from the store ---------------------------------------------------------

@dataclass
class TrainingData:
    """The sentences of the current sources with the codes a pass gives them."""

    pass_name: str
    units: list[tuple[int, int, int, int | None]]  # (source_id, start, end, segment id)
    texts: list[str]
    labels: list[set[str]]
    groups: list[str]
    speakers: list[str] | None
    fingerprint: str = ""
    positives: dict[str, int] = field(default_factory=dict)


def training_data(store: Store, pass_name: str, group_by: str = "case",
                  level: str = "frame") -> TrainingData:
    """Sentences and their codes in ``pass_name`` (rolled up to frame ids by default).

    A sentence is positive for a code when a coding of the pass with that code overlaps
    it. When the pass was coded with a speaker scope (a rule pass on interviews), only
    sentences of those roles (and sentences without a role) are units.

    Parameters
    ----------
    store : Store
        The open project store.
    pass_name : str
        The coded pass.
    group_by : {"case", "source"}, default="case"
        How units are grouped for cross-validation. A source without a case is its own
        group.
    level : {"frame", "code"}, default="frame"
        Roll codes up to frame ids, or keep them.
    """
    if group_by not in GROUP_BY:
        raise CasecoderError("CC008", option="--group-by", value=group_by,
                             expected=" or ".join(GROUP_BY))
    check_level(level, "level")
    store.require_pass(pass_name)
    meta = next(p for p in store.passes() if p["name"] == pass_name)
    speakers = meta["options"].get("speakers")
    speakers = list(speakers) if isinstance(speakers, list) else None
    sources = {s.id: s for s in store.sources()}
    data = TrainingData(pass_name=pass_name, units=[], texts=[], labels=[], groups=[],
                        speakers=speakers)
    by_source: dict[int, list[int]] = {}
    for seg in store.segments(kind="sentence"):
        if speakers is not None and seg.role is not None and seg.role not in speakers:
            continue
        src = sources[seg.source_id]
        by_source.setdefault(seg.source_id, []).append(len(data.units))
        data.units.append((seg.source_id, seg.start_char, seg.end_char, seg.id))
        data.texts.append(src.text[seg.start_char:seg.end_char])
        data.labels.append(set())
        if group_by == "case" and src.case_id:
            data.groups.append(f"case:{src.case_id}")
        else:
            data.groups.append(f"source:{src.name}")
    starts = {sid: [data.units[i][1] for i in idx] for sid, idx in by_source.items()}
    ends = {sid: [data.units[i][2] for i in idx] for sid, idx in by_source.items()}
    for c in store.codings(pass_name):
        idx = by_source.get(c.source_id)
        if not idx:
            continue
        lo = bisect.bisect_right(ends[c.source_id], c.start_char)
        hi = bisect.bisect_left(starts[c.source_id], c.end_char)
        code = frame_id(c.code) if level == "frame" else c.code
        for k in idx[lo:hi]:
            data.labels[k].add(code)
    for ls in data.labels:
        for code in ls:
            data.positives[code] = data.positives.get(code, 0) + 1
    data.positives = dict(sorted(data.positives.items()))
    digest = hashlib.sha256()
    digest.update(json.dumps({"pass": pass_name, "speakers": speakers, "level": level},
                             sort_keys=True).encode())
    for (sid, s, e, _), ls in zip(data.units, data.labels, strict=True):
        digest.update(f"{sources[sid].sha256}:{s}:{e}:{','.join(sorted(ls))}\n".encode())
    data.fingerprint = digest.hexdigest()
    return data


def trainable_codes(data: TrainingData, min_positives: int = MIN_POSITIVES,
                    ) -> tuple[list[str], dict[str, str]]:
    """Codes with at least ``min_positives`` positive units, and the others with a reason."""
    if min_positives < 1:
        raise CasecoderError("CC008", option="--min-positives", value=min_positives,
                             expected="a whole number of at least 1")
    keep, skipped = [], {}
    n = len(data.units)
    for code, count in data.positives.items():
        if count < min_positives:
            skipped[code] = (f"{count} coded sentence{'s' if count != 1 else ''}, fewer than "
                             f"{min_positives}")
        elif count == n:
            skipped[code] = "every sentence is coded with it"
        else:
            keep.append(code)
    return keep, skipped


def _require_trainable(data: TrainingData, min_positives: int) -> tuple[list[str],
                                                                           dict[str, str]]:
    if not data.positives:
        raise CasecoderError("CC702", name=data.pass_name,
                             reason="none of its codings falls on a current sentence")
    keep, skipped = trainable_codes(data, min_positives)
    if not keep:
        counts = ", ".join(f"{c}: {n}" for c, n in data.positives.items())
        raise CasecoderError("CC702", name=data.pass_name,
                             reason=f"no code has at least {min_positives} coded sentences "
                                    f"({counts}); code more sentences or lower --min-positives")
    return keep, skipped


def _check_threshold(value: float, option: str) -> None:
    if isinstance(value, bool) or not (isinstance(value, int | float) and 0.0 < value <= 1.0):
        raise CasecoderError("CC008", option=option, value=value,
                             expected="a probability above 0 and at most 1")


def _fit_data(data: TrainingData, keep: list[str]) -> list[set[str]]:
    wanted = set(keep)
    return [ls & wanted for ls in data.labels]


# -- cross-validation ----------------------------------------------------------------------

def cross_validate(store: Store, pass_name: str, folds: int = 5, seed: int = 0,
                   group_by: str = "case", threshold: float = 0.5,
                   min_positives: int = MIN_POSITIVES, suggester: CodeSuggester | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Grouped k-fold cross-validation of the suggester on a pass's codings.

    Units are grouped by case (or source) and the groups dealt to ``folds`` folds
    (scikit-learn's ``GroupKFold``), so no case is in a training and a test fold at
    once. In each fold a fresh suggester (vectorizer included) is fitted on the
    training folds and predicts the test fold; the out-of-fold predictions of all folds
    are then scored per code at ``threshold``.

    Parameters
    ----------
    store : Store
        The open project store.
    pass_name : str
        The pass whose codings are the reference.
    folds : int, default=5
        Number of folds; at most the number of groups.
    seed : int, default=0
        Seed for dealing groups to folds (where scikit-learn supports shuffling).
    group_by : {"case", "source"}, default="case"
        The grouping.
    threshold : float, default=0.5
        A unit is predicted positive when its probability is at least this.
    min_positives : int, default=5
        Codes with fewer coded sentences are skipped, with the reason.
    suggester : CodeSuggester, default=None
        The model (its parameters); ``CodeSuggester()`` by default.
    progress : callable, default=None
        Called with 1 after each classifier is fitted.

    Returns
    -------
    dict
        ``codes``: per code ``precision``, ``recall``, ``f1``, ``kappa`` (Cohen's; None
        when undefined), ``support`` (coded sentences), ``predicted``; ``skipped``: code
        -> reason; and the protocol (``folds``, ``groups``, ``units``, ...).
    """
    import numpy as np
    from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

    _check_threshold(threshold, "--threshold")
    if not 0 <= seed < 2**32:
        raise CasecoderError("CC008", option="--seed", value=seed,
                             expected="a whole number from 0 to 4294967295")
    model = suggester or CodeSuggester()
    data = training_data(store, pass_name, group_by, level=model.level)
    keep, skipped = _require_trainable(data, min_positives)
    n_groups = len(set(data.groups))
    if folds < 2 or folds > n_groups:
        raise CasecoderError("CC008", option="--folds", value=folds,
                             expected=f"a number from 2 to {n_groups} (the number of "
                                      f"{group_by}s with sentences)"
                             if n_groups >= 2 else
                             f"at least 2 {group_by}s with sentences; the pass covers "
                             f"{n_groups}")
    labels = _fit_data(data, keep)
    texts = np.asarray(data.texts, dtype=object)
    y = {c: np.fromiter((c in ls for ls in labels), dtype=np.int64, count=len(labels))
         for c in keep}
    oof = {c: np.zeros(len(labels)) for c in keep}
    no_model: dict[str, int] = {c: 0 for c in keep}
    for train, test in _splitter(folds, seed).split(texts, groups=data.groups):
        train_labels = [labels[i] for i in train]
        est = model.clone().fit(list(texts[train]), train_labels, progress=progress)
        proba = est.predict_proba(list(texts[test]))
        for c in keep:
            if c in proba:
                oof[c][test] = proba[c]
            else:
                no_model[c] += 1
    out_codes: dict[str, dict[str, Any]] = {}
    for c in keep:
        pred = (oof[c] >= threshold).astype(np.int64)
        p, r, f, _ = precision_recall_fscore_support(y[c], pred, average="binary",
                                                     zero_division=0)
        if len(set(y[c])) < 2 and len(set(pred)) < 2:
            kappa = None
        else:
            k = float(cohen_kappa_score(y[c], pred))
            kappa = None if math.isnan(k) else round(k, 4)
        out_codes[c] = {"precision": round(float(p), 4), "recall": round(float(r), 4),
                        "f1": round(float(f), 4), "kappa": kappa, "support": int(y[c].sum()),
                        "predicted": int(pred.sum()),
                        "folds_without_model": no_model[c]}
    return {"pass": pass_name, "folds": folds, "seed": seed, "group_by": group_by,
            "groups": n_groups, "units": len(labels), "threshold": threshold,
            "min_positives": min_positives, "params": _params(model),
            "codes": out_codes, "skipped": skipped}


def _splitter(folds: int, seed: int) -> Any:
    from sklearn.model_selection import GroupKFold

    try:
        return GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    except TypeError:  # scikit-learn < 1.6 deals groups by size only (still deterministic)
        return GroupKFold(n_splits=folds)


def _params(model: CodeSuggester) -> dict[str, Any]:
    params = model.get_params()
    params["ngram_range"] = list(params["ngram_range"])
    return params


# -- the suggestion pass -------------------------------------------------------------------

def suggest(store: Store, train_pass: str, out_pass: str = "suggest", threshold: float = 0.5,
            min_positives: int = MIN_POSITIVES, suggester: CodeSuggester | None = None,
            progress: Progress | None = None) -> dict[str, Any]:
    """Train on ``train_pass`` and write a suggestion pass ``out_pass``.

    Every sentence in scope gets a coding of each code whose probability is at least
    ``threshold``: confidence = the probability (4 decimals), rule
    ``model:tfidf-char-lr``, evidence = the n-grams that weigh most for the code,
    coder ``model:<train_pass>@<hash>`` where the hash covers the training data and
    the parameters. The same store and parameters always give the same rows.

    Parameters
    ----------
    store : Store
        The open project store.
    train_pass : str
        The pass to learn from (a rule pass, a reviewed pass, imported codings).
    out_pass : str, default="suggest"
        The suggestion pass to (re)write, in one transaction.
    threshold : float, default=0.5
        Minimum probability for a suggestion.
    min_positives : int, default=5
        Codes with fewer coded sentences get no model (reported as skipped).
    suggester : CodeSuggester, default=None
        The model (its parameters); ``CodeSuggester()`` by default.
    progress : callable, default=None
        Called with 1 after each classifier is fitted.

    Returns
    -------
    dict
        ``pass``, ``train_pass``, ``coder``, ``threshold``, ``units``, ``codings``,
        ``by_code``, ``trained``, ``skipped`` (code -> reason), ``params``.

    Raises
    ------
    CasecoderError
        CC006 unknown pass; CC702 too few codings to train; CC008 a bad option.
    """
    _check_threshold(threshold, "--threshold")
    if out_pass == train_pass:
        raise CasecoderError("CC008", option="--out-pass", value=out_pass,
                             expected="a pass name other than the training pass")
    model = suggester or CodeSuggester()
    data = training_data(store, train_pass, level=model.level)
    keep, skipped = _require_trainable(data, min_positives)
    params = _params(model)
    digest = hashlib.sha256(json.dumps({"data": data.fingerprint, "params": params,
                                        "min_positives": min_positives},
                                       sort_keys=True).encode()).hexdigest()
    coder = f"model:{train_pass}@{digest[:12]}"
    try:
        est = model.clone().fit(data.texts, _fit_data(data, keep), progress=progress)
    except ValueError as exc:  # e.g. an empty vocabulary on a tiny corpus
        raise CasecoderError("CC702", name=train_pass, reason=str(exc)) from exc
    skipped.update(est.skipped_)
    proba = est.predict_proba(data.texts)
    chosen: list[tuple[int, str, float]] = []
    for code in est.classes_:
        for i, p in enumerate(proba[code]):
            if p >= threshold:
                chosen.append((i, code, round(float(p), 4)))
    chosen.sort()
    spans: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for code in est.classes_:
        idx = [i for i, c, _ in chosen if c == code]
        for i, ev in zip(idx, est.evidence([data.texts[i] for i in idx], code), strict=True):
            spans[(i, code)] = ev
    rows = []
    by_code: dict[str, int] = {}
    for i, code, p in chosen:
        sid, s, e, seg_id = data.units[i]
        ev = [[s + a, s + b] for a, b in spans[(i, code)]] or [[s, e]]
        rows.append((out_pass, sid, code, s, e, json.dumps(ev), RULE, p, coder, 1, seg_id))
        by_code[code] = by_code.get(code, 0) + 1
    options = {"train_pass": train_pass, "threshold": threshold, "unit": "sentence",
               "speakers": data.speakers, "min_positives": min_positives, "params": params,
               "training_sha256": digest, "probabilities": True, "trained": est.classes_,
               "skipped": skipped}
    with store.transaction():
        run_id = store.start_run("suggest", {**options, "pass": out_pass})
        store.replace_pass(out_pass, coder, None, None, options, run_id)
        store.add_codings(rows)
        store.end_run(run_id)
    return {"pass": out_pass, "train_pass": train_pass, "coder": coder, "threshold": threshold,
            "units": len(data.units), "codings": len(rows),
            "by_code": dict(sorted(by_code.items())),
            "trained": est.classes_, "positives": {c: data.positives[c] for c in est.classes_},
            "skipped": dict(sorted(skipped.items())), "params": params}


# -- combining rules and model -------------------------------------------------------------

def combine(store: Store, rules_pass: str, model_pass: str, out_pass: str = "combined",
            policy: str = "union-with-threshold", high: float = 0.8) -> dict[str, Any]:
    """Merge a rule pass and a suggestion pass into ``out_pass`` under ``policy``.

    ``union-with-threshold`` keeps every coding of ``rules_pass`` unchanged and adds a
    coding of ``model_pass`` only where the rules did not code that unit for that code
    (no rule coding whose frame id equals the model code overlaps the unit) and its
    probability is at least ``high``. Added codings keep their probability as
    confidence, their ``model:`` rule, evidence and coder. Only codings are combined
    (metrics and links stay with their passes).

    Parameters
    ----------
    store : Store
        The open project store.
    rules_pass : str
        The pass whose codings are all kept.
    model_pass : str
        A suggestion pass (see :func:`suggest`).
    out_pass : str, default="combined"
        The pass to (re)write, in one transaction.
    policy : {"union-with-threshold"}, default="union-with-threshold"
        The combination policy (``docs/suggest.md``).
    high : float, default=0.8
        Minimum probability for a model coding to be added.

    Returns
    -------
    dict
        ``pass``, ``policy``, ``high``, ``rules`` (kept), ``added``, ``covered`` (model
        codings dropped because rules coded the unit), ``below`` (dropped, under
        ``high``), ``codings`` (written).
    """
    if policy not in POLICIES:
        raise CasecoderError("CC008", option="--policy", value=policy,
                             expected=" or ".join(POLICIES))
    _check_threshold(high, "--high")
    store.require_pass(rules_pass)
    store.require_pass(model_pass)
    if out_pass in (rules_pass, model_pass):
        raise CasecoderError("CC008", option="--out-pass", value=out_pass,
                             expected="a pass name other than the two combined passes")
    rules = store.codings(rules_pass)
    covered_by: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for c in rules:
        covered_by.setdefault((c.source_id, frame_id(c.code)), []).append(
            (c.start_char, c.end_char))
    rows = [_row(out_pass, c) for c in rules]
    added = covered = below = 0
    for c in store.codings(model_pass):
        spans = covered_by.get((c.source_id, frame_id(c.code)), [])
        if any(s < c.end_char and c.start_char < e for s, e in spans):
            covered += 1
        elif c.confidence < high:
            below += 1
        else:
            rows.append(_row(out_pass, c))
            added += 1
    coder = f"combine:{rules_pass}+{model_pass}"
    options = {"policy": policy, "high": high, "rules_pass": rules_pass,
               "model_pass": model_pass}
    meta = {p["name"]: p for p in store.passes()}[rules_pass]
    with store.transaction():
        run_id = store.start_run("combine", {**options, "pass": out_pass})
        store.replace_pass(out_pass, coder, meta["codebook"], meta["codebook_sha256"],
                           options, run_id)
        store.add_codings(rows)
        store.end_run(run_id)
    return {"pass": out_pass, "policy": policy, "high": high, "rules": len(rules),
            "added": added, "covered": covered, "below": below, "codings": len(rows)}


def _row(pass_name: str, c: Any) -> tuple:
    return (pass_name, c.source_id, c.code, c.start_char, c.end_char,
            json.dumps([list(e) for e in c.evidence]), c.rule, c.confidence, c.coder,
            c.polarity, c.segment_id)
