"""Commands of the analyst's loop: ``suggest``, ``combine``, ``review …`` and
``import codings``. Each is a thin wrapper over :mod:`casecoder.suggest`,
:mod:`casecoder.review` and :mod:`casecoder.importing`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from casecoder.cli.common import JsonOpt, ProjectOpt, emit_json, make_app, progress_bar, table

if TYPE_CHECKING:
    from casecoder.store import Store

CodebookOpt = Annotated[
    Path | None,
    typer.Option("--codebook", "-c", help="YAML codebook: codes must be defined in it."),
]
OutPassOpt = Annotated[str, typer.Option("--out-pass", help="The pass to (re)write.")]
ReviewCodebookOpt = Annotated[
    Path | None,
    typer.Option("--codebook", "-c", help="YAML codebook: code labels; recode targets must "
                 "be defined in it."),
]

review_app = make_app(
    "Review the codings of a pass: in the terminal, or through a CSV/XLSX sheet.\n\n"
    "Example: casecoder review start suggest --out-pass reviewed --order uncertainty")


def _codebook(path: Path | None) -> Any:
    if path is None:
        return None
    from casecoder.codebook import load_codebook

    return load_codebook(path)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


# -- suggest and combine -----------------------------------------------------------------

def suggest_command(
    project: ProjectOpt = Path("."),
    train_pass: Annotated[str, typer.Option("--train-pass", help="Pass to learn from.")]
    = "rules",
    out_pass: OutPassOpt = "suggest",
    threshold: Annotated[float, typer.Option(help="Minimum probability of a suggestion.")]
    = 0.5,
    cv: Annotated[bool, typer.Option("--cv/--no-cv", help="Cross-validate first, grouped "
                                     "by case.")] = True,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed for dealing cases to folds.")] = 0,
    group_by: Annotated[str, typer.Option("--group-by", help="case or source.")] = "case",
    min_positives: Annotated[int, typer.Option("--min-positives", help="Codes with fewer "
                                               "coded sentences get no model.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Learn codes from a pass (character n-grams + logistic regression) and write a
    suggestion pass with a probability on every suggested coding.

    Example: casecoder suggest --train-pass rules --out-pass suggest --threshold 0.5 --cv
    """
    from casecoder.store import open_store
    from casecoder.suggest import cross_validate, suggest, trainable_codes, training_data

    with open_store(project) as store:
        data = training_data(store, train_pass, group_by)
        n_codes = len(trainable_codes(data, min_positives)[0])
        total = n_codes * ((folds if cv else 0) + 1)
        report: dict[str, Any] = {}
        with progress_bar(total, "train") as bar:
            if cv:
                report["cv"] = cross_validate(store, train_pass, folds=folds, seed=seed,
                                              group_by=group_by, threshold=threshold,
                                              min_positives=min_positives,
                                              progress=bar.advance)
            report["suggest"] = suggest(store, train_pass, out_pass, threshold=threshold,
                                        min_positives=min_positives, progress=bar.advance)
    if as_json:
        emit_json(report)
        return
    if cv:
        res = report["cv"]
        typer.echo(f"cross-validation: {res['folds']} folds grouped by {res['group_by']} "
                   f"({res['groups']} groups, {res['units']} sentences)")
        typer.echo(table([[c, m["support"], _fmt(m["precision"]), _fmt(m["recall"]),
                           _fmt(m["f1"]), _fmt(m["kappa"])] for c, m in res["codes"].items()],
                         ["code", "support", "precision", "recall", "f1", "kappa"]))
    res = report["suggest"]
    for code, reason in res["skipped"].items():
        typer.echo(f"skipped {code}: {reason}")
    typer.echo(f"pass {res['pass']}: {res['codings']} suggestions on {res['units']} sentences "
               f"({res['coder']})")


def combine_command(
    project: ProjectOpt = Path("."),
    rules_pass: Annotated[str, typer.Option("--rules-pass", help="Pass kept whole.")] = "rules",
    model_pass: Annotated[str, typer.Option("--model-pass", help="Suggestion pass.")]
    = "suggest",
    out_pass: OutPassOpt = "combined",
    policy: Annotated[str, typer.Option(help="Combination policy (union-with-threshold).")]
    = "union-with-threshold",
    high: Annotated[float, typer.Option(help="Minimum probability of an added model coding.")]
    = 0.8,
    as_json: JsonOpt = False,
) -> None:
    """Combine a rule pass and a suggestion pass: keep every rule coding, add a model
    coding only where rules did not code that sentence for that code and p >= --high.

    Example: casecoder combine --rules-pass rules --model-pass suggest --out-pass combined
    """
    from casecoder.store import open_store
    from casecoder.suggest import combine

    with open_store(project) as store:
        res = combine(store, rules_pass, model_pass, out_pass, policy=policy, high=high)
    if as_json:
        emit_json(res)
        return
    typer.echo(f"pass {res['pass']}: {res['rules']} rule codings + {res['added']} model "
               f"codings ({res['covered']} already coded by rules, {res['below']} below "
               f"{res['high']})")


# -- import codings ----------------------------------------------------------------------

def import_codings_command(
    file: Annotated[Path, typer.Argument(help="Codings file (.jsonl or .csv), in the layout "
                                         "of `casecoder export codings`.")],
    pass_name: Annotated[str, typer.Option("--pass", help="The pass to (re)write.")],
    project: ProjectOpt = Path("."),
    codebook: CodebookOpt = None,
    coder: Annotated[str | None, typer.Option(help="Coder recorded on every coding.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import codings as a pass; every record must fall on the same text (source,
    offsets, quote). Nothing is written if any line is bad.

    Example: casecoder import codings coded.csv --pass zhang --codebook codebooks/governance.yaml
    """
    from casecoder.importing import import_codings
    from casecoder.queries import project_codes
    from casecoder.store import open_store

    cb = _codebook(codebook)
    with open_store(project) as store:
        known = project_codes(store, besides=pass_name)
        n = import_codings(store, file, pass_name, coder=coder, codebook=cb)
        new = _new_codes(store, pass_name, known) if cb is None else []
    if as_json:
        emit_json({"pass": pass_name, "codings": n, "file": str(file), "new_codes": new})
        return
    typer.echo(f"pass {pass_name}: imported {n} codings from {file}")
    _note_new_codes(new, known)


def _new_codes(store: Store, pass_name: str, known: set[str]) -> list[str]:
    """The codes of ``pass_name`` outside ``known`` (none when the project knew no code:
    then there is nothing to compare with)."""
    used = {r[0] for r in store.db.execute(
        "SELECT DISTINCT code FROM codings WHERE pass = ?", (pass_name,))}
    return sorted(used - known) if known else []


def _note_new_codes(new: list[str], known: set[str]) -> None:
    """Without a codebook, codes the project has never seen may be typos: say so."""
    from casecoder.queries import did_you_mean

    for code in new:
        typer.echo(f"note: code {code} is new to the project{did_you_mean(code, known)}; "
                   "pass --codebook to refuse codes outside a codebook", err=True)


# -- review --------------------------------------------------------------------------------

@review_app.command("start")
def review_start(
    pass_name: Annotated[str, typer.Argument(help="The pass to review.")],
    project: ProjectOpt = Path("."),
    out_pass: OutPassOpt = "reviewed",
    order: Annotated[str, typer.Option(help="document or uncertainty (least certain model "
                                       "codings first).")] = "document",
    codebook: ReviewCodebookOpt = None,
    finish: Annotated[bool, typer.Option("--finish", help="Write the reviewed pass from the "
                                         "saved decisions now, without reviewing.")] = False,
    restart: Annotated[bool, typer.Option("--restart", help="Discard saved decisions.")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Review a pass in the terminal, one key per decision: a accept, r reject, c recode,
    s skip, b back, q quit. Decisions are saved at every key; run again to resume.

    Example: casecoder review start suggest --out-pass reviewed --order uncertainty
    """
    from casecoder.review import ReviewSession
    from casecoder.store import open_store

    cb = _codebook(codebook)
    with open_store(project) as store:
        session = ReviewSession(store, pass_name, out_pass, order=order, codebook=cb,
                                restart=restart, color=sys.stdout.isatty())
        if finish:
            res = session.finish()
        else:
            try:
                res = session.run()
            except KeyboardInterrupt:
                typer.echo(f"\nInterrupted; {len(session.decisions)} decisions are saved in "
                           f"{session.state_file}. Run the same command to resume.", err=True)
                raise typer.Exit(130) from None
    if as_json:
        emit_json(res)
        return
    if res["finished"]:
        typer.echo(f"pass {res['pass']}: {res['codings']} codings ({res['accepted']} accepted, "
                   f"{res['recoded']} recoded, {res['rejected']} rejected, {res['skipped']} "
                   f"skipped, {res['undecided']} undecided)")
    else:
        typer.echo(f"{res['decided']} of {res['items']} decided; saved in {res['state_file']}")


@review_app.command("export")
def review_export(
    pass_name: Annotated[str, typer.Argument(help="The pass to review.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Review sheet: .csv or .xlsx.")],
    project: ProjectOpt = Path("."),
    order: Annotated[str, typer.Option(help="document or uncertainty.")] = "document",
) -> None:
    """Write a review sheet (one row per coding with context; fill in decision, new_code,
    note).

    Example: casecoder review export suggest --out review.xlsx --order uncertainty
    """
    from casecoder.review import export_review
    from casecoder.store import open_store

    with open_store(project) as store:
        n = export_review(store, pass_name, out, order=order)
    typer.echo(f"wrote {n} rows to {out}")


@review_app.command("import")
def review_import(
    file: Annotated[Path, typer.Argument(help="The filled-in review sheet (.csv or .xlsx).")],
    pass_name: Annotated[str, typer.Option("--pass", help="The pass the sheet was exported "
                                           "from.")],
    project: ProjectOpt = Path("."),
    out_pass: OutPassOpt = "reviewed",
    codebook: ReviewCodebookOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Read the decisions of a review sheet (accept, reject, recode + new_code, skip) and
    write the reviewed pass.

    Example: casecoder review import review.xlsx --pass suggest --out-pass reviewed
    """
    from casecoder.queries import project_codes
    from casecoder.review import import_review
    from casecoder.store import open_store

    cb = _codebook(codebook)
    with open_store(project) as store:
        known = project_codes(store, besides=out_pass)
        res = import_review(store, file, pass_name, out_pass, codebook=cb)
        new = _new_codes(store, out_pass, known) if cb is None else []
    if as_json:
        emit_json({**res, "new_codes": new})
        return
    typer.echo(f"pass {res['pass']}: {res['codings']} codings ({res['accepted']} accepted, "
               f"{res['recoded']} recoded, {res['rejected']} rejected, {res['skipped']} "
               f"skipped, {res['undecided']} undecided)")
    _note_new_codes(new, known)
