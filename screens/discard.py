"""Throw widgets away without leaving their kv rules behind.

A kv rule such as ``text: _('Next', app.lang)`` binds the widget, through a weak proxy, to
long-lived objects (the app, the keyboard). Removing the widget from the tree does not undo
that: Kivy unbinds only once the widget is freed, and a widget in a reference cycle is freed
by the cycle collector, whenever it runs. Until then every change of `app.lang` or of a
theme colour still evaluates the dead widget's rules; if the collector runs during one of
those evaluations (it can: evaluating allocates), it frees the widget under its own rule and
the rule's ``setattr`` on the proxy raises ReferenceError. So unbind first, then drop.
"""

from __future__ import annotations

from kivy.lang import Builder
from kivy.uix.widget import Widget


def discard(widget: Widget) -> None:
    """Unbind the kv rules of a widget and everything under it (it is being thrown away)."""
    for node in list(widget.walk(restrict=True)):
        Builder.unbind_widget(node.uid)


def discard_children(parent: Widget) -> None:
    """Remove every child of `parent` and unbind their kv rules."""
    children = list(parent.children)
    parent.clear_widgets()
    for child in children:
        discard(child)
