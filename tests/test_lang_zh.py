from __future__ import annotations

import os
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from casecoder import lang_zh
from casecoder.lang_zh import (
    TokenMatcher,
    ZhTokenizer,
    grouped_word_counts,
    shared_tokenizer,
    word_counts,
)

TERMS = ["矛盾调解平台", "结对共建"]
TOK = shared_tokenizer(TERMS)


def test_user_dictionary_keeps_codebook_terms_whole():
    assert "矛盾调解平台" in TOK.words("群众通过矛盾调解平台提交纠纷")
    assert "结对共建" in TOK.words("机关与社区开展结对共建")


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="群众通过矛盾调解平台提交纠纷。机关与社区开展结对共建ab 12\n", max_size=80))
def test_spans_tile_the_text(text):
    spans = TOK.spans(text)
    assert "".join(text[a:b] for a, b in spans) == text
    assert list(TOK.ends(text)) == [b for _, b in spans]
    # the spaCy Doc has the same tokens, with offsets into the text
    assert TOK.token_spans(text) == spans


def test_one_tokenizer_per_process_and_term_list():
    before = lang_zh.dictionary_loads()
    fresh = shared_tokenizer(["一个只在这里用的词"])
    assert shared_tokenizer(["一个只在这里用的词"]) is fresh
    assert shared_tokenizer(["一个只在这里用的词", "一个只在这里用的词"]) is fresh
    assert shared_tokenizer(TERMS) is TOK and TOK is not fresh
    fresh.words("第一次切分")
    fresh.words("第二次切分")
    fresh.load()
    assert lang_zh.dictionary_loads() == before + 1
    # the dictionary is fixed at construction: the terms cannot be changed afterwards
    assert fresh.terms == ("一个只在这里用的词",)
    assert fresh.key != ZhTokenizer(["另一个词"]).key


def test_parallel_counts_equal_serial_and_load_once():
    texts = ["群众通过矛盾调解平台提交纠纷。" * (i % 5 + 1) for i in range(40)]
    groups = [["a"] if i % 3 == 0 else ["a", "b"] if i % 3 == 1 else [] for i in range(40)]
    TOK.load()
    before = lang_zh.dictionary_loads()
    assert word_counts(TOK, texts, jobs=2) == word_counts(TOK, texts, jobs=1)
    total2, by2 = grouped_word_counts(TOK, texts, groups, jobs=2)
    total1, by1 = grouped_word_counts(TOK, texts, groups, jobs=1)
    assert (total2, by2) == (total1, by1)
    assert total1["矛盾调解平台"] == sum(i % 5 + 1 for i in range(40))
    assert by1["b"]["矛盾调解平台"] == sum(i % 5 + 1 for i in range(40) if i % 3 == 1)
    assert set(by1) == {"a", "b"}
    assert lang_zh.dictionary_loads() == before  # the workers inherit the parent's


def test_workers_inherit_the_loaded_dictionary(tmp_path, monkeypatch):
    """Forked workers never load the dictionary again: count loads in every process."""
    log = tmp_path / "loads.txt"

    def note(tok):
        with log.open("a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")

    monkeypatch.setattr(lang_zh, "_note_load", note)
    tok = ZhTokenizer(["测试用的专门词语"])
    texts = ["测试用的专门词语出现在这里。"] * 20
    counts = word_counts(tok, texts, jobs=2)
    assert counts["测试用的专门词语"] == 20
    assert log.read_text(encoding="utf-8").split() == [str(os.getpid())]


def test_spacy_blank_zh_uses_the_same_tokens():
    nlp = TOK.spacy()
    assert TOK.spacy() is nlp  # built once
    doc = nlp("机关与社区开展结对共建")
    assert [t.text for t in doc] == TOK.words("机关与社区开展结对共建")
    assert doc.lang_ == "zh"
    assert TOK.doc("机关与社区开展结对共建") is TOK.doc("机关与社区开展结对共建")


def test_token_matcher_offsets_are_code_points_of_the_text():
    m = TokenMatcher(TOK, [[{"ORTH": "结对共建"}],
                           [{"ORTH": "重"}, {"IS_PUNCT": False, "OP": "{1,2}"},
                            {"ORTH": "轻"}, {"IS_PUNCT": False}]])
    text = "有的单位重数量轻质量，\n也有机关与社区开展结对共建。"
    found = m.find(text, [0, 1])
    assert [(k, text[s:e]) for k, s, e in found] == [(0, "结对共建"), (1, "重数量轻质量")]
    assert m.find(text, [0]) == [f for f in found if f[0] == 0]
    assert m.find(text, []) == []
    # 重视 and 减轻 are words of their own: no 重…轻 match
    assert m.find("社区重视形式多样的活动，减轻负担。", [1]) == []


def test_grouped_counts_without_groups_is_word_counts():
    texts = ["结对共建", "结对共建和矛盾调解平台"]
    total, by = grouped_word_counts(TOK, texts)
    assert total == Counter({"结对共建": 2, "和": 1, "矛盾调解平台": 1}) and by == {}
