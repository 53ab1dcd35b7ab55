"""One self-contained HTML report of a results table (``fer-au report results.csv``).

    >>> from fer_au.report import write_report
    >>> write_report("results.csv", "report.html")

Everything is inside the one file - plots as base64 PNG, thumbnails as base64
JPEG, the summary tables also as CSV downloads (data: links) - so it opens
offline, can be mailed, and loads nothing from the network.  Sections (their
HTML ids): ``overview``, ``models``, ``inputs`` (per input), ``persons`` (per
person, with the face the learned AU model draws from each person's mean AUs),
``aus`` (mean AU intensity and % present per person), ``videos`` (AU and
emotion timelines per person with the running baseline), ``images`` (the
images with their detections drawn, from the original files where they are
still there), ``errors`` (rows whose ``error`` is set).
"""
from __future__ import annotations

import base64
import datetime
import html
from pathlib import Path

import numpy as np
import pandas as pd

from .output import MODEL_COLUMNS

SECTIONS = ["overview", "models", "inputs", "persons", "aus", "videos", "images", "errors"]

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f2a3a;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px} header p{margin:2px 0;color:#c9d3e0;font-size:13px}
nav{padding:8px 28px;background:#e8ecf2;font-size:13px} nav a{margin-right:14px;color:#1f4f8f}
section{background:#fff;margin:16px 28px;padding:14px 20px;border-radius:6px;box-shadow:0 1px 2px #0002}
h2{font-size:17px;margin:4px 0 10px} h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;font-size:12px} th,td{border-bottom:1px solid #e3e6ea;padding:3px 8px;text-align:left}
th{background:#f0f2f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:12px} .card{width:360px;font-size:12px}
.card img{width:100%;border:1px solid #ccc} .missing{height:120px;background:#eee;display:flex;
align-items:center;justify-content:center;color:#777;border:1px dashed #bbb}
.kpi{display:inline-block;margin-right:22px;font-size:13px} .kpi b{font-size:20px;display:block}
.note{color:#666;font-size:12px} img.plot{max-width:100%} img.face{height:64px}
"""


# ------------------------------------------------------------------ helpers
def _esc(v) -> str:
    return html.escape("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))


def _png(fig, dpi=80) -> str:
    from .plots import to_png
    return "data:image/png;base64," + base64.b64encode(to_png(fig, dpi)).decode()


def _jpeg(bgr, max_side=360) -> str:
    import cv2
    h, w = bgr.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s < 1:
        bgr = cv2.resize(bgr, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 82])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode()


def _csv_link(df: pd.DataFrame, name: str) -> str:
    data = base64.b64encode(df.round(3).to_csv().encode()).decode()   # round: smaller, still fast
    return f'<a download="{name}" href="data:text/csv;base64,{data}">{name}</a>'


def _table(df: pd.DataFrame, index=True, digits=2, raw=()) -> str:
    """A small HTML table: text escaped (except the ``raw`` columns, which hold
    HTML made here), numbers right-aligned and rounded."""
    cols = list(df.columns)
    head = "".join(f"<th>{_esc(c)}</th>" for c in ([df.index.name or ""] if index else []) + cols)
    body = []
    for idx, row in df.iterrows():
        cells = [f"<td>{_esc(idx)}</td>"] if index else []
        for c in cols:
            v = row[c]
            if isinstance(v, (float, np.floating)) and not isinstance(v, bool):
                cells.append(f'<td class="num">{"" if np.isnan(v) else f"{v:.{digits}f}"}</td>')
            elif isinstance(v, (int, np.integer)):
                cells.append(f'<td class="num">{v}</td>')
            else:
                cells.append(f"<td>{v if c in raw else _esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _summary_columns(table: pd.DataFrame, summary: pd.DataFrame, counts, aus) -> None:
    """The shared columns of the per-input and per-person tables: ``counts`` that the
    summary has, the top emotion with its share, and the strongest AUs."""
    for c in counts:
        if c in summary:
            table[c] = summary[c]
    if "top_emotion" in summary:
        table["top emotion"] = [f"{e} {p:.0f}%" if isinstance(e, str) else "" for e, p in
                                zip(summary["top_emotion"], summary["top_emotion_pct"])]
    table["strongest AUs: mean (% present)"] = _strongest(summary, aus)


def _strongest(summary: pd.DataFrame, aus, k=3) -> list[str]:
    """Per summary row: its ``k`` AUs of highest mean, "AU12 2.1 (60%)"."""
    if not aus or not len(summary):
        return [""] * len(summary)
    mean = summary.reindex(columns=[f"{c}_mean" for c in aus]).to_numpy(float)
    pct = summary.reindex(columns=[f"{c}_present_pct" for c in aus]).to_numpy(float)
    order = np.argsort(-np.nan_to_num(mean, nan=-1.0), axis=1)[:, :k]
    out = []
    for i, idx in enumerate(order):
        out.append(", ".join(f"{aus[j]} {mean[i, j]:.1f} ({pct[i, j]:.0f}%)" for j in idx if np.isfinite(mean[i, j])))
    return out


def _find_file(name, roots):
    p = Path(str(name))
    for cand in [p] + [Path(r) / p for r in roots] + [Path(r) / p.name for r in roots]:
        try:
            if cand.is_file():
                return cand
        except OSError:
            pass
    return None


# ------------------------------------------------------------------ the report
def build_report(results, *, source: str = "", title: str = "fer_au report", roots=(),
                 max_images: int = 60, max_timelines: int = 12, max_error_rows: int = 200,
                 max_aus_columns: int = 12, max_table_rows: int = 300) -> str:
    """The report's HTML for a ``Results`` table (see the module docstring).

    roots : folders where image inputs given by relative path may be found (the
        CSV's folder and the current one are always tried).
    """
    from .aus import AU_NAMES
    from .results import Results

    res = results if isinstance(results, Results) else Results(results)
    video = res.is_video()
    faces = res.faces()
    errors = res.errors()
    inputs = list(pd.unique(res["input"].astype(str))) if "input" in res else []
    video_inputs = list(pd.unique(res.loc[video, "input"].astype(str))) if "input" in res else []
    image_inputs = [i for i in inputs if i not in set(video_inputs)]
    aus = res.au_codes
    by_input = res.summary("input") if len(res) else pd.DataFrame()
    by_person = res.summary("person") if len(faces) else pd.DataFrame()
    if len(by_person):      # the most-seen people first
        by_person = by_person.iloc[np.argsort(-by_person["faces"].to_numpy(), kind="stable")]
    parts = []

    # overview
    kpis = [("inputs", len(inputs)), ("images", len(image_inputs)), ("videos", len(video_inputs)),
            ("faces", len(faces)), ("persons", len(by_person)), ("errors", len(errors))]
    parts.append('<section id="overview"><h2>Overview</h2>'
                 + "".join(f'<span class="kpi"><b>{v}</b>{k}</span>' for k, v in kpis)
                 + '<p class="note">AU intensities are on fer_au\'s 0-5 scale (neutral-face spreads beyond '
                   'FER2013\'s neutral faces; 2 = present). "person" is the <code>person</code> column of '
                   '<code>analyze --identities</code> where the table has one, else a face track within one '
                   'input (<code>input#face_id</code>).</p>'
                 + (f'<p class="note">Downloads: {_csv_link(by_input, "summary_by_input.csv")}'
                    + (f' &middot; {_csv_link(by_person, "summary_by_person.csv")}' if len(by_person) else "")
                    + "</p>" if len(by_input) else "")
                 + "</section>")

    # models
    rows = []
    for m in MODEL_COLUMNS:
        if m in res:
            vals = res[m].dropna().astype(str)
            vals = vals[vals != ""]
            for v, n in vals.value_counts().items():
                rows.append({"stage": m, "model": v, "rows": int(n)})
    parts.append('<section id="models"><h2>Models used</h2>'
                 + (_table(pd.DataFrame(rows), index=False) if rows
                    else '<p class="note">The table names no models.</p>')
                 + "</section>")

    # per input
    if len(by_input):
        t = pd.DataFrame(index=by_input.index[:max_table_rows])
        vids = set(video_inputs)
        t["kind"] = ["video" if i in vids else "image" for i in t.index]
        bi = by_input.loc[t.index]
        _summary_columns(t, bi, ("rows", "faces", "errors", "seconds"), aus)
        if "person" in res:
            t["persons"] = res.groupby(res["input"].astype(str))["person"].nunique().reindex(t.index).fillna(0)
        short = [Path(i).name for i in t.index]
        if len(set(short)) == len(short):       # file names alone when they are unambiguous
            t.index = short
        t.index.name = "input"
        parts.append('<section id="inputs"><h2>Per input</h2>' + _table(t, digits=1)
                     + (f"<p class='note'>First {len(t)} of {len(by_input)} inputs; all are in "
                        "summary_by_input.csv.</p>" if len(by_input) > len(t) else "") + "</section>")
    else:
        parts.append('<section id="inputs"><h2>Per input</h2><p class="note">No rows.</p></section>')

    # per person (with the face drawn from the person's mean AUs)
    if len(by_person):
        keys = faces.person_key()
        bp = by_person.iloc[:max_table_rows]
        t = pd.DataFrame(index=bp.index)
        pairs = pd.DataFrame({"who": keys, "input": faces["input"].astype(str)})
        pairs = pairs[pairs["who"].isin(t.index)].drop_duplicates()      # one line per (person, input)
        where = pairs.groupby("who")["input"].agg(lambda s: ", ".join(sorted({Path(i).name for i in s})))
        t["inputs"] = where.reindex(t.index).fillna("").str.slice(0, 80)
        _summary_columns(t, bp, ("faces", "seconds"), aus)
        face_imgs = _person_faces(bp, aus, limit=12)
        if face_imgs:
            t["mean AUs as a face"] = [face_imgs.get(k, "") for k in t.index]
        parts.append('<section id="persons"><h2>Per person</h2>' + _table(t, digits=1, raw=["mean AUs as a face"])
                     + (f"<p class='note'>The {len(t)} most-seen of {len(by_person)} persons; all are in "
                        "summary_by_person.csv.</p>" if len(by_person) > len(t) else "")
                     + '<p class="note">Each face is drawn from the person\'s mean AU intensities by the linear '
                       'AU-to-landmarks model learned on FER2013 (<code>plots.plot_face</code>; grey: all AUs '
                       'at 0).</p></section>')
    else:
        parts.append('<section id="persons"><h2>Per person</h2><p class="note">No faces.</p></section>')

    # AU table: mean (and % present) per person
    if len(by_person) and aus:
        cols = list(by_person.index[:max_aus_columns])
        t = pd.DataFrame(index=[f"{c} {AU_NAMES.get(c, '')}" for c in aus])
        t.index.name = "AU"
        for k in cols:
            r = by_person.loc[k]
            t[k] = [_au_cell(r.get(f"{c}_mean", np.nan), r.get(f"{c}_present_pct", np.nan)) for c in aus]
        more = len(by_person) - len(cols)
        parts.append('<section id="aus"><h2>Action units per person</h2>'
                     '<p class="note">mean intensity (0-5) and % of the person\'s faces with the AU present.'
                     + (f" First {len(cols)} of {len(by_person)} persons; all are in summary_by_person.csv."
                        if more > 0 else "") + "</p>" + _table(t, raw=cols) + "</section>")
    else:
        parts.append('<section id="aus"><h2>Action units per person</h2><p class="note">No AU values.</p></section>')

    # videos: timelines
    from .plots import plot_timeline
    vparts, drawn = [], 0
    for inp in video_inputs:
        sub = res[(res["input"].astype(str) == inp) & video & res.has_face]
        if not len(sub):
            vparts.append(f"<h3>{_esc(Path(inp).name)}</h3><p class='note'>No faces found.</p>")
            continue
        people = sub.person_key().value_counts()
        vparts.append(f"<h3>{_esc(Path(inp).name)}</h3>")
        for person in people.index:
            if drawn >= max_timelines:
                break
            fig = plot_timeline(sub, input=inp, person=person)
            vparts.append(f'<img class="plot" alt="timeline {_esc(person)}" src="{_png(fig)}">')
            drawn += 1
    pairs = pd.DataFrame({"input": res.loc[video, "input"].astype(str), "who": res[video].person_key()})
    skipped = len(pairs.dropna().drop_duplicates()) - drawn       # (video, person) timelines not drawn
    if skipped > 0:
        vparts.append(f"<p class='note'>{skipped} more timeline(s) not drawn (limit {max_timelines}).</p>")
    parts.append('<section id="videos"><h2>Videos: timelines per person</h2>'
                 + ("".join(vparts) if vparts else "<p class='note'>No videos.</p>") + "</section>")

    # images: thumbnails with the detections drawn
    from .plots import annotate
    roots = [Path(r) for r in roots] + [Path.cwd()]
    cards = []
    for inp in image_inputs[:max_images]:
        rows = res[res["input"].astype(str) == inp]
        nf = int(rows.has_face.sum())
        tops = rows.faces().top_emotion().dropna().tolist()
        caption = (f"<b>{_esc(Path(inp).name)}</b><br>{nf} face(s)"
                   + (": " + _esc(", ".join(tops[:6])) if tops else ""))
        err = rows.errors()
        if len(err):
            caption += f"<br><span class='note'>error: {_esc(err['error'].iloc[0])}</span>"
        path = _find_file(inp, roots)
        if path is not None and not len(err):
            try:
                cards.append(f'<div class="card"><img alt="{_esc(Path(inp).name)}" '
                             f'src="{_jpeg(annotate(str(path), rows.faces()))}">{caption}</div>')
                continue
            except Exception as exc:   # unreadable now: say so, keep going
                caption += f"<br><span class='note'>cannot show it: {_esc(exc)}</span>"
        elif path is None:
            caption += "<br><span class='note'>original file not found</span>"
        cards.append(f'<div class="card"><div class="missing">no picture</div>{caption}</div>')
    if len(image_inputs) > max_images:
        cards.append(f"<p class='note'>{len(image_inputs) - max_images} more image(s) not shown "
                     f"(limit {max_images}).</p>")
    parts.append('<section id="images"><h2>Images and their detections</h2>'
                 + (f'<div class="cards">{"".join(cards)}</div>' if cards else "<p class='note'>No images.</p>")
                 + "</section>")

    # errors
    if len(errors):
        cols = [c for c in ("input", "frame", "error") if c in errors]
        t = errors[cols].head(max_error_rows)
        parts.append(f'<section id="errors"><h2>Errors ({len(errors)})</h2>' + _table(pd.DataFrame(t), index=False)
                     + (f"<p class='note'>first {max_error_rows} shown</p>" if len(errors) > max_error_rows else "")
                     + "</section>")
    else:
        parts.append('<section id="errors"><h2>Errors (0)</h2><p class="note">Every input was analysed.</p></section>')

    nav = "".join(f'<a href="#{s}">{s}</a>' for s in SECTIONS)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{_esc(title)}</h1><p>{_esc(source)} &middot; {len(res)} rows &middot; made {when} "
            f"by fer_au</p></header><nav>{nav}</nav>" + "".join(parts) + "</body></html>")


def _au_cell(mean, pct) -> str:
    if not np.isfinite(mean):
        return ""
    shade = int(255 - min(mean / 5, 1) * 150)
    return (f'<span style="background:rgb(255,{shade},{shade});padding:1px 4px">{mean:.1f}</span> '
            f'<span class="note">{pct:.0f}%</span>')


def _person_faces(by_person, aus, limit=12) -> dict:
    """{person: <img>} of each person's mean AUs as the face ``plots.face_shape``
    gives ({} if its model is not shipped).  Drawn with OpenCV: a matplotlib figure
    per person costs ~0.2 s here, this ~1 ms."""
    import cv2

    from . import zoo
    from .plots import CONTOURS, face_shape, load_face_model
    try:
        model = load_face_model()
    except zoo.ModelIntegrityError:
        return {}
    k = 2.2                                     # canonical 48-px frame -> a 106 x 120 px image
    neutral = face_shape(None, model)
    out = {}
    for who in list(by_person.index)[:limit]:
        means = {c: by_person.loc[who].get(f"{c}_mean", np.nan) for c in aus if c in model["au_codes"]}
        means = {c: v for c, v in means.items() if np.isfinite(v)}
        if not means:
            continue
        img = np.full((120, 106, 3), 255, np.uint8)
        for shape, colour, width in ((neutral, (190, 190, 190), 1), (face_shape(means, model), (0, 94, 213), 2)):
            pts = np.round((shape - (0, 4)) * k).astype(np.int32)
            for a, b, closed in CONTOURS:
                cv2.polylines(img, [pts[a:b + 1]], closed, colour, width, cv2.LINE_AA)
        ok, buf = cv2.imencode(".png", img)
        out[who] = (f'<img class="face" alt="face of {_esc(who)}" '
                    f'src="data:image/png;base64,{base64.b64encode(buf.tobytes()).decode()}">')
    return out


def write_report(results, out="report.html", **kwargs) -> Path:
    """Write the HTML report of ``results`` (a path to a CSV/Parquet results file,
    or a table) to ``out``; returns the path written."""
    from .results import read_results
    roots = list(kwargs.pop("roots", ()))
    source = kwargs.pop("source", "")
    if isinstance(results, (str, Path)):
        source = source or str(results)
        roots.append(Path(results).resolve().parent)
        results = read_results(results)
    out = Path(out)
    text = build_report(results, source=source, roots=roots, **kwargs)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
