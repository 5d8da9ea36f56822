"""Property tests: segments stay inside their source and quote it exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from casecoder.ingest import build_source
from casecoder.readers import ReadResult
from casecoder.segment import clean_view, sentences

ALPHABET = st.sampled_from(list("治理群众平台调解机制社区党建数字提升至从%0123456789")
                           + list("。！？；…，、“”（）\n \t")
                           + ["问：", "答：", "## ", "·９·\n", "①"])
TEXT = st.lists(ALPHABET, min_size=1, max_size=200).map("".join)


def _check(text: str, kind: str, layout: str) -> None:
    if not text.strip():
        return
    read = ReadResult(text=text, encoding="utf-8", newline="LF")
    src, _case, spans = build_source(read, "x.txt", "x.txt", kind=kind, layout=layout)
    assert src.text == text
    for seg, parent in spans:
        assert 0 <= seg.start_char < seg.end_char <= len(text)
        piece = text[seg.start_char:seg.end_char]
        assert piece == piece.strip() or seg.kind == "turn"
        if parent is not None:
            p = spans[parent][0]
            assert p.start_char <= seg.start_char and seg.end_char <= p.end_char
            assert seg.kind == "sentence"


@settings(max_examples=300, deadline=None)
@given(TEXT, st.sampled_from(["case", "interview", "auto"]), st.sampled_from(["plain", "pdf"]))
def test_segments_inside_source_and_nested(text, kind, layout):
    _check(text, kind, layout)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.booleans())
def test_sentences_quote_raw(text, pdf):
    view = clean_view(text, 0, len(text), pdf)
    spans = list(sentences(view))
    last = 0
    for a, b in spans:
        assert 0 <= a < b <= len(text)
        assert a >= last  # in order, not overlapping
        last = b
        # the view's characters of a sentence are a subsequence of the raw slice
        assert set(text[a:b]) >= set(clean_view(text, a, b, pdf).text) - {"\n"}


def test_closing_quotes_stay_with_sentence():
    text = "他说：“要发动群众。”然后离开了！（完）"
    spans = [text[a:b] for a, b in sentences(clean_view(text, 0, len(text), False))]
    assert spans == ["他说：“要发动群众。”", "然后离开了！", "（完）"]


def test_decimal_point_does_not_split():
    text = "化解成功率达98.6%。满意度96%..."
    spans = [text[a:b] for a, b in sentences(clean_view(text, 0, len(text), False))]
    assert spans == ["化解成功率达98.6%。", "满意度96%..."]
