"""Chat templates with `{% generation %}` markers, and the system-prompt wrapper language.

TRL's assistant-only loss needs a template that marks assistant text with
`{% generation %}...{% endgeneration %}`; most model templates lack the markers (and GGUF files
often lack a template at all), so zhtune ships its own by name. The assistant's end-of-turn token
sits *inside* the markers so the model learns to stop.
"""

from __future__ import annotations

from pathlib import Path

from curate.core.errors import UserError

CHATML = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Gemma has no system role: the system text goes in front of the first user turn.
GEMMA = (
    "{{- bos_token }}"
    "{%- if messages and messages[0]['role'] == 'system' %}"
    "{%- set sys = messages[0]['content'] + '\\n\\n' %}{%- set turns = messages[1:] %}"
    "{%- else %}{%- set sys = '' %}{%- set turns = messages %}{%- endif %}"
    "{%- for message in turns %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<start_of_turn>model\\n' }}"
    "{% generation %}{{- message['content'] + '<end_of_turn>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<start_of_turn>user\\n' + (sys if loop.first else '') + message['content'] + '<end_of_turn>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<start_of_turn>model\\n' }}{%- endif %}"
)

TEMPLATES: dict[str, str] = {"chatml": CHATML, "gemma": GEMMA}
# The token that ends an assistant turn in each template (generation stops on it as well as eos).
END_OF_TURN: dict[str, str] = {"chatml": "<|im_end|>", "gemma": "<end_of_turn>"}

SYSTEM_PROMPTS: dict[str, str] = {
    "zh": "你是一个乐于助人的助手。请认真、准确地回答用户的问题。",
    "en": "You are a helpful assistant. Answer the user's questions carefully and accurately.",
}


def has_generation_markers(template: str | None) -> bool:
    return bool(template) and "{% generation %}" in template.replace("{%-", "{%").replace("-%}", "%}")


def resolve_template(choice: str) -> tuple[str, str | None]:
    """A template name (`chatml`, `gemma`) or a path to a .jinja file -> (jinja text, end-of-turn token)."""
    if choice in TEMPLATES:
        return TEMPLATES[choice], END_OF_TURN[choice]
    path = Path(choice)
    if path.suffix in (".jinja", ".j2") or path.exists():
        if not path.is_file():
            raise UserError(f"chat template file {choice} not found",
                            hint=f"give a .jinja path or one of: {', '.join(TEMPLATES)}")
        return path.read_text(encoding="utf-8"), None
    raise UserError(f"unknown chat template {choice!r}",
                    hint=f"use one of {', '.join(TEMPLATES)} or a path to a .jinja file")


def guess_template(tokenizer) -> str | None:
    """Our template whose special tokens this tokenizer knows (used when the model's template lacks markers)."""
    vocab = tokenizer.get_vocab()
    for name, eot in END_OF_TURN.items():
        if eot in vocab:
            return name
    return None


def apply_template(tokenizer, template: str | None, *, model_template_required: bool = True) -> str | None:
    """Give `tokenizer` a training template with generation markers; return the end-of-turn token.

    `template` None means "auto": keep the model's own template if it has markers, else swap in ours
    for the same turn tokens. A model with no template at all needs an explicit choice.
    """
    if template not in (None, "auto"):
        text, eot = resolve_template(template)
        tokenizer.chat_template = text
        return eot
    own = tokenizer.chat_template
    if not own:
        if not model_template_required:
            return None
        raise UserError("the model has no chat template",
                        hint=f"set `template:` (model.chat_template) to one of {', '.join(TEMPLATES)} "
                             "or a .jinja file")
    if has_generation_markers(own):
        return None
    name = guess_template(tokenizer)
    if name is None:
        raise UserError("the model's chat template has no {% generation %} markers, needed for assistant-only loss",
                        hint=f"set `template:` to one of {', '.join(TEMPLATES)} or a .jinja file with markers")
    tokenizer.chat_template = TEMPLATES[name]
    return END_OF_TURN[name]


def with_system_prompt(messages: list[dict], language: str | None) -> list[dict]:
    """Prepend the default system prompt in `language` (zh/en) when the record has none."""
    if not language or (messages and messages[0]["role"] == "system"):
        return messages
    return [{"role": "system", "content": SYSTEM_PROMPTS[language]}, *messages]
