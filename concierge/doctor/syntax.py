"""libcst helpers both `--fix` rewrites use (`fix` for 1.x deprecations, `fix_v0` for 0.x code):
dotted names, keyword arguments, calls laid out `a, b`, and dropping arguments without losing the
comments written beside them."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst


def name_of(node: cst.CSTNode) -> str:
    """`llm.function_tool` for an attribute chain; calls and subscripts are looked through."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = name_of(node.value)
        return f"{head}.{node.attr.value}" if head else node.attr.value
    if isinstance(node, cst.Subscript | cst.Call):
        return name_of(node.value if isinstance(node, cst.Subscript) else node.func)
    return ""


def last_of(node: cst.CSTNode) -> str:
    return name_of(node).rsplit(".", 1)[-1]


def keywords_of(call: cst.Call) -> dict[str, cst.Arg]:
    return {a.keyword.value: a for a in call.args if a.keyword is not None}


def keyword_arg(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        keyword=cst.Name(name),
        value=value,
        equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
    )


def make_call(func: str, args: Sequence[cst.Arg]) -> cst.Call:
    return cst.Call(func=cst.parse_expression(func), args=with_commas(args))


def with_commas(args: Sequence[cst.Arg]) -> list[cst.Arg]:
    """Arguments separated by `, ` (the last one keeps no comma)."""
    out = []
    for i, a in enumerate(args):
        comma: cst.Comma | cst.MaybeSentinel = (
            cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            if i < len(args) - 1
            else cst.MaybeSentinel.DEFAULT
        )
        out.append(a.with_changes(comma=comma))
    return out


def _comment_lines(comma: cst.Comma | cst.MaybeSentinel) -> list[cst.EmptyLine]:
    """The comments a separator carries (the rest of its line, then whole lines), as lines
    indented like the arguments."""
    ws = comma.whitespace_after if isinstance(comma, cst.Comma) else None
    if not isinstance(ws, cst.ParenthesizedWhitespace):
        return []
    lines = [line for line in ws.empty_lines if line.comment is not None]
    if ws.first_line.comment is not None:
        lines.insert(
            0,
            cst.EmptyLine(indent=ws.indent, whitespace=ws.last_line, comment=ws.first_line.comment),
        )
    return lines


def _separator(call: cst.Call) -> cst.Comma:
    """A bare separator in the call's own layout (a newline and indent when it is multi-line)."""
    sep = next((a.comma for a in call.args[:-1] if isinstance(a.comma, cst.Comma)), None)
    if sep is None:
        return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if isinstance(sep.whitespace_after, cst.ParenthesizedWhitespace):
        bare = sep.whitespace_after.with_changes(
            first_line=cst.TrailingWhitespace(), empty_lines=[]
        )
        return sep.with_changes(whitespace_after=bare)
    return sep


def _with_comments(comma: cst.Comma, lines: list[cst.EmptyLine]) -> cst.Comma:
    ws = comma.whitespace_after
    if not lines or not isinstance(ws, cst.ParenthesizedWhitespace):
        return comma
    return comma.with_changes(
        whitespace_after=ws.with_changes(empty_lines=[*lines, *ws.empty_lines])
    )


def replace_args(call: cst.Call, drop: set[str], add: list[cst.Arg]) -> cst.Call:
    """`call` without the keywords in `drop`, with `add` where the first dropped one was (or at
    the end). Separators are the call's own, so a multi-line call stays multi-line, and comments
    written beside a dropped argument are kept (after the argument that replaces it)."""
    if not call.args:
        return call.with_changes(args=with_commas(add))
    sep, last = _separator(call), call.args[-1]
    out: list[cst.Arg] = []
    kept_comments: list[cst.EmptyLine] = []
    for a in call.args:
        if a.keyword is not None and a.keyword.value in drop:
            out += add
            add = []
            kept_comments += _comment_lines(a.comma)
            continue
        out.append(a)
    out += add
    if not out:
        return call.with_changes(args=[])
    middle = [
        a.with_changes(
            comma=a.comma if isinstance(a.comma, cst.Comma) and a is not last else sep,
            whitespace_after_arg=cst.SimpleWhitespace(""),
        )
        for a in out[:-1]
    ]
    end_comma = last.comma
    if out[-1] is not last and isinstance(end_comma, cst.Comma):
        # `last` was dropped (its comments are among kept_comments); the new last keeps its own
        ws = end_comma.whitespace_after
        if isinstance(ws, cst.ParenthesizedWhitespace):
            bare = ws.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
            end_comma = end_comma.with_changes(whitespace_after=bare)
        end_comma = _with_comments(end_comma, _comment_lines(out[-1].comma))
    end = out[-1].with_changes(comma=end_comma, whitespace_after_arg=last.whitespace_after_arg)
    args = [*middle, end]
    if kept_comments:  # after the first argument that was added
        i = next(
            (
                i
                for i, a in enumerate(args)
                if a.keyword and a.keyword.value not in keywords_of(call)
            ),
            -1,
        )
        comma = args[i].comma
        if isinstance(comma, cst.Comma):
            args[i] = args[i].with_changes(comma=_with_comments(comma, kept_comments))
    return call.with_changes(args=args)
