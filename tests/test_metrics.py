from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casecoder.metrics import extract, scan

CASES = [
    ("政策理解率从60%提升至92%；", [("政策理解率", 60, 92, 32, "%", "up")]),
    ("平均化解耗时从7天缩短至2天。", [("平均化解耗时", 7, 2, -5, "天", "down")]),
    ("协同调解效率提升65%。", [("协同调解效率", None, None, 65, "%", "up")]),
    ("安全事故发生率下降45%。", [("安全事故发生率", None, None, -45, "%", "down")]),
    ("满意度和参与率分别从70%、40%提升至95%、75%。",
     [("满意度和参与率", 70, 95, 25, "%", "up"), ("满意度和参与率", 40, 75, 35, "%", "up")]),
    ("群众满意度提升至96%。", [("群众满意度", None, 96, None, "%", "up")]),
    ("2025年化解成功率达98.6%。", [("化解成功率", None, 98.6, None, "%", "level")]),
    ("导致平台使用率不足15%。", [("平台使用率", None, 15, None, "%", "level")]),
    ("累计办理业务超过12万件。", [("办理业务", None, 12, None, "万件", "up")]),
    ("新增志愿者2000人。", [("志愿者", None, 2000, None, "人", "up")]),
    ("平台覆盖群众超过50万人次。", [("平台覆盖群众", None, 50, None, "万人次", "level")]),
    ("参与率由３０％提高到６５％。", [("参与率", 30, 65, 35, "%", "up")]),
    ("事故率下降了3个百分点。", [("事故率", None, None, -3, "个百分点", "down")]),
    ("满意度从30%提升到了65%。", [("满意度", 30, 65, 35, "%", "up")]),
    ("而群众满意度从30%提升到65%。", [("群众满意度", 30, 65, 35, "%", "up")]),
    ("办理时间缩短到了3天。", [("办理时间", None, 3, None, "天", "down")]),
    # a start in another time unit is converted to the end's unit
    ("协同团队的响应时间从2小时缩短至30分钟。",
     [("协同团队的响应时间", 120, 30, -90, "分钟", "down")]),
]

# the indicator is the whole noun phrase the figure measures, never a cut fragment
INDICATORS = [
    ("调解积分制推动群众参与调解的案件占比从30%提升至65%。", ["群众参与调解的案件占比"]),
    ("线上直播宣讲使群众主动参与调解意愿提升45%。", ["群众主动参与调解意愿"]),
    ("通过这种改造使安全事故发生率下降45%。", ["安全事故发生率"]),
    ("平台开设了招募功能，培育出超2000人的线上群众调解队伍，其中“90后”占比达40%。",
     ["线上群众调解队伍", "“90后”占比"]),
    ("没有提炼出核心机制，其他地区照搬后成功率仅30%。", ["其他地区照搬后成功率"]),
    ("依托需求台账，2025年北京朝阳区社区的民生问题解决率提升至90%。",
     ["北京朝阳区社区的民生问题解决率"]),
    ("它的电网覆盖广，服务超11亿用户；员工数量多，超150万人。", ["服务用户", "员工数量"]),
    ("“老娘舅”队伍2025年化解邻里纠纷超5万件，成功率达95%。",
     ["“老娘舅”队伍化解邻里纠纷", "成功率"]),
    ("区内治理主体众多，物业、企业、社会组织等治理主体超5000家。",
     ["物业、企业、社会组织等治理主体"]),
    ("线上群众调解队伍已经超过2000人。", ["线上群众调解队伍"]),
]


@pytest.mark.parametrize("text,expected", INDICATORS)
def test_indicator_is_the_whole_noun_phrase(text, expected):
    assert [h.indicator for h in extract(text)] == expected


QUALIFIERS = [
    ("导致平台使用率不足15%。", "不足"),
    ("群众满意度仅75%。", "仅"),
    ("矛盾化解率达98.6%。", "达"),
    ("平台覆盖群众超过50万人次。", "超过"),
    ("协同调解效率提升近65%。", "近"),
    ("累计办理业务超过12万件。", "超过"),
    ("政策理解率从60%提升至92%。", ""),
]


@pytest.mark.parametrize("text,qualifier", QUALIFIERS)
def test_bounds_and_approximations_are_kept(text, qualifier):
    (hit,) = extract(text)
    assert hit.qualifier == qualifier
    assert text[hit.start:hit.end].startswith(qualifier) or qualifier in text[hit.start:hit.end]


@pytest.mark.parametrize("text,expected", CASES)
def test_forms(text, expected):
    got = [(h.indicator, h.before, h.after, h.change, h.unit, h.direction) for h in extract(text)]
    assert got == [tuple(e) for e in expected]


def test_spans_point_into_text():
    text = "其中，政策理解率从60%提升至92%，满意度提升至96%。"
    for h in extract(text):
        assert 0 <= h.start < h.end <= len(text)
        assert text[h.start:h.end] in ("从60%提升至92%", "提升至96%")


def test_no_numbers_no_metrics():
    assert extract("通过联席会议整合资源，推动问题解决。") == []


@given(st.text(alphabet="从至提升下降达0123456789%.天万人，。", max_size=60))
def test_never_crashes_and_spans_valid(text):
    for h in extract(text):
        assert 0 <= h.start < h.end <= len(text)
        assert h.direction in ("up", "down", "level")


_PIECES = ["从", "由", "分别", "提升", "下降", "至", "到了", "了", "达", "累计办理业务", "超过",
           "新增", "个百分点", "%", "万件", "天", "、", "，", "。", "的水平", "幅度达",
           "满意度", "群众参与率与覆盖率", "12", "3.5", "６５", "0", "7",
           # Chinese numerals before 成/倍, and fillers long enough to part digit clusters
           "三", "两", "十", "成", "倍", "降低", "提高约", "各级部门在基层治理工作中持续探索和完善",
           "工作机制", "降至", "升至", "不足", "以上", "亩", "个月", "周", "约"]


@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_digit_windows_find_what_a_full_scan_finds(pieces):
    from casecoder.metrics import scan

    text = "".join(pieces)
    assert extract(text) == scan(text, 0, [(0, len(text))])


def test_digit_windows_on_the_corpus():
    from pathlib import Path

    from casecoder.metrics import scan

    root = Path(__file__).resolve().parent.parent / "cases"
    for f in sorted(root.glob("C*.md")):
        text = f.read_text(encoding="utf-8")
        assert extract(text) == scan(text, 0, [(0, len(text))]), f.name


@pytest.mark.parametrize("text,expected", [
    ("由上年的85%提升至95%。", ("", 85.0, 95.0, 10.0, "%", "up")),
    ("从原来的7天缩短为2天。", ("", 7.0, 2.0, -5.0, "天", "down")),
    ("案件从2021年的500件下降至2023年的300件。", ("案件", 500.0, 300.0, -200.0, "件", "down")),
    ("案件由2022年的1200件降至2024年的380件。", ("案件", 1200.0, 380.0, -820.0, "件", "down")),
    ("受理量超过12,000件。", ("受理量", None, 12000.0, None, "件", "level")),
    ("成本降低三成。", ("成本", None, None, -30.0, "%", "down")),
    ("效率提升两倍。", ("效率", None, None, 2.0, "倍", "up")),
    ("投诉降低了约30%。", ("投诉", None, None, -30.0, "%", "down")),
    ("办理时限从15个工作日缩短至5个工作日。", ("办理时限", 15.0, 5.0, -10.0, "个工作日", "down")),
])
def test_times_qualifiers_separators_and_chinese_numerals(text, expected):
    (m,) = extract(text)
    assert (m.indicator, m.before, m.after, m.change, m.unit, m.direction) == expected
    assert text[m.start:m.end].endswith(text[m.end - 1])  # a span inside the sentence
    assert scan(text, 0, [(0, len(text))]) == extract(text)


def test_approximate_change_keeps_its_qualifier():
    (m,) = extract("投诉降低了约30%。")
    assert m.qualifier == "约"


@pytest.mark.parametrize("text,expected", [
    # the verb holds the 至: "to", never "by"
    ("事故率降至0.5%。", ("事故率", None, 0.5, None, "%", "down", "", "")),
    ("满意度升至95%。", ("满意度", None, 95.0, None, "%", "up", "", "")),
    ("平均耗时降至2天。", ("平均耗时", None, 2.0, None, "天", "down", "", "")),
    ("用户增至1200户。", ("用户", None, 1200.0, None, "户", "up", "", "")),
    # time units convert only where they do exactly; otherwise no start value
    ("审批时间从3个月缩短到15天。", ("审批时间", None, 15.0, None, "天", "down", "", "")),
    ("办理周期从2周缩短至3天。", ("办理周期", 14.0, 3.0, -11.0, "天", "down", "", "")),
    ("建设周期从1年缩短至6个月。", ("建设周期", 12.0, 6.0, -6.0, "个月", "down", "", "")),
    ("响应时间从90秒缩短至1分钟。", ("响应时间", 1.5, 1.0, -0.5, "分钟", "down", "", "")),
    # units of area, vehicles and other counts
    ("种植面积从20亩增加到50亩。", ("种植面积", 20.0, 50.0, 30.0, "亩", "up", "", "")),
    ("车辆从200辆增至500辆。", ("车辆", 200.0, 500.0, 300.0, "辆", "up", "", "")),
    # bounds and range words with either figure: one record, bounds kept apart
    ("覆盖率由不足50%提高到95%以上。", ("覆盖率", 50.0, 95.0, 45.0, "%", "up", "", "不足")),
    ("参与率从约30%提升至超过60%。", ("参与率", 30.0, 60.0, 30.0, "%", "up", "超过", "约")),
])
def test_to_verbs_time_units_units_and_bounds(text, expected):
    (m,) = extract(text)
    assert (m.indicator, m.before, m.after, m.change, m.unit, m.direction, m.qualifier,
            m.before_qualifier) == expected
    assert scan(text, 0, [(0, len(text))]) == extract(text)
