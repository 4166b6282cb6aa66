"""Prompt building, the only place a task's templates meet an item.

Multiple choice follows lm-evaluation-harness: ``description`` once, then k shots
(question + target_delimiter + gold letters) joined by ``shot_separator``, then the question,
ending at the answer cue. Open generation goes through the model's chat template.
"""

from __future__ import annotations

from curate.core.readers.items import MCItem
from eval.tasks.schema import ChatSpec, MultipleChoiceTask


def subject_fields(task: MultipleChoiceTask, subject: str) -> dict[str, str]:
    info = task.subjects.get(subject)
    return {"subject": subject, "subject_zh": (info.name_zh if info and info.name_zh else subject)}


def format_question(task: MultipleChoiceTask, item: MCItem, *, cot: bool = False) -> str:
    p = task.prompt
    options = p.option_separator.join(p.option.format(letter=k, text=v) for k, v in item.options.items())
    text = p.question.format(question=item.question, options=options, **subject_fields(task, item.subject))
    if cot:
        # the study's CoT cue replaces the final answer cue: the model reasons, then states the answer
        cut = text.rfind(p.answer_cue)
        text = (text[:cut] if cut >= 0 else text + "\n") + p.cot_suffix + "\n"
    return text


def mc_context(task: MultipleChoiceTask, item: MCItem, shots: list[MCItem], *, cot: bool = False) -> str:
    """The full prompt up to (not including) the answer: description, shots, question."""
    p = task.prompt
    parts = [format_question(task, s) + p.target_delimiter + s.answer for s in shots]
    parts.append(format_question(task, item, cot=cot))
    return p.description.format(**subject_fields(task, item.subject)) + p.shot_separator.join(parts)


def chat_prompt(tokenizer, question: str, chat: ChatSpec) -> tuple[str, bool]:
    """(prompt text, whether the tokenizer should still add its special tokens)."""
    return chat_messages_prompt(tokenizer, [{"role": "user", "content": question}], chat)


def chat_messages_prompt(tokenizer, messages: list[dict], chat: ChatSpec) -> tuple[str, bool]:
    """The prompt for the assistant turn after ``messages`` (user/assistant turns, optionally a system
    turn first); the task's system prompt is added when asked and the turns bring none."""
    lang = chat.prompt_language
    messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    if chat.system_prompt and not (messages and messages[0]["role"] == "system"):
        messages.insert(0, {"role": "system", "content": chat.system[lang]})
    if chat.use_chat_template and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text, False  # the template already wrote BOS where the model wants one
    system = [m["content"] for m in messages if m["role"] == "system"]
    text = system[0] + "\n" if system else ""
    tpl = chat.plain_template[lang]
    for m in messages:
        if m["role"] == "user":
            text += tpl.format(question=m["content"])
        elif m["role"] == "assistant":
            text += m["content"] + "\n"
    return text, True
