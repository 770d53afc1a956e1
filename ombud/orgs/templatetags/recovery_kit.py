"""`{% recovery_kit_warnings organisation as warnings %}`: what staff_base.html
tells the chair on every staff page until the recovery kit is re-issued."""

from django import template

from ombud.orgs import selectors

register = template.Library()


@register.simple_tag
def recovery_kit_warnings(organisation) -> list[str]:
    return selectors.recovery_kit_warnings(organisation=organisation)
