import re

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

register = template.Library()

CASE_REFERENCE = re.compile(r"#(\d{1,9})\b")


@register.filter
def case_links(text, organisation):
    """Escape `text` and turn "#12" into a link to case 12 of `organisation`.
    The link opens only for someone who holds that case; others get a 404."""

    def link(match):
        url = reverse("case-detail", args=[organisation.slug, int(match.group(1))])
        return format_html('<a href="{}">#{}</a>', url, match.group(1))

    return mark_safe(CASE_REFERENCE.sub(link, str(escape(text))))  # noqa: S308 - escaped above
