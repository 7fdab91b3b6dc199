"""Chat messages through a model's chat template, the one way every stage does it.

Some templates (Gemma-style) refuse a system message with `raise_exception`; the system text is then
folded into the first user turn and the caller is told, so that it can record it. A tokenizer with no
template at all is an error naming the option that supplies one.
"""

from __future__ import annotations

from .errors import MedinjectError


def fold_system(messages: list[dict]) -> list[dict]:
    """The system message's text placed before the first user turn's, the system message removed."""
    if not messages or messages[0].get("role") != "system":
        return list(messages)
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    for m in rest:
        if m.get("role") == "user":
            m["content"] = f"{system}\n\n{m['content']}"
            return rest
    return [{"role": "user", "content": system}, *rest]


def require_template(tokenizer, option: str) -> None:
    """One-line error when the tokenizer has no chat template; `option` says how to give one."""
    if not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "") or "the model"
        raise MedinjectError(f"the model {name!r} has no chat template; give one with {option}")


def refuses_system(tokenizer) -> bool:
    """Whether the template raises on a system message (probed once per template, then remembered)."""
    template = tokenizer.chat_template
    cached = getattr(tokenizer, "_medinject_refuses_system", None)
    if cached is not None and cached[0] == template:
        return cached[1]
    probe = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    try:
        tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
        refuses = False
    except Exception as exc:  # jinja's TemplateError from raise_exception, or whatever the template raises
        if "system" not in str(exc).lower():
            raise
        refuses = True
    try:
        tokenizer._medinject_refuses_system = (template, refuses)
    except AttributeError:
        pass
    return refuses


def render(tokenizer, messages: list[dict], *, option: str = "--chat-template FILE", **kwargs):
    """`tokenizer.apply_chat_template(messages, **kwargs)`, folding the system turn when the template refuses
    it. Returns (result, folded)."""
    require_template(tokenizer, option)
    folded = bool(messages) and messages[0].get("role") == "system" and refuses_system(tokenizer)
    if folded:
        messages = fold_system(messages)
    return tokenizer.apply_chat_template(messages, **kwargs), folded
