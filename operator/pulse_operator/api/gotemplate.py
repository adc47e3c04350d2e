"""Would Prometheus parse this alert label or annotation value as a Go template?

Prometheus parses every label and annotation value of an alerting rule with Go's
text/template and its own template functions; one value that does not parse makes promtool
refuse the whole rule file and Prometheus Operator drop the rule. So the API models refuse
such values first, with this port of Go's `text/template/parse` (its lexer and its parser,
building no tree): the same tokens, grammar, checks of literals, functions and variables,
and Go's words in the messages (without Go's "template: NAME:LINE:" prefix).
"""

from __future__ import annotations

import json
import math
import re
from enum import Enum
from typing import NamedTuple, NoReturn

_GO_FUNCTIONS = "and call html index slice js len not or print printf println urlquery"
_GO_FUNCTIONS += " eq ge gt le lt ne"
# NewTemplateExpander in Prometheus' template/template.go (v3.15.0, the version Pulse builds)
_PROMETHEUS_FUNCTIONS = (
    "query first label value strvalue args reReplaceAll safeHtml match title toUpper toLower"
    " graphLink tableLink sortByLabel stripPort stripDomain humanize humanize1024"
    " humanizeDuration humanizePercentage humanizeTimestamp toTime toDuration now pathPrefix"
    " externalURL parseDuration urlQueryEscape"
)
FUNCTIONS = frozenset(f"{_GO_FUNCTIONS} {_PROMETHEUS_FUNCTIONS}".split())
"""The functions a template may call: Go's builtins and Prometheus' template functions."""

PRELUDE_VARIABLES = ("$", "$labels", "$externalLabels", "$externalURL", "$value")
"""Defined before the value: `$` by Go, the others by the actions Prometheus prepends."""

_K = Enum(
    "_K",
    "ERROR EOF TEXT SPACE LEFT_DELIM RIGHT_DELIM LEFT_PAREN RIGHT_PAREN PIPE ASSIGN DECLARE"
    " CHAR BOOL NUMBER CHAR_CONSTANT COMPLEX STRING RAW_STRING IDENTIFIER FIELD VARIABLE"
    " DOT BLOCK BREAK CONTINUE DEFINE ELSE END IF NIL RANGE TEMPLATE WITH",
)
"""Go's item types (lex.go)."""

_KEYWORDS = {kind.name.lower(): kind for kind in _K if kind.value >= _K.BLOCK.value}
_IN_ANGLES = {*_KEYWORDS.values(), _K.DOT}  # as Go's item.String() shows them
_LITERALS = {_K.NUMBER, _K.CHAR_CONSTANT, _K.COMPLEX, _K.STRING, _K.RAW_STRING}
_LITERALS |= {_K.BOOL, _K.DOT, _K.NIL}
"""Terms that can have no fields and cannot be a later command of a pipeline."""
_TERM_STARTS = {*_LITERALS, _K.FIELD, _K.IDENTIFIER, _K.VARIABLE, _K.LEFT_PAREN}
_SINGLE = {"=": _K.ASSIGN, "|": _K.PIPE, "(": _K.LEFT_PAREN, ")": _K.RIGHT_PAREN}

_SPACES = frozenset(" \t\r\n")
_TERMINATORS = _SPACES | {"", ".", ",", "|", ":", ")", "("}  # "": the end of the input
_QUOTED = {q: re.compile(rf"(?:[^\\\n{q}]|\\.)*{q}") for q in "\"'"}  # after the first quote
_NUMBER = re.compile(  # what Go's lexer takes for a number, right or wrong (scanNumber)
    r"[+-]?(?:0[xX][\da-fA-F_]*(?:\.[\da-fA-F_]*)?(?:[pP][+-]?[\d_]*)?|0[oO][0-7_]*(?:\.[0-7_]*)?"
    r"|0[bB][01_]*(?:\.[01_]*)?|[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?[\d_]*)?)i?",
    re.ASCII,
)
_CHAR = re.compile(  # strconv.UnquoteChar; the code points of \u and \U are checked apart
    r"[^\\]|\\(?:([abfnrtv\\'\"])|x([\da-fA-F]{2})|([0-3][0-7]{2})"
    r"|u([\da-fA-F]{4})|U([\da-fA-F]{8}))",
    re.ASCII | re.DOTALL,
)
_MISPLACED_HEX_UNDERSCORE = re.compile(r"(?<![\da-fA-FxX])_|_(?![\da-fA-F])")
_ESCAPED = dict(zip("abfnrtv\\'\"", "\a\b\f\n\r\t\v\\'\"", strict=True))
_END, _ELSE, _BLANK, _NODE = "{{end}}", "{{else}}", "blank", "node"
"""What an item of a list is: Go's end or else node, or another node, blank text or not."""


class _Token(NamedTuple):
    kind: _K
    val: str


class _TemplateError(Exception):
    pass


def template_error(text: str) -> str | None:
    """None when Prometheus would parse `text` as an alert label/annotation template;
    otherwise a short message saying what is wrong, in the words of Go's parse errors."""
    try:
        _Parser(_Lexer(text).run()).parse()
    except _TemplateError as error:
        return str(error)
    except RecursionError:  # Go allows 10000 nested parentheses; nobody needs hundreds
        return "template nests too deeply"
    return None


def _quote(text: str) -> str:
    """Go's %q, near enough for messages."""
    return json.dumps(text, ensure_ascii=False)


def _unicode(char: str) -> str:
    """Go's %#U."""
    return f"U+{ord(char):04X}" + (f" '{char}'" if char.isprintable() else "")


def _alphanumeric(char: str) -> bool:
    return char == "_" or char.isalpha() or char.isdecimal()


class _Lexer:
    """Go's lexer (lex.go), run to the end of the input or to its first error, which ends
    the tokens: the parser reports the errors it finds before reaching that one, as in Go."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.start = text, 0, 0
        self.tokens: list[_Token] = []

    def run(self) -> list[_Token]:
        try:
            while self._text():
                self._action()
            self.tokens.append(_Token(_K.EOF, ""))
        except _TemplateError as error:
            self.tokens.append(_Token(_K.ERROR, str(error)))
        return self.tokens

    def _peek(self, offset: int = 0) -> str:
        return self.text[self.pos + offset : self.pos + offset + 1]

    def _emit(self, kind: _K) -> None:
        self.tokens.append(_Token(kind, self.text[self.start : self.pos]))

    def _text(self) -> bool:
        """Text up to the next action, skipping comments; False at the end of the input."""
        while (delim := self.text.find("{{", self.pos)) >= 0:
            text, self.pos = self.text[self.pos : delim], delim + 2
            if self._peek() == "-" and self._peek(1) in _SPACES:  # "{{- " trims the text
                text, self.pos = text.rstrip(" \t\r\n"), self.pos + 2
            if text:
                self.tokens.append(_Token(_K.TEXT, text))
            if not self.text.startswith("/*", self.pos):
                self.tokens.append(_Token(_K.LEFT_DELIM, "{{"))
                return True
            if (end := self.text.find("*/", self.pos + 2)) < 0:
                raise _TemplateError("unclosed comment")
            self.pos = end + 2
            if (trim := self._at_right_delim()) is None:
                raise _TemplateError("comment ends before closing delimiter")
            self._skip_right_delim(trim)
        if self.pos < len(self.text):
            self.tokens.append(_Token(_K.TEXT, self.text[self.pos :]))
        return False

    def _at_right_delim(self) -> bool | None:
        """None unless at "}}" or " -}}"; whether it trims the spaces after it."""
        if self._peek() in _SPACES and self.text.startswith("-}}", self.pos + 1):
            return True
        return False if self.text.startswith("}}", self.pos) else None

    def _skip_right_delim(self, trim: bool) -> None:
        self.pos += 4 if trim else 2
        while trim and self._peek() in _SPACES:
            self.pos += 1

    def _action(self) -> None:
        """The tokens of one action, up to and including its right delimiter."""
        parens = 0
        while True:
            self.start = self.pos
            if (trim := self._at_right_delim()) is not None:
                if parens:
                    raise _TemplateError("unclosed left paren")
                break
            char, self.pos = self._peek(), self.pos + 1
            if char == "":
                raise _TemplateError("unclosed action")
            if char in _SPACES:
                while self._peek() in _SPACES:
                    self.pos += 1
                if self.text.startswith("-}}", self.pos):  # the space belongs to " -}}"
                    self.pos -= 1
                    if self.pos == self.start:  # this way Go does not count parentheses
                        trim = True
                        break
                self._emit(_K.SPACE)
            elif char in _SINGLE:
                parens += {"(": 1, ")": -1}.get(char, 0)
                if parens < 0:
                    raise _TemplateError("unexpected right paren")
                self._emit(_SINGLE[char])
            elif char == ":":
                if self._peek() != "=":
                    raise _TemplateError("expected :=")
                self.pos += 1
                self._emit(_K.DECLARE)
            elif char in _QUOTED:
                if (match := _QUOTED[char].match(self.text, self.pos)) is None:
                    what = "quoted string" if char == '"' else "character constant"
                    raise _TemplateError(f"unterminated {what}")
                self.pos = match.end()
                self._emit(_K.STRING if char == '"' else _K.CHAR_CONSTANT)
            elif char == "`":
                if (end := self.text.find("`", self.pos)) < 0:
                    raise _TemplateError("unterminated raw quoted string")
                self.pos = end + 1
                self._emit(_K.RAW_STRING)
            elif char == "$" or (char == "." and self._peek() not in ("", *"0123456789")):
                self._word(_K.VARIABLE if char == "$" else _K.FIELD)
            elif char in "+-." or "0" <= char <= "9":
                self._number()
            elif _alphanumeric(char):
                self._word(_K.IDENTIFIER)
            elif " " < char <= "~":
                self._emit(_K.CHAR)
            else:
                raise _TemplateError(f"unrecognized character in action: {_unicode(char)}")
        self.tokens.append(_Token(_K.RIGHT_DELIM, "}}"))
        self._skip_right_delim(trim)

    def _word(self, kind: _K) -> None:
        """An identifier (or keyword), `.field` or `$variable`: a lone `.` is the dot."""
        while _alphanumeric(self._peek()):
            self.pos += 1
        if not (self._peek() in _TERMINATORS or self.text.startswith("}}", self.pos)):
            raise _TemplateError(f"bad character {_unicode(self._peek())}")
        word = self.text[self.start : self.pos]
        if kind is _K.IDENTIFIER:
            kind = _K.BOOL if word in ("true", "false") else _KEYWORDS.get(word, kind)
        self.tokens.append(_Token(_K.DOT if word == "." else kind, word))

    def _number(self) -> None:
        """What looks like a number, or a complex 1+2i: the parser decides if it is one."""
        kind, self.pos = _K.NUMBER, _scan_number(self.text, self.start)
        if self._peek() in ("+", "-"):
            kind, self.pos = _K.COMPLEX, _scan_number(self.text, self.pos)
        if _alphanumeric(self._peek()):
            self.pos += 1  # Go shows that character too
        elif kind is _K.NUMBER or self.text[self.pos - 1] == "i":
            self._emit(kind)
            return
        raise _TemplateError(f"bad number syntax: {_quote(self.text[self.start : self.pos])}")


class _Parser:
    """Go's parser (parse.go) over the tokens: its grammar; its checks of literals (strconv),
    functions and variables (each in scope until the {{end}} of the control declaring it);
    and the templates that {{define}} and {{block}} add, which must not be defined twice."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.i = tokens, 0
        self.variables, self.range_depth = list(PRELUDE_VARIABLES), 0
        self.defined: dict[str, bool] = {}  # template name: whether it is more than blank

    def _next(self) -> _Token:
        self.i += 1
        return self.tokens[self.i - 1]

    def _peek_non_space(self) -> _Token:
        """The next token but a space, which it consumes as Go's peekNonSpace does."""
        while self.tokens[self.i].kind is _K.SPACE:
            self.i += 1
        return self.tokens[self.i]

    def _next_non_space(self) -> _Token:
        self._peek_non_space()
        return self._next()

    def _expect(self, kind: _K, context: str) -> None:
        if (token := self._next_non_space()).kind is not kind:
            self._unexpected(token, context)

    def _unexpected(self, token: _Token, context: str) -> NoReturn:
        if token.kind is _K.ERROR:
            raise _TemplateError(token.val)
        shown = _quote(token.val[:10]) + ("..." if len(token.val) > 10 else "")
        shown = f"<{token.val}>" if token.kind in _IN_ANGLES else shown
        raise _TemplateError(f"unexpected {shown} in {context}")

    def parse(self) -> None:
        while self.tokens[self.i].kind is not _K.EOF:
            start = self.i
            if self._next().kind is _K.LEFT_DELIM and self._next_non_space().kind is _K.DEFINE:
                name = self._template_name("define clause")
                self._expect(_K.RIGHT_DELIM, "define clause")
                self._template(name, "define clause")
                continue
            self.i = start
            if (node := self._text_or_action()) in (_END, _ELSE):
                raise _TemplateError(f"unexpected {node}")

    def _template(self, name: str, context: str) -> None:
        """The body of a define or block: a template of its own, which sees only `$`."""
        outer = self.variables, self.range_depth
        self.variables, self.range_depth = ["$"], 0
        more_than_blank, end = self._item_list()
        if end != _END:
            raise _TemplateError(f"unexpected {end} in {context}")
        if self.defined.get(name) and more_than_blank:
            raise _TemplateError(f"template: multiple definition of template {_quote(name)}")
        self.defined[name] = self.defined.get(name) or more_than_blank
        self.variables, self.range_depth = outer

    def _item_list(self) -> tuple[bool, str]:
        """Items up to an {{end}} or {{else}}: whether any is more than blank, and which."""
        more_than_blank = False
        while self._peek_non_space().kind is not _K.EOF:
            if (node := self._text_or_action()) in (_END, _ELSE):
                return more_than_blank, node
            more_than_blank |= node == _NODE
        raise _TemplateError("unexpected EOF")

    def _text_or_action(self) -> str:
        token = self._next_non_space()
        if token.kind is _K.TEXT:
            return _NODE if token.val.strip() else _BLANK
        if token.kind is not _K.LEFT_DELIM:
            self._unexpected(token, "input")
        token = self._next_non_space()
        match token.kind:
            case _K.IF | _K.RANGE | _K.WITH:
                self._control(token.val)
            case _K.ELSE:
                if self._peek_non_space().kind not in (_K.IF, _K.WITH):  # else if, else with
                    self._expect(_K.RIGHT_DELIM, "else")
                return _ELSE
            case _K.END:
                self._expect(_K.RIGHT_DELIM, "end")
                return _END
            case _K.BREAK | _K.CONTINUE:
                self._expect(_K.RIGHT_DELIM, "{{" + token.val + "}}")
                if not self.range_depth:
                    raise _TemplateError("{{" + token.val + "}} outside {{range}}")
            case _K.TEMPLATE:
                self._template_name("template clause")
                if self._next_non_space().kind is not _K.RIGHT_DELIM:
                    self.i -= 1
                    self._pipeline("template clause", _K.RIGHT_DELIM)
            case _K.BLOCK:
                name = self._template_name("block clause")
                self._pipeline("block clause", _K.RIGHT_DELIM)
                self._template(name, "block clause")
            case _:
                self.i -= 1
                self._pipeline("command", _K.RIGHT_DELIM)
        return _NODE

    def _control(self, context: str) -> None:
        """if, range, with: pipeline, list, maybe {{else}} and a list, {{end}}; `else if`
        and `else with` nest another control that shares the {{end}}."""
        scope = len(self.variables)
        self._pipeline(context, _K.RIGHT_DELIM)
        self.range_depth += context == "range"
        _, end = self._item_list()
        self.range_depth -= context == "range"
        if end == _ELSE:
            if context != "range" and self.tokens[self.i].kind is _KEYWORDS[context]:
                self.i += 1
                self._control(context)
            elif (end := self._item_list()[1]) != _END:
                raise _TemplateError(f"expected end; found {end}")
        del self.variables[scope:]

    def _template_name(self, context: str) -> str:
        token = self._next_non_space()
        if token.kind not in (_K.STRING, _K.RAW_STRING):
            self._unexpected(token, context)
        return _unquote(token.val)

    def _pipeline(self, context: str, end: _K) -> None:
        """Declarations (`$x :=`, `$x =`, `range $i, $v :=`), then commands joined by `|`."""
        declared = 0
        while self._peek_non_space().kind is _K.VARIABLE:
            start, variable = self.i, self._next()
            following = self._peek_non_space()
            if following.kind in (_K.ASSIGN, _K.DECLARE):  # Go does not check `=`'s variable
                self.i += 1
                self.variables.append(variable.val)
                break
            if following != _Token(_K.CHAR, ","):
                self.i = start
                break
            self.i += 1
            self.variables.append(variable.val)
            declared += 1
            if context != "range" or declared == 2:
                raise _TemplateError(f"too many declarations in {context}")
            if self._peek_non_space().kind not in (_K.VARIABLE, _K.RIGHT_DELIM, _K.RIGHT_PAREN):
                raise _TemplateError("range can only initialize variables")
        commands: list[_K] = []
        while (token := self._next_non_space()).kind is not end:
            if token.kind not in _TERM_STARTS:
                self._unexpected(token, context)
            self.i -= 1
            commands.append(self._command())
        if not commands:
            raise _TemplateError(f"missing value for {context}")
        for stage, first in enumerate(commands[1:], start=2):
            if first in _LITERALS:
                raise _TemplateError(f"non executable command in pipeline stage {stage}")

    def _command(self) -> _K:
        """Operands separated by spaces, up to a `|` (consumed) or the end; the first's kind."""
        operands: list[_K] = []
        while True:
            if (operand := self._operand()) is not None:
                operands.append(operand)
            token = self._next()
            if token.kind is _K.SPACE:
                continue
            if token.kind in (_K.RIGHT_DELIM, _K.RIGHT_PAREN):
                self.i -= 1
            elif token.kind is not _K.PIPE:
                self._unexpected(token, "operand")
            return operands[0]  # the pipeline saw that one starts here

    def _operand(self) -> _K | None:
        """A term and its fields (`.a.b`), which literals cannot have."""
        token = self._peek_non_space()
        kind = self._term()
        if kind is not None and self.tokens[self.i].kind is _K.FIELD:
            if kind in _LITERALS:
                raise _TemplateError(f"unexpected . after term {_quote(token.val)}")
            while self.tokens[self.i].kind is _K.FIELD:
                self.i += 1
        return kind

    def _term(self) -> _K | None:
        token = self._next_non_space()
        match token.kind:
            case _K.IDENTIFIER if token.val not in FUNCTIONS:
                raise _TemplateError(f"function {_quote(token.val)} not defined")
            case _K.VARIABLE if token.val not in self.variables:
                raise _TemplateError(f"undefined variable {_quote(token.val)}")
            case _K.NUMBER | _K.COMPLEX:
                _check_number(token)
            case _K.CHAR_CONSTANT:
                if _unquote_char(token.val, 1)[1] != len(token.val) - 1:
                    raise _TemplateError(f"malformed character constant: {token.val}")
            case _K.STRING | _K.RAW_STRING:
                _unquote(token.val)
            case _K.LEFT_PAREN:
                self._pipeline("parenthesized pipeline", _K.RIGHT_PAREN)
            case _K.IDENTIFIER | _K.VARIABLE | _K.FIELD | _K.DOT | _K.NIL | _K.BOOL:
                pass
            case _:
                self.i -= 1
                return None
        return token.kind


def _unquote(text: str) -> str:
    """strconv.Unquote of a string token."""
    if text[0] == "`":
        return text[1:-1].replace("\r", "")
    value, pos = "", 1
    while pos < len(text) - 1:
        char, pos = _unquote_char(text, pos)
        value += char
    return value


def _unquote_char(text: str, pos: int) -> tuple[str, int]:
    """strconv.UnquoteChar of text[pos:] in the literal that text[0] quotes: the character,
    and where the next one starts."""
    match = _CHAR.match(text, pos, len(text) - 1)
    if match is None or match[1] == {"'": '"', '"': "'"}[text[0]]:
        raise _TemplateError("invalid syntax")
    escaped, byte, octal, rune4, rune8 = match.groups()
    if escaped:
        return _ESCAPED[escaped], match.end()
    if (number := byte or octal or rune4 or rune8) is None:
        return match[0], match.end()
    code = int(number, 8 if octal else 16)
    if code > 0x10FFFF or 0xD800 <= code < 0xE000:  # not a Unicode code point
        raise _TemplateError("invalid syntax")
    return chr(code), match.end()


def _scan_number(text: str, pos: int) -> int:
    """Where what Go's lexer takes for a number, starting at pos, ends."""
    return _NUMBER.match(text, pos).end()  # type: ignore[union-attr]  # (it matches "" too)


def _check_number(token: _Token) -> None:
    """What Go's newNumber takes: a complex number whose parts are floats (fmt.Sscan), a text
    strconv parses as an int64 or uint64, a finite float64, or an imaginary one (2i)."""
    text = token.val
    if token.kind is _K.COMPLEX:
        split = _scan_number(text, 0)
        ok = _parse_float(text[:split]) and _parse_float(text[split:-1])
    else:
        ok = (text.endswith("i") and _parse_float(text[:-1])) or _parse_int(text)
        if not ok and _parse_float(text):
            if not any(char in text for char in ".eEpP"):  # an integer, too large
                raise _TemplateError(f"integer overflow: {_quote(text)}")
            ok = True
    if not ok:
        raise _TemplateError(f"illegal number syntax: {_quote(text)}")


def _parse_int(text: str) -> bool:
    """strconv.ParseUint, or ParseInt when signed, in base 0; Python's int() reads the same
    literals, underscores included, but writes octal 017 as 0o17."""
    try:
        value = int(re.sub(r"^([+-]?)0(?=_?\d)", r"\g<1>0o", text), 0)
    except ValueError:
        return False
    return -(1 << 63) <= value < 1 << (63 if text[0] in "+-" else 64)


def _parse_float(text: str) -> bool:
    """strconv.ParseFloat, without a range error. Python's float() reads decimal floats as Go
    does; Go's hex floats need a p exponent and may have underscores, unlike Python's."""
    try:
        if not re.match(r"[+-]?0[xX].", text):
            return math.isfinite(float(text))
        if "p" not in text.lower() or _MISPLACED_HEX_UNDERSCORE.search(text):
            return False
        return math.isfinite(float.fromhex(text.replace("_", "")))
    except (ValueError, OverflowError):
        return False
