"""The text rule (webapp/domain/text.py) installed on WTForms forms.

Every text field of a form (StringField and its kinds, text areas included; passwords
excepted) gets the rule as a filter when the form binds its fields, so a field added to a
model or a form later is covered without anyone remembering to. FAB's generated forms get
it from the base model views (`with_text_rule`), hand-written forms from `TextRuleForm`.
Kept outside webapp/views so that webapp/security.py (the user screens) can use it too.
"""

from __future__ import annotations

from flask_babel import gettext
from flask_wtf import FlaskForm
from wtforms import Form, PasswordField, StringField, TextAreaField
from wtforms.widgets import TextArea

from webapp.domain.errors import ValidationFailed
from webapp.domain.text import clean_text, without_disallowed


def is_text_field(field) -> bool:
    return isinstance(field, StringField) and not isinstance(field, PasswordField)


def is_multiline_field(field) -> bool:
    return isinstance(field, TextAreaField) or isinstance(field.widget, TextArea)


class TextRule:
    """WTForms filter: the stored form of the field's text, or the rule's message as a
    field error (WTForms turns a filter's ValueError into one)."""

    def __init__(self, field) -> None:
        self.field = field

    def __call__(self, value):
        if not isinstance(value, str):
            return value
        multiline = is_multiline_field(self.field)
        try:
            return clean_text(
                value, self.field.name, label=str(self.field.label.text), multiline=multiline
            )
        except ValidationFailed as error:
            # The form's other checks (duplicates, lookups) read the data next: give them
            # the text without the refused characters, never the raw ones (PostgreSQL
            # refuses NUL in a query). The form shows it back with the message.
            self.field.data = without_disallowed(value, multiline=multiline)
            message, params = error.errors[self.field.name][0]
            raise ValueError(gettext(message, **params)) from None


class TextRuleMeta:
    """Form Meta that puts the text rule last among each text field's filters."""

    text_rule = True

    def bind_field(self, form, unbound_field, options):
        field = super().bind_field(form, unbound_field, options)
        if is_text_field(field):
            field.filters = (*field.filters, TextRule(field))
        return field


def with_text_rule(form_class: type[Form] | None) -> type[Form] | None:
    """The form class with the text rule on its text fields (unchanged if it has it)."""
    if form_class is None or getattr(form_class.Meta, "text_rule", False):
        return form_class
    return type(form_class.__name__, (form_class,), {"Meta": TextRuleMeta})


class TextRuleForm(FlaskForm):
    """Base of the hand-written forms (recording an event, merging a unit…)."""

    class Meta(TextRuleMeta):
        pass


class TextRuleViewMixin:
    """For FAB model views: their generated add and edit forms get the text rule."""

    def _init_forms(self) -> None:
        super()._init_forms()
        self.add_form = with_text_rule(self.add_form)
        self.edit_form = with_text_rule(self.edit_form)
