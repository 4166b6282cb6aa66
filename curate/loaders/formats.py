"""Turn one raw row of a known format into (messages, rejected).

Formats: alpaca/belle (instruction/input/output[/history/system]), sharegpt (conversations),
messages (OpenAI), preference (prompt/chosen/rejected, conversations+chosen/rejected,
question/response_chosen/response_rejected, ranked `output` lists), cot (inputs/targets,
question/answer/rationale), qa (question/std_answer). A problem raises SchemaError naming the field.
"""

from __future__ import annotations

from typing import Any, Callable

ROLE_ALIASES = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
    "bot": "assistant", "model": "assistant", "system": "system",
}


class SchemaError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"field `{field}`: {message}")
        self.field = field


Messages = list[dict[str, str]]


def checked_str(value: Any, field: str) -> str:
    """A text field: a string that is valid Unicode. Numbers are not text (`NaN`, `1e400` and float
    columns would become "nan"/"inf"/"1.5"): a wrong type is a schema error, as the README promises."""
    if not isinstance(value, str):
        kind = "a number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__
        raise SchemaError(field, f"expected a string, got {kind}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise SchemaError(field, f"not valid Unicode: lone surrogate {value[e.start]!a} at character {e.start + 1}") from None
    return value


def _text(row: dict, field: str, *, required: bool = True, default: str = "") -> str:
    value = row.get(field)
    if value is None:
        if required:
            raise SchemaError(field, "missing")
        return default
    return checked_str(value, field)


def _reply_text(value: Any, field: str) -> str:
    """A reply given as a string, a {from,value}/{role,content} dict, or a message list (last turn)."""
    if isinstance(value, str):
        return checked_str(value, field)
    if isinstance(value, dict):
        for key in ("value", "content", "text"):
            if isinstance(value.get(key), str):
                return checked_str(value[key], f"{field}.{key}")
    if isinstance(value, list) and value:
        return _reply_text(value[-1], field)
    raise SchemaError(field, f"expected a reply string or message, got {type(value).__name__}")


def _turns(items: Any, field: str, role_key: str, content_key: str) -> Messages:
    if not isinstance(items, list) or not items:
        raise SchemaError(field, "expected a non-empty list of turns")
    out: Messages = []
    for i, turn in enumerate(items):
        if not isinstance(turn, dict):
            raise SchemaError(f"{field}[{i}]", f"expected an object, got {type(turn).__name__}")
        rk = role_key if role_key in turn else ("role" if "role" in turn else "from")
        ck = content_key if content_key in turn else ("content" if "content" in turn else "value")
        role = ROLE_ALIASES.get(str(turn.get(rk, "")).lower())
        if role is None:
            raise SchemaError(f"{field}[{i}].{rk}", f"unknown role `{turn.get(rk)}` (known: {', '.join(ROLE_ALIASES)})")
        content = checked_str(turn.get(ck), f"{field}[{i}].{ck}")
        out.append({"role": role, "content": content})
    return out


def check_roles(messages: Messages, field: str) -> Messages:
    """System only first; then user/assistant strictly alternating, starting with user."""
    expected = "user"
    for i, m in enumerate(messages):
        if m["role"] == "system":
            if i != 0:
                raise SchemaError(f"{field}[{i}]", "a system turn may only come first")
            continue
        if m["role"] != expected:
            raise SchemaError(f"{field}[{i}]", f"turns must alternate user/assistant; got {m['role']} where {expected} belongs")
        expected = "assistant" if expected == "user" else "user"
    return messages


def _system(row: dict) -> Messages:
    s = row.get("system")
    if s is not None and not isinstance(s, str):
        raise SchemaError("system", f"expected a string, got {type(s).__name__}")
    if isinstance(s, str):
        checked_str(s, "system")
    return [{"role": "system", "content": s}] if isinstance(s, str) and s.strip() else []


def _history(row: dict) -> Messages:
    hist = row.get("history") or []
    if not isinstance(hist, list):
        raise SchemaError("history", "expected a list of [question, answer] pairs")
    out: Messages = []
    for i, pair in enumerate(hist):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise SchemaError(f"history[{i}]", "expected a [question, answer] pair of strings")
        pair = [checked_str(x, f"history[{i}][{j}]") for j, x in enumerate(pair)]
        out += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    return out


def _alpaca_prompt(row: dict) -> Messages:
    instruction = _text(row, "instruction")
    extra = _text(row, "input", required=False)
    user = f"{instruction}\n{extra}" if extra.strip() else instruction
    return _system(row) + _history(row) + [{"role": "user", "content": user}]


def convert_alpaca(row: dict) -> tuple[Messages, str | None]:
    if isinstance(row.get("output"), list):
        raise SchemaError("output", "is a list of ranked responses; use `format: preference`")
    return _alpaca_prompt(row) + [{"role": "assistant", "content": _text(row, "output")}], None


def convert_sharegpt(row: dict) -> tuple[Messages, str | None]:
    if "chosen" in row or "rejected" in row:
        return convert_preference(row)
    msgs = _system(row) + _turns(row.get("conversations"), "conversations", "from", "value")
    return msgs, None


def convert_messages(row: dict) -> tuple[Messages, str | None]:
    msgs = _turns(row.get("messages"), "messages", "role", "content")
    rejected = row.get("rejected")
    return msgs, (_reply_text(rejected, "rejected") if rejected is not None else None)


def _distinct_pair(responses: list, field: str) -> tuple[str, str]:
    texts = [_reply_text(r, f"{field}[{i}]") for i, r in enumerate(responses)]
    if len(texts) < 2:
        raise SchemaError(field, "a ranked list needs at least two responses")
    for other in texts[1:]:
        if other.strip() != texts[0].strip():
            return texts[0], other  # best-ranked vs the next different one
    raise SchemaError(field, "all ranked responses are identical")


def convert_preference(row: dict) -> tuple[Messages, str | None]:
    if isinstance(row.get("output"), list):  # oaast-style ranked list: best vs next different
        chosen, rejected = _distinct_pair(row["output"], "output")
        return _alpaca_prompt(row) + [{"role": "assistant", "content": chosen}], rejected
    if "response_chosen" in row:
        prompt = [{"role": "user", "content": _text(row, "question")}]
        chosen, rejected = _text(row, "response_chosen"), _text(row, "response_rejected")
    else:
        if "conversations" in row:
            prompt = _system(row) + _turns(row["conversations"], "conversations", "from", "value")
        elif isinstance(row.get("prompt"), list):
            prompt = _turns(row["prompt"], "prompt", "role", "content")
        elif "prompt" in row:
            prompt = _system(row) + [{"role": "user", "content": _text(row, "prompt")}]
        elif "instruction" in row:
            prompt = _alpaca_prompt(row)
        else:
            raise SchemaError("prompt", "missing (or give `conversations` / `instruction`)")
        for f in ("chosen", "rejected"):
            if row.get(f) is None:
                raise SchemaError(f, "missing")
        chosen, rejected = _reply_text(row["chosen"], "chosen"), _reply_text(row["rejected"], "rejected")
    return prompt + [{"role": "assistant", "content": chosen}], rejected


def convert_cot(row: dict) -> tuple[Messages, str | None]:
    if "inputs" in row:
        return [{"role": "user", "content": _text(row, "inputs")},
                {"role": "assistant", "content": _text(row, "targets")}], None
    if "question" in row:
        answer = _text(row, "answer")
        rationale = _text(row, "rationale", required=False)
        reply = f"{rationale.strip()}\n{answer}" if rationale.strip() else answer
        return [{"role": "user", "content": _text(row, "question")}, {"role": "assistant", "content": reply}], None
    return convert_alpaca(row)


def convert_qa(row: dict) -> tuple[Messages, str | None]:
    key = next((k for k in ("std_answer", "answer", "response", "output") if k in row), "answer")
    return [{"role": "user", "content": _text(row, "question")}, {"role": "assistant", "content": _text(row, key)}], None


CONVERTERS: dict[str, Callable[[dict], tuple[Messages, str | None]]] = {
    "alpaca": convert_alpaca,
    "belle": convert_alpaca,
    "sharegpt": convert_sharegpt,
    "messages": convert_messages,
    "preference": convert_preference,
    "cot": convert_cot,
    "qa": convert_qa,
}
FORMATS_HELP = ", ".join(CONVERTERS)


def detect_format(row: dict) -> str | None:
    """Guess a format from the keys of the first record."""
    keys = set(row)
    if "conversations" in keys:
        return "preference" if {"chosen", "rejected"} <= keys else "sharegpt"
    if "messages" in keys:
        return "messages"
    if {"prompt", "chosen", "rejected"} <= keys or {"question", "response_chosen"} <= keys:
        return "preference"
    if {"instruction", "output"} <= keys:
        return "preference" if isinstance(row.get("output"), list) else "alpaca"
    if {"inputs", "targets"} <= keys:
        return "cot"
    if "question" in keys and "rationale" in keys:
        return "cot"
    if "question" in keys and keys & {"std_answer", "answer", "response"}:
        return "qa"
    return None


def apply_columns(row: dict, columns: dict[str, str | int]) -> dict:
    """LLaMA-Factory-style mapping: canonical field name -> the field name in this file."""
    if not columns:
        return row
    out = dict(row)
    for canonical, original in columns.items():
        if str(original) in row:
            out[canonical] = row[str(original)]
    return out
