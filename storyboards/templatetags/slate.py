"""Small words for the board's templates."""

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from storyboards.services import MENTION  # the rule that stored the mentions marks them

register = template.Library()


@register.filter
def ago(moment) -> str:
    """'just now', '3 minutes ago', '2 days ago': how a person says when."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, depth=1)} ago"


@register.filter
def comment_html(comment) -> str:
    """A comment's text, escaped, with line breaks and its mentions of members marked."""
    from django.utils.html import escape, linebreaks
    from django.utils.safestring import mark_safe

    names = {user.username.lower() for user in comment.mentions.all()}
    text = escape(comment.body)
    if names:
        text = MENTION.sub(
            lambda m: (
                f'<span class="mention">{m.group(0)}</span>'
                if m.group(1).lower() in names
                else m.group(0)
            ),
            text,
        )
    return mark_safe(linebreaks(text, autoescape=False))


@register.filter
def pin_style(comment) -> str:
    """Where a pin sits on its frame, in percent (CSS)."""
    style = f"left:{comment.pin_x * 100:.3f}%;top:{comment.pin_y * 100:.3f}%"
    if comment.pin_w is not None:
        style += f";width:{comment.pin_w * 100:.3f}%;height:{comment.pin_h * 100:.3f}%"
    return style
