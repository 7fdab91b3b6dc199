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


def _template_error(tokenizer, exc: Exception, option: str) -> MedinjectError:
    name = getattr(tokenizer, "name_or_path", "") or "the model"
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return MedinjectError(f"the chat template of {name!r} cannot render these messages ({type(exc).__name__}: "
                          f"{first}); give a working one with {option}")


def _is_template_error(exc: Exception) -> bool:
    # jinja's TemplateError and its subclasses (syntax errors, raise_exception), whatever the template raises
    return type(exc).__module__.split(".")[0] == "jinja2"


def refuses_system(tokenizer, option: str = "--chat-template FILE") -> bool:
    """Whether the template raises on a system message but renders the same chat without it (Gemma-style
    `raise_exception`, or Mistral-style 'roles must alternate'); probed once per template, then remembered.
    A template that cannot render a plain user turn either is an error naming the option."""
    template = tokenizer.chat_template
    cached = getattr(tokenizer, "_medinject_refuses_system", None)
    if cached is not None and cached[0] == template:
        return cached[1]

    def renders(messages) -> Exception | None:
        try:
            tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as exc:  # noqa: BLE001 - a template may raise anything; judged below
            if not _is_template_error(exc):
                raise
            return exc
        return None

    user = {"role": "user", "content": "u"}
    error = renders([{"role": "system", "content": "s"}, user])
    if error is not None:
        plain = renders([user])
        if plain is not None:
            raise _template_error(tokenizer, plain, option)
    refuses = error is not None
    try:
        tokenizer._medinject_refuses_system = (template, refuses)
    except AttributeError:
        pass
    return refuses


def render(tokenizer, messages: list[dict], *, option: str = "--chat-template FILE", **kwargs):
    """`tokenizer.apply_chat_template(messages, **kwargs)`, folding the system turn when the template refuses
    it. Returns (result, folded). A template that fails on the messages is one line naming the option."""
    require_template(tokenizer, option)
    folded = bool(messages) and messages[0].get("role") == "system" and refuses_system(tokenizer, option)
    if folded:
        messages = fold_system(messages)
    try:
        return tokenizer.apply_chat_template(messages, **kwargs), folded
    except Exception as exc:
        if _is_template_error(exc):
            raise _template_error(tokenizer, exc, option) from None
        raise
