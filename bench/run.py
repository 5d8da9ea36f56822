"""casecoder benchmarks: one command, figures in docs/PERFORMANCE.md.

    python bench/run.py [--mb 10] [--out bench/results/latest.json]

Each stage runs in a fresh subprocess so that its peak memory (ru_maxrss) is its own:

* ingest + segmentation of a generated Chinese corpus (case narratives and interview
  transcripts built from the bundled cases' sentences), at half and full size, to
  show throughput and that peak memory stays flat as the corpus grows;
* rule coding with the governance codebook, from stored segments to stored codings,
  in one process (the least of five runs, each on a store without the pass);
* the floor under any coding pass: the Aho-Corasick scan alone and storing the pass's
  codings alone, on the same store;
* the jieba stage against plain ``jieba.lcut`` on the same text, and on 1 vs 2 processes
  (each figure the least of five runs, the one least disturbed by other load);
* a control: how much faster 2 processes run a pure-Python loop than 1 on this machine
  (the ceiling against which the jieba figure is read);
* cross-case graph and all flags for 10,000 synthetic cases;
* intercoder agreement with 1,000 bootstrap resamples on 100,000 units and 5 codes;
* set-theoretic analysis (truth table, the three solutions) with 12 fuzzy conditions.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 5
CODEBOOK = Path(os.environ.get("CASECODER_BENCH_CODEBOOK", ROOT / "codebooks" / "governance.yaml"))


def generate(folder: Path, mb: float, seed: int = 7) -> int:
    """Write a corpus of about ``mb`` MB (UTF-8) into ``folder``; returns its bytes."""
    sys.path.insert(0, str(ROOT))
    from casecoder.ingest import build_source
    from casecoder.readers import read_file

    sentences: list[str] = []
    for f in sorted((ROOT / "cases").glob("C*.md")):
        read = read_file(f)
        _src, _case, spans = build_source(read, f.name, str(f))
        sentences += [read.text[s.start_char:s.end_char] for s, _ in spans
                      if s.kind == "sentence"]
    rng = random.Random(seed)
    target = int(mb * 1024 * 1024)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    n = 0
    while total < target:
        if n % 3 == 2:
            lines = [f"访谈编码：B{n:05d}", "受访者身份：社区工作者", ""]
            for _ in range(40):
                lines.append("问：" + rng.choice(sentences))
                lines.append("答：" + "".join(rng.choice(sentences) for _ in range(3)))
            text = "\n".join(lines) + "\n"
            name = f"i{n:05d}.txt"
        else:
            paras = ["".join(rng.choice(sentences) for _ in range(5)) for _ in range(30)]
            text = "## 背景\n" + "\n\n".join(paras) + "\n"
            name = f"c{n:05d}.md"
        data = text.encode("utf-8")
        (folder / name).write_bytes(data)
        total += len(data)
        n += 1
    return total


def child(stage: str, args: dict) -> dict:
    """Run one stage in a subprocess and return its figures."""
    cmd = [sys.executable, __file__, "--child", stage, "--args", json.dumps(args)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_ingest(a: dict) -> dict:
    from casecoder.ingest import ingest
    from casecoder.store import Store

    t = time.perf_counter()
    with Store(a["project"], create=True) as store:
        rep = ingest(store, [a["corpus"]])
    dt = time.perf_counter() - t
    return {"seconds": dt, "mb_per_s": a["bytes"] / 1048576 / dt, "segments": rep.segments,
            "peak_mb": _peak_mb()}


def stage_code(a: dict) -> dict:
    from casecoder.codebook import load_codebook
    from casecoder.coding import code
    from casecoder.store import Store

    cb = load_codebook(CODEBOOK)
    times = []
    with Store(a["project"]) as store:
        for _ in range(REPEATS):
            with store.transaction():  # start each run from a store without the pass
                store.replace_pass("bench", "-", None, None, {}, None)
                store.db.execute("DELETE FROM passes WHERE name = 'bench'")
            t = time.perf_counter()
            rep = code(store, cb, pass_name="bench", jobs=a.get("jobs", 1))
            times.append(time.perf_counter() - t)
    dt = min(times)
    return {"seconds": dt, "mb_per_s": a["bytes"] / 1048576 / dt, "codings": rep.codings,
            "metrics": rep.metrics, "peak_mb": _peak_mb()}


def stage_floor(a: dict) -> dict:
    """The two steps no rule-coding pass can skip, timed alone on the same store: the
    Aho-Corasick scan of every text with the codebook's automaton, and storing the pass's
    coding rows (insert and commit, as ``code`` does). Their sum bounds how fast any pass
    can be on this machine, however lean the work between them."""
    from casecoder.codebook import load_codebook
    from casecoder.coding import CompiledCodebook, code
    from casecoder.store import Store

    cb = load_codebook(CODEBOOK)
    cc = CompiledCodebook.build(cb)
    scan, write = [], []
    with Store(a["project"]) as store:
        texts = [src.text for src in store.sources()]
        code(store, cb, pass_name="floor")
        rows = [tuple(r) for r in store.db.execute(
            "SELECT pass, source_id, code, start_char, end_char, evidence, rule, confidence,"
            " coder, polarity, segment_id FROM codings WHERE pass = 'floor' ORDER BY id")]
        for _ in range(REPEATS):
            t = time.perf_counter()
            hits = sum(len(cc.find(x)) for x in texts)
            scan.append(time.perf_counter() - t)
            with store.transaction():
                store.db.execute("DELETE FROM codings WHERE pass = 'floor'")
            t = time.perf_counter()
            with store.transaction(bulk=("codings",)):
                store.add_codings(rows)
            write.append(time.perf_counter() - t)
        with store.transaction():
            store.replace_pass("floor", "-", None, None, {}, None)
            store.db.execute("DELETE FROM passes WHERE name = 'floor'")
    mb = a["bytes"] / 1048576
    return {"scan_s": min(scan), "scan_mb_per_s": mb / min(scan), "automaton_hits": hits,
            "store_codings_s": min(write), "codings": len(rows),
            "bound_mb_per_s": mb / (min(scan) + min(write))}


def stage_jieba(a: dict) -> dict:
    """The product's segmentation (what `casecoder terms` runs: jieba with the codebook's
    user dictionary, one tokenizer per process, counting words over the texts, on 1 and
    2 processes) against plain `jieba.lcut` on the same paragraphs."""
    import jieba

    from casecoder.codebook import load_codebook
    from casecoder.coding import codebook_terms
    from casecoder.lang_zh import dictionary_loads, grouped_word_counts, shared_tokenizer

    texts = [p.read_text(encoding="utf-8") for p in sorted(Path(a["corpus"]).iterdir())]
    paras = [x for t in texts for x in t.split("\n") if x]
    jieba.initialize()
    tok = shared_tokenizer(codebook_terms(load_codebook(CODEBOOK))).load()

    # Each figure is the least of REPEATS runs, the three kinds interleaved, so that a
    # burst of load from elsewhere on the machine does not land on one kind only.
    runs = {"plain": lambda: [jieba.lcut(p) for p in paras],
            "one": lambda: grouped_word_counts(tok, paras, jobs=1),
            "two": lambda: grouped_word_counts(tok, paras, jobs=2)}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(REPEATS):
        for kind, fn in runs.items():
            t = time.perf_counter()
            fn()
            times[kind].append(time.perf_counter() - t)
    plain, one, two = (min(times[k]) for k in ("plain", "one", "two"))
    return {"plain_lcut_s": plain, "casecoder_1proc_s": one, "casecoder_2proc_s": two,
            "ratio_to_plain": one / plain, "speedup_2_vs_1": one / two,
            "mb_per_s_1proc": a["bytes"] / 1048576 / one,
            "dictionary_loads": dictionary_loads(), "peak_mb": _peak_mb()}


def _spin(n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def stage_cpu(a: dict) -> dict:
    """The machine's own ceiling for 2 processes: a pure-Python loop, no data to move."""
    import multiprocessing

    n = a.get("n", 10_000_000)
    ctx = multiprocessing.get_context("fork")
    times: dict[str, list[float]] = {"one": [], "two": []}
    for _ in range(REPEATS):
        t = time.perf_counter()
        _spin(n)
        _spin(n)
        times["one"].append(time.perf_counter() - t)
        t = time.perf_counter()
        with ctx.Pool(2) as pool:
            pool.map(_spin, [n, n], chunksize=1)
        times["two"].append(time.perf_counter() - t)
    one, two = min(times["one"]), min(times["two"])
    return {"one_s": one, "two_s": two, "speedup_2_vs_1": one / two}


def stage_graph(a: dict) -> dict:
    from casecoder.flags import Thresholds
    from casecoder.graph import Evidence, GraphData, analysis_from_data
    from casecoder.models import CONTEXT_IDS, Case, Codebook, Link

    rng = random.Random(3)
    mechs = [f"mech.m{i}" for i in range(7)]
    practices = [f"{m}.p{j}" for m in mechs for j in range(4)]
    others = ["out", "ctx.economy", "ctx.funding", "prob.silo"]
    regions = ["长三角", "珠三角", "京津冀", "中西部", "东北"]
    settings = ["urban_community", "rural", "industry", "cross_region"]
    states = ["present", "absent", "unknown"]
    data = GraphData(codebook=Codebook("synthetic", "-", "0" * 64, {}), cases={})
    for i in range(a["cases"]):
        cid = f"S{i:05d}"
        data.cases[cid] = Case(
            id=cid, title=cid, attributes={"region": rng.choice(regions),
                                           "setting": rng.choice(settings)},
            conditions={c: rng.choice(states) for c in CONTEXT_IDS},
            outcome={"result": "success" if rng.random() < 0.7 else "failure"}, transfers=[])
        els = {m for m in mechs if rng.random() < 0.6}
        els |= {p for p in practices if p.rsplit(".", 1)[0] in els and rng.random() < 0.4}
        data.elements[cid] = els | set(others)
        nodes = sorted(data.elements[cid])
        for k in range(6):
            u, v = rng.sample(nodes, 2)
            data.links.append((Link(i, u, v, 1, k * 10, k * 10 + 9, "推动", "connective", cid),
                               Evidence(cid, f"{cid}.md", k * 10, k * 10 + 9, "……", "推动")))
    t = time.perf_counter()
    an = analysis_from_data(data, Thresholds())
    dt = time.perf_counter() - t
    return {"cases": len(an.records), "links": len(data.links), "seconds": dt,
            "elements": len(an.flags), "edges": an.cross.number_of_edges(),
            "evidence_edges": an.evidence.number_of_edges(), "peak_mb": _peak_mb()}


def stage_agree(a: dict) -> dict:
    import numpy as np

    from casecoder.agree import AgreementInput, agreement

    rng = np.random.default_rng(0)
    n, k = a.get("units", 100_000), 5
    x = rng.random((n, k)) < 0.2
    y = x ^ (rng.random((n, k)) < 0.1)
    codes = [f"c{j}" for j in range(k)]
    inp = AgreementInput(list(range(n)), codes,
                         {i: {codes[j] for j in np.flatnonzero(x[i])} for i in range(n)},
                         {i: {codes[j] for j in np.flatnonzero(y[i])} for i in range(n)})
    t = time.perf_counter()
    report = agreement(inp, bootstrap=1000, seed=0)
    dt = time.perf_counter() - t
    return {"units": n, "codes": k, "bootstrap": 1000, "seconds": dt,
            "kappa": report.overall.kappa, "peak_mb": _peak_mb()}


def stage_qca(a: dict) -> dict:
    import numpy as np

    from casecoder import qca

    rng = np.random.default_rng(7)
    n, k = 30, a.get("conditions", 12)
    x = np.round(rng.random((n, k)) * 0.8 + 0.1, 2)
    y = np.clip(x[:, :3].min(axis=1) + rng.normal(0, 0.15, n), 0, 1)
    table = qca.QcaTable.from_columns({f"C{j}": x[:, j] for j in range(k)} | {"Y": y})
    t = time.perf_counter()
    result = qca.run(table, "Y", incl_cut=0.75, dir_exp={f"C{j}": 1 for j in range(3)})
    dt = time.perf_counter() - t
    return {"cases": n, "conditions": k, "seconds": dt,
            "parsimonious_models": len(result.parsimonious.models), "peak_mb": _peak_mb()}


STAGES = {"ingest": stage_ingest, "code": stage_code, "floor": stage_floor,
          "jieba": stage_jieba, "cpu": stage_cpu, "graph": stage_graph, "agree": stage_agree,
          "qca": stage_qca}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=float, default=10.0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    ap.add_argument("--child")
    ap.add_argument("--args")
    ns = ap.parse_args()
    if ns.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(STAGES[ns.child](json.loads(ns.args))))
        return
    tmp = Path(tempfile.mkdtemp(prefix="casecoder-bench-"))
    try:
        results: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
        half, full = tmp / "half", tmp / "full"
        b_half = generate(half, ns.mb / 2)
        b_full = generate(full, ns.mb)
        results["corpus_mb"] = round(b_full / 1048576, 2)
        results["ingest_half"] = child("ingest", {"corpus": str(half), "project": str(
            tmp / "p_half"), "bytes": b_half})
        results["ingest"] = child("ingest", {"corpus": str(full), "project": str(tmp / "p"),
                                             "bytes": b_full})
        results["memory_growth_half_to_full"] = round(
            results["ingest"]["peak_mb"] / results["ingest_half"]["peak_mb"], 3)
        results["code"] = child("code", {"project": str(tmp / "p"), "bytes": b_full})
        results["code_floor"] = child("floor", {"project": str(tmp / "p"), "bytes": b_full})
        results["jieba"] = child("jieba", {"corpus": str(full), "bytes": b_full})
        results["cpu_ceiling"] = child("cpu", {})
        results["graph_10000"] = child("graph", {"cases": 10000})
        results["agree_100k"] = child("agree", {"units": 100_000})
        results["qca_12"] = child("qca", {"conditions": 12})
        out = Path(ns.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(json.dumps(results, indent=2, sort_keys=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
