from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from casecoder.lang_zh import ZhTokenizer, token_ends, word_counts

TOK = ZhTokenizer(["矛盾调解平台", "结对共建"])


def test_user_dictionary_keeps_codebook_terms_whole():
    assert "矛盾调解平台" in TOK.words("群众通过矛盾调解平台提交纠纷")
    assert "结对共建" in TOK.words("机关与社区开展结对共建")


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="群众通过矛盾调解平台提交纠纷。机关与社区开展结对共建ab 12", max_size=80))
def test_spans_tile_the_text(text):
    spans = TOK.spans(text)
    assert "".join(text[a:b] for a, b in spans) == text
    assert list(TOK.ends(text)) == [b for _, b in spans]


def test_parallel_equals_serial():
    texts = ["群众通过矛盾调解平台提交纠纷。" * (i % 5 + 1) for i in range(40)]
    assert [list(a) for a in token_ends(TOK, texts, jobs=2)] == \
        [list(a) for a in token_ends(TOK, texts, jobs=1)]
    assert word_counts(TOK, texts, jobs=2) == word_counts(TOK, texts, jobs=1)


def test_spacy_blank_zh_uses_the_same_tokens():
    nlp = TOK.spacy()
    doc = nlp("机关与社区开展结对共建")
    assert [t.text for t in doc] == TOK.words("机关与社区开展结对共建")
    assert doc.lang_ == "zh"
