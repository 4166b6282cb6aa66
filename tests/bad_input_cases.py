"""Generated bad inputs for tests/test_bad_input.py: what a hostile (or careless) user feeds `curate build`.

Each `Case` is a small input written by the test into a temp folder, with what a person would count:
the good records (kept), and for each bad one its line, the reject reason and the field path the
message must name. File-level and recipe-level cases stop the build in both `on_error` modes.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field

GOOD = 4  # good records around each bad one


@dataclass
class Case:
    id: str
    files: dict[str, bytes]  # file name (inside the case folder) -> bytes
    path: str | list | None = None  # the source's `path:` (default: the only file)
    source: dict = field(default_factory=dict)  # more source keys (format, fieldnames, allow_empty ...)
    good: int = GOOD  # records kept
    bad: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # line -> (reason, field path)
    error: str | None = None  # a file/recipe-level error: regex the one-line message must match (both modes)
    recipe: dict = field(default_factory=dict)  # recipe keys to override
    special: str | None = None  # "fifo", "device", "out_is_file": set up by the test

    @property
    def load_bad(self) -> dict[int, tuple[str, str | None]]:
        return {n: b for n, b in self.bad.items() if b[0] in ("parse_error", "schema_error")}


def _jsonl(lines: list[str | bytes]) -> bytes:
    return b"".join((x if isinstance(x, bytes) else x.encode("utf-8")) + b"\n" for x in lines)


def _good_alpaca(i: int) -> str:
    return json.dumps({"instruction": f"问题{i}：请解释一下", "output": f"回答{i}：好的"}, ensure_ascii=False)


DEEP = lambda n: "[" * n + "]" * n  # noqa: E731

# (name, bad line, reason, field path); reason None = a good record (kept); validate reasons are
# rejected by the final `validate` in both modes
ALPACA_BAD: list[tuple[str, str | bytes, str | None, str | None]] = [
    ("truncated", '{"instruction": "a", "output": ', "parse_error", None),
    ("trailing_comma", '{"instruction": "a", "output": "b",}', "parse_error", None),
    ("single_quotes", "{'instruction': 'a', 'output': 'b'}", "parse_error", None),
    ("bare_text", "这不是 JSON", "parse_error", None),
    ("surrogate_instruction", '{"instruction": "\\ud800x", "output": "b"}', "schema_error", "instruction"),
    ("surrogate_output", '{"instruction": "a", "output": "\\udfff"}', "schema_error", "output"),
    ("surrogate_input", '{"instruction": "a", "input": "x\\udc80", "output": "b"}', "schema_error", "input"),
    ("deep_1000", '{"instruction": "a", "output": "b", "x": ' + DEEP(1000) + "}", "parse_error", None),
    ("deep_5000", '{"instruction": "a", "output": "b", "x": ' + DEEP(5000) + "}", "parse_error", None),
    ("bigint_5000", '{"instruction": "a", "output": "b", "n": ' + "9" * 5000 + "}", "parse_error", None),
    ("nan_instruction", '{"instruction": NaN, "output": "b"}', "schema_error", "instruction"),
    ("infinity_output", '{"instruction": "a", "output": Infinity}', "schema_error", "output"),
    ("neg_infinity", '{"instruction": -Infinity, "output": "b"}', "schema_error", "instruction"),
    ("overflow_1e400", '{"instruction": "a", "output": 1e400}', "schema_error", "output"),
    ("int_instruction", '{"instruction": 5, "output": "b"}', "schema_error", "instruction"),
    ("float_output", '{"instruction": "a", "output": 1.5}', "schema_error", "output"),
    ("bool_output", '{"instruction": "a", "output": true}', "schema_error", "output"),
    ("null_instruction", '{"instruction": null, "output": "b"}', "schema_error", "instruction"),
    ("list_instruction", '{"instruction": ["a"], "output": "b"}', "schema_error", "instruction"),
    ("dict_output", '{"instruction": "a", "output": {"x": 1}}', "schema_error", "output"),
    ("missing_output", '{"instruction": "a"}', "schema_error", "output"),
    ("empty_object", "{}", "schema_error", "instruction"),
    ("array_line", "[1, 2]", "schema_error", None),
    ("string_line", '"just a string"', "schema_error", None),
    ("number_line", "42", "schema_error", None),
    ("null_line", "null", "schema_error", None),
    ("gbk_bytes", '{"instruction": "坏", "output": "坏"}'.encode("gbk"), "parse_error", None),
    ("latin1_bytes", b'{"instruction": "caf\xe9", "output": "b"}', "parse_error", None),
    ("history_not_list", '{"instruction": "a", "output": "b", "history": "x"}', "schema_error", "history"),
    ("history_bad_pair", '{"instruction": "a", "output": "b", "history": [["q"]]}', "schema_error", "history[0]"),
    ("system_number", '{"instruction": "a", "output": "b", "system": 3}', "schema_error", "system"),
    ("ranked_output", '{"instruction": "a", "output": ["x", "y"]}', "schema_error", "output"),
    ("zero_width_instruction", '{"instruction": "\\u200b\\u200b", "output": "b"}', "empty_turn", None),
    ("whitespace_output", '{"instruction": "a", "output": "  \\n\\t "}', "empty_turn", None),
    ("bom_only_output", '{"instruction": "a", "output": "\\ufeff\\u2060"}', "empty_turn", None),
    ("ok_surrogate_unused", '{"instruction": "a", "output": "b", "note": "\\ud800"}', None, None),
    ("ok_deep_900_unused", '{"instruction": "a", "output": "b", "x": ' + DEEP(900) + "}", None, None),
    ("ok_bigint_4000_unused", '{"instruction": "a", "output": "b", "n": ' + "9" * 4000 + "}", None, None),
    ("ok_nan_unused", '{"instruction": "a", "output": "b", "score": NaN}', None, None),
    ("ok_crlf", '{"instruction": "a", "output": "b"}\r', None, None),
]

CONTAINERS = ("data.jsonl", "data.ndjson", "data.jsonl.gz")
POSITIONS = ("first", "middle", "last")


def _place(bad: str | bytes, where: str) -> tuple[list, int]:
    good = [_good_alpaca(i) for i in range(GOOD)]
    at = {"first": 0, "middle": GOOD // 2, "last": GOOD}[where]
    return good[:at] + [bad] + good[at:], at + 1


def _file(name: str, data: bytes) -> dict[str, bytes]:
    return {name: gzip.compress(data, mtime=0) if name.endswith(".gz") else data}


def alpaca_cases() -> list[Case]:
    out = []
    for k, (name, bad, reason, key) in enumerate(ALPACA_BAD):
        for v in range(2):  # two (position, container) variants of every bad line
            where = POSITIONS[(k + v) % 3]
            container = CONTAINERS[(k + 2 * v) % 3]
            lines, line = _place(bad, where)
            good = GOOD + (reason is None)
            out.append(Case(f"alpaca-{name}-{where}-{container}", _file(container, _jsonl(lines)),
                            source={"format": "alpaca"}, good=good,
                            bad={} if reason is None else {line: (reason, key)}))
    return out


def _conv(turns, **extra) -> str:
    return json.dumps({"conversations": turns, **extra}, ensure_ascii=False)


def _msgs(turns, **extra) -> str:
    return json.dumps({"messages": turns, **extra}, ensure_ascii=False)


def _pair(i: int) -> str:
    return json.dumps({"prompt": f"问{i}", "chosen": f"好答{i}", "rejected": f"差答{i}"}, ensure_ascii=False)


H = lambda v: {"from": "human", "value": v}  # noqa: E731
G = lambda v: {"from": "gpt", "value": v}  # noqa: E731
U = lambda c: {"role": "user", "content": c}  # noqa: E731
A = lambda c: {"role": "assistant", "content": c}  # noqa: E731

FORMAT_BAD = [  # (format, good-line maker, bad line, reason, field path)
    ("sharegpt", lambda i: _conv([H(f"问{i}"), G(f"答{i}")]), _conv("hi"), "schema_error", "conversations"),
    ("sharegpt", lambda i: _conv([H(f"问{i}"), G(f"答{i}")]), _conv([]), "schema_error", "conversations"),
    ("sharegpt", lambda i: _conv([H(f"问{i}"), G(f"答{i}")]), _conv([{"from": "alien", "value": "x"}, G("y")]),
     "schema_error", "conversations[0].from"),
    ("sharegpt", lambda i: _conv([H(f"问{i}"), G(f"答{i}")]), _conv([H("q"), {"from": "gpt", "value": 7}]),
     "schema_error", "conversations[1].value"),
    ("sharegpt", lambda i: _conv([H(f"问{i}"), G(f"答{i}")]), '{"conversations": [{"from": "human", "value": "\\ud83d"}, '
     '{"from": "gpt", "value": "y"}]}', "schema_error", "conversations[0].value"),
    ("sharegpt", lambda i: _conv([H(f"问{i}"), G(f"答{i}")]), _conv([G("y"), H("q")]), "schema_error", "[0]"),
    ("sharegpt", lambda i: _conv([H(f"问{i}"), G(f"答{i}")]), _conv([H("q"), "turn"]), "schema_error", "conversations[1]"),
    ("sharegpt", lambda i: _conv([H(f"问{i}"), G(f"答{i}")]), _conv([H("q"), G("y"), H("again")]), "ends_with_user", None),
    ("sharegpt", lambda i: _conv([H(f"问{i}"), G(f"答{i}")]), _conv([H("q"), G("\u200b")]), "empty_turn", None),
    ("messages", lambda i: _msgs([U(f"问{i}"), A(f"答{i}")]), _msgs([U("q"), {"role": "assistant", "content": None}]),
     "schema_error", "messages[1].content"),
    ("messages", lambda i: _msgs([U(f"问{i}"), A(f"答{i}")]), _msgs([{"content": "q"}, A("y")]), "schema_error", "messages[0]"),
    ("messages", lambda i: _msgs([U(f"问{i}"), A(f"答{i}")]), _msgs([U("q"), A("y")], rejected=5), "schema_error", "rejected"),
    ("messages", lambda i: _msgs([U(f"问{i}"), A(f"答{i}")]), _msgs([U("q"), A("same")], rejected="same"), "identical_pair", None),
    ("messages", lambda i: _msgs([U(f"问{i}"), A(f"答{i}")]), _msgs([U("q"), A("y")], rejected="\u200b "), "empty_rejected", None),
    ("messages", lambda i: _msgs([U(f"问{i}"), A(f"答{i}")]), _msgs([U(1.5), A("y")]), "schema_error", "messages[0].content"),
    ("preference", _pair, json.dumps({"prompt": "q", "rejected": "r"}), "schema_error", "chosen"),
    ("preference", _pair, '{"prompt": "q", "chosen": "c", "rejected": NaN}', "schema_error", "rejected"),
    ("preference", _pair, json.dumps({"prompt": "q", "chosen": "同一个", "rejected": "同一个"}, ensure_ascii=False),
     "identical_pair", None),
    ("preference", _pair, json.dumps({"prompt": "q", "chosen": "同一个 ", "rejected": "\u200b同一个"}, ensure_ascii=False),
     "identical_pair", None),
    ("preference", _pair, json.dumps({"prompt": 12, "chosen": "c", "rejected": "r"}), "schema_error", "prompt"),
    ("preference", _pair, json.dumps({"prompt": "q", "chosen": {"x": 1}, "rejected": "r"}), "schema_error", "chosen"),
]


def format_cases() -> list[Case]:
    out = []
    for k, (fmt, good_line, bad, reason, key) in enumerate(FORMAT_BAD):
        where = POSITIONS[k % 3]
        good = [good_line(i) for i in range(GOOD)]
        at = {"first": 0, "middle": GOOD // 2, "last": GOOD}[where]
        lines = good[:at] + [bad] + good[at:]
        as_list = k % 2 == 1 and "\\ud83d" not in bad  # every other case as a JSON list file (line = element)
        data = ("[\n" + ",\n".join(lines) + "\n]\n").encode("utf-8") if as_list else _jsonl(lines)
        name = "data.json" if as_list else "data.jsonl"
        out.append(Case(f"{fmt}-{k}-{reason}-{where}-{name}", {name: data}, source={"format": fmt},
                        bad={at + 1: (reason, key)}))
    return out


CSV_HEADER = "instruction,output"


def _csv(rows: list[str], sep: str = ",", header: bool = True) -> bytes:
    head = [CSV_HEADER.replace(",", sep)] if header else []
    return ("\n".join(head + rows) + "\n").encode("utf-8")


CSV_BAD = [  # (name, bad row, reason, field path, lines the row spans)
    ("unclosed_quote", '"问题没有结尾,回答', "parse_error", None),
    ("extra_cells", "a,b,c", "parse_error", None),
    ("huge_cell", "a" * 140_000 + ",b", "parse_error", None),
    ("missing_cell", "only-one-cell", "schema_error", "output"),
    ("empty_instruction", ",回答", "empty_turn", None),
    ("zero_width_cell", "问题,\u200b", "empty_turn", None),
    ("ok_stray_quote", '"引用" 之后,回答', None, None),
    ("ok_multiline_cell", '"第一行\n第二行",回答', None, None),
    ("ok_quoted_comma", '"甲,乙",回答', None, None),
]


def csv_cases() -> list[Case]:
    out = []
    for k, (name, bad, reason, key) in enumerate(CSV_BAD):
        for v, (fname, sep) in enumerate((("data.csv", ","), ("data.tsv", "\t"), ("data.csv.gz", ","))):
            if sep == "\t" and name in ("ok_quoted_comma",):
                continue
            where = POSITIONS[(k + v) % 3]
            good = [f"问题{i}{sep}回答{i}" for i in range(GOOD)]
            at = {"first": 0, "middle": GOOD // 2, "last": GOOD}[where]
            row = bad.replace(",", sep) if sep == "\t" else bad
            data = _csv(good[:at] + [row] + good[at:], sep)
            out.append(Case(f"csv-{name}-{where}-{fname}", _file(fname, data), source={"format": "alpaca"},
                            good=GOOD + (reason is None), bad={} if reason is None else {at + 2: (reason, key)}))
    # two unclosed quotes: each is rejected at its own line and the rows after it are still read
    rows = [f"问题{i},回答{i}" for i in range(GOOD)]
    data = _csv(rows[:1] + ['"坏,一'] + rows[1:3] + ['"坏,二'] + rows[3:])
    out.append(Case("csv-two-unclosed-quotes", {"data.csv": data}, source={"format": "alpaca"},
                    bad={3: ("parse_error", None), 6: ("parse_error", None)}))
    out.append(Case("csv-headerless-fieldnames", {"data.tsv": _csv([f"问{i}\t答{i}" for i in range(GOOD)] + ["x"], "\t",
                                                                   header=False)},
                    source={"format": "alpaca", "fieldnames": ["instruction", "output"]},
                    bad={GOOD + 1: ("schema_error", "output")}))
    return out


def _parquet(columns: dict) -> bytes:
    import polars as pl

    buf = io.BytesIO()
    pl.DataFrame(columns).write_parquet(buf)
    return buf.getvalue()


def parquet_cases() -> list[Case]:
    inst = [f"问题{i}" for i in range(GOOD)]
    outp = [f"回答{i}" for i in range(GOOD)]
    every = lambda reason, key: {i + 1: (reason, key) for i in range(GOOD)}  # noqa: E731
    return [
        Case("parquet-ok", {"d.parquet": _parquet({"instruction": inst, "output": outp})}, source={"format": "alpaca"}),
        Case("parquet-float-instruction", {"d.parquet": _parquet({"instruction": [1.5, 2.0, 3.25, 4.0], "output": outp})},
             source={"format": "alpaca"}, good=0, bad=every("schema_error", "instruction")),
        Case("parquet-nan-output", {"d.parquet": _parquet({"instruction": inst, "output": [float("nan"), 1.0, 2.0, 3.0]})},
             source={"format": "alpaca"}, good=0, bad=every("schema_error", "output")),
        Case("parquet-int-output", {"d.parquet": _parquet({"instruction": inst, "output": [1, 2, 3, 4]})},
             source={"format": "alpaca"}, good=0, bad=every("schema_error", "output")),
        Case("parquet-null-in-row-3", {"d.parquet": _parquet({"instruction": inst[:2] + [None] + inst[3:], "output": outp})},
             source={"format": "alpaca"}, good=GOOD - 1, bad={3: ("schema_error", "instruction")}),
        Case("parquet-list-column", {"d.parquet": _parquet({"instruction": [["a"]] * GOOD, "output": outp})},
             source={"format": "alpaca"}, good=0, bad=every("schema_error", "instruction")),
        Case("parquet-surrogate-free-cjk", {"d.parquet": _parquet({"instruction": inst, "output": outp, "n": [1, 2, 3, 4]})},
             source={"format": "alpaca"}),
    ]


EMPTY = r"(file is empty|is empty|no records|has no rows)"


def file_cases() -> list[Case]:
    good = _jsonl([_good_alpaca(i) for i in range(GOOD)])
    deep_list = ("[\n" + _good_alpaca(0) + ",\n" + DEEP(3000) + "\n]\n").encode()
    big_list = ("[\n" + _good_alpaca(0) + ",\n" + _good_alpaca(1) + ",\n" + "1" * 5000 + "\n]\n").encode()
    zero_rows = _parquet({"instruction": [], "output": []})
    out = [
        Case("file-empty-jsonl", {"data.jsonl": b""}, error=r"data\.jsonl: file is empty"),
        Case("file-whitespace-jsonl", {"data.jsonl": b"\n  \n\t\n"}, error=r"data\.jsonl: file is empty"),
        Case("file-empty-list", {"data.json": b"[]\n"}, error=r"data\.json: the JSON list is empty"),
        Case("file-header-only-csv", {"data.csv": b"instruction,output\n"}, error=r"data\.csv: no records"),
        Case("file-zero-row-parquet", {"d.parquet": zero_rows}, error=r"d\.parquet: the Parquet file has no rows"),
        Case("file-empty-gz", {"data.jsonl.gz": gzip.compress(b"", mtime=0)}, error=r"data\.jsonl\.gz: file is empty"),
        Case("file-corrupt-gz", {"data.jsonl.gz": b"\x1f\x8b\x08\x00garbage"}, error=r"data\.jsonl\.gz: not a readable gzip"),
        Case("file-corrupt-parquet", {"d.parquet": b"PAR1 this is not parquet"}, error=r"d\.parquet: cannot read Parquet"),
        Case("file-list-malformed", {"data.json": b'[\n{"instruction": "a", "output": "b"},\n{"instruction": \n]\n'},
             error=r"data\.json:4: malformed JSON list"),
        Case("file-list-deep-element", {"data.json": deep_list}, error=r"data\.json:3: JSON nested too deeply"),
        Case("file-list-bigint-element", {"data.json": big_list}, error=r"data\.json:4: unreadable JSON value"),
        Case("file-list-gbk", {"data.json": '[{"instruction": "坏", "output": "坏"}]'.encode("gbk")},
             error=r"data\.json:1: not UTF-8"),
        Case("file-csv-gbk", {"data.csv": "instruction,output\n坏,坏\n".encode("gbk")}, error=r"data\.csv:2: not UTF-8"),
        Case("file-csv-header-unclosed", {"data.csv": b'"instruction,output\na,b\n'},
             error=r"data\.csv:1: cannot read the header row"),
        Case("file-folder-unknown-kind", {"d/a.jsonl": good, "d/b.xml": b"<x/>"}, path="d", error=r"d/b\.xml, a file of a kind"),
        Case("file-folder-empty", {"d/README.md": b"# docs\n"}, path="d", error=r"folder `.*d` holds no"),
        Case("file-missing", {"data.jsonl": good}, path="nope.jsonl", error=r"no file matches `c\d+/nope\.jsonl`"),
        Case("file-glob-no-match", {"data.jsonl": good}, path="*.parquet", error=r"no file matches `c\d+/\*\.parquet`"),
        Case("file-unknown-suffix", {"data.txt": good}, path="data.txt", error=r"data\.txt: unknown file type"),
        Case("file-fifo", {}, path="pipe.jsonl", special="fifo", error=r"pipe\.jsonl` is a FIFO"),
        Case("file-device", {}, path="/dev/zero", special="device", error=r"/dev/zero` is a device"),
        Case("file-fifo-in-folder", {"a.jsonl": good}, path=".", special="fifo", error=r"pipe\.jsonl` is a FIFO"),
        Case("file-path-empty-string", {"data.jsonl": good}, path="", error=r"sources\[0\].*`path` is empty"),
        Case("file-path-empty-list", {"data.jsonl": good}, path=[], error=r"sources\[0\].*`path` is empty"),
    ]
    # allowed empties build with zero records from that file, and every other record counted
    for name, data in (("data.jsonl", b""), ("data.json", b"[]"), ("data.csv", b"instruction,output\n"),
                       ("d.parquet", zero_rows)):
        out.append(Case(f"file-allowed-empty-{name}", {name: data, "more.jsonl": good}, path=[name, "more.jsonl"],
                        source={"allow_empty": True, "format": "alpaca"}))
    # supported containers of good data build with every record
    out.append(Case("file-folder-mixed-kinds", {"d/a.jsonl": good, "d/b.ndjson": good, "d/c.json.gz": gzip.compress(good, mtime=0),
                                                 "d/README.md": b"# about\n", "d/.hidden": b"x"},
                    path="d", good=3 * GOOD, source={"format": "alpaca"}))
    return out


def recipe_cases() -> list[Case]:
    good = {"data.jsonl": _jsonl([_good_alpaca(i) for i in range(GOOD)])}
    mk = lambda cid, recipe, error, **kw: Case(cid, dict(good), recipe=recipe, error=error, **kw)  # noqa: E731
    return [
        mk("recipe-name-dotdot", {"name": ".."}, r"name: String should match"),
        mk("recipe-name-dot", {"name": "."}, r"name: String should match"),
        mk("recipe-name-slash", {"name": "a/b"}, r"name: String should match"),
        mk("recipe-name-hidden", {"name": ".tmp-x"}, r"name: String should match"),
        mk("recipe-name-300", {"name": "n" * 300}, r"name: String should match"),
        mk("recipe-name-empty", {"name": ""}, r"name: String should match"),
        mk("recipe-weights-nan", {"mix": {"weights": {"s": float("nan")}}}, r"mix: .*weights must be finite"),
        mk("recipe-weights-inf", {"mix": {"weights": {"s": float("inf")}}}, r"mix: .*weights must be finite"),
        mk("recipe-weights-zero", {"mix": {"weights": {"s": 0}}}, r"mix: .*weights are all zero"),
        mk("recipe-weights-negative", {"mix": {"weights": {"s": -1}}}, r"mix: .*non-negative"),
        mk("recipe-by-type-zero", {"mix": {"by_type": {"general": 0.0}}}, r"mix: .*by_type are all zero"),
        mk("recipe-seed-negative", {"seed": -1, "mix": {"total": 2}}, r"seed: Input should be greater than or equal to 0"),
        mk("recipe-total-huge-replace", {"mix": {"total": 10**12, "replace": True}}, r"mix\.total: Input should be less"),
        mk("recipe-counts-huge", {"mix": {"counts": {"s": 10**11}}}, r"mix: .*counts add up to"),
        mk("recipe-unknown-key", {"seeed": 1}, r"seeed.*did you mean `seed`"),
        mk("recipe-on-error-bogus", {"on_error": "skip"}, r"sources\[0\]\.on_error"),
        mk("recipe-source-name-path", {"source_name": "../x"}, r"sources\[0\]\.name: String should match"),
        mk("recipe-weights-unknown-source", {"mix": {"weights": {"nope": 1}}}, r"mix\.weights\.nope: no source"),
        mk("recipe-patterns-lookahead", {"clean": [{"filter": {"patterns_file": "{dir}/p.txt"}}]},
           r"clean\[0\]\.filter\.patterns_file: c\d+/p\.txt \[mine\]: polars cannot compile `\(\?=x\)`"),
        mk("recipe-patterns-missing", {"clean": [{"filter": {"patterns_file": "{dir}/missing.txt"}}]}, r"patterns_file not found"),
        mk("recipe-out-is-file", {}, r"--out: .* is a file", special="out_is_file"),
    ]


def all_cases() -> list[Case]:
    cases = alpaca_cases() + format_cases() + csv_cases() + parquet_cases() + file_cases() + recipe_cases()
    for c in cases:
        if c.id.startswith("recipe-patterns-lookahead"):
            c.files["p.txt"] = b"[mine]\n(?=x)\n"
    return cases
