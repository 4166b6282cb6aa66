"""Prompt building, the only place a task's templates meet an item.

Multiple choice follows lm-evaluation-harness: ``description`` once, then k shots
(question + target_delimiter + gold letters) joined by ``shot_separator``, then the question,
ending at the answer cue. Open generation goes through the model's chat template.
"""

from __future__ import annotations

from eval.readers.items import MCItem
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
    lang = chat.prompt_language
    if chat.use_chat_template and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": chat.system[lang]}] if chat.system_prompt else []
        messages.append({"role": "user", "content": question})
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text, False  # the template already wrote BOS where the model wants one
    text = chat.plain_template[lang].format(question=question)
    if chat.system_prompt:
        text = chat.system[lang] + "\n" + text
    return text, True
