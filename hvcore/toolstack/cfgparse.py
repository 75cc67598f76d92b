"""The xl.cfg(5) syntax: `KEY = VALUE` statements, nothing more.

    # a comment
    name = "web"; type = 'pvh'          # ';' or a new line ends a statement
    memory = 0x100                       # decimal, 0x hex, 0 octal
    disk = [ 'img/web.img,raw,xvda,rw',  # lists may span lines,
             'format=raw,vdev=xvdb,target=data.img', ]   # trailing ',' is fine

A VALUE is a string ('...' or "...", C escapes, no raw new line inside), a
number, or a `[ ... ]` list of values (lists nest).  As in xl, atoms are kept
as text: a key that wants an integer reads a number or a string holding one,
and a key that wants a string takes a number's text.  Which keys exist, and
what their values mean, is the business of `config.py`; this module only
turns text into `Setting`s, raising `ConfigError` (`file:line: syntax error
...`) on malformed input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class Atom:
    """A string or number, as text; `quoted` tells which it was written as."""
    text: str
    quoted: bool
    line: int

    def shown(self) -> str:
        """The value as the user would recognise it in a message."""
        return '"' + self.text + '"' if self.quoted else self.text


@dataclass(frozen=True)
class ListValue:
    items: tuple["Value", ...]
    line: int

    def shown(self) -> str:
        return "a list"


Value = Atom | ListValue


@dataclass(frozen=True)
class Setting:
    key: str
    value: Value
    line: int


@dataclass(frozen=True)
class _Token:
    kind: str          # ident, number, string, punct, newline, eof
    text: str          # as written (strings: with their quotes)
    line: int

    def near(self) -> str:
        if self.kind == "newline":
            return "end of line"
        if self.kind == "eof":
            return "end of file"
        return repr(self.text) if self.kind != "string" else self.text


_TOKEN = re.compile(r"""
      (?P<space>[ \t\r\f\v]+)
    | (?P<comment>\#[^\n]*)
    | (?P<newline>\n)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>[0-9][0-9A-Za-z_]*)
    | (?P<string>'(?:[^'\\\n]|\\[^\n])*'|"(?:[^"\\\n]|\\[^\n])*")
    | (?P<punct>[=,\[\];])
""", re.VERBOSE)

_SIMPLE_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "a": "\a", "b": "\b",
                   "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|[0-7]{1,3}|.)")


def parse_text(text: str, source: str) -> list[Setting]:
    """Parse a whole config text (or one command-line `key=value` argument)."""
    return _Parser(_tokenize(text, source), source).statements()


def _tokenize(text: str, source: str) -> list[_Token]:
    tokens: list[_Token] = []
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _lexical_error(text, pos, line, source)
        kind = match.lastgroup
        if kind not in ("space", "comment"):
            tokens.append(_Token(kind, match.group(), line))
        line += kind == "newline"
        pos = match.end()
    tokens.append(_Token("eof", "", line))
    return tokens


def _lexical_error(text: str, pos: int, line: int, source: str) -> ConfigError:
    char = text[pos]
    if char in "'\"":
        return ConfigError(source, f"syntax error: string starting {text[pos:pos + 12]!r} "
                                   f"is not closed on the same line", line)
    hint = " (hv config files are not Python)" if char in "+-.():{}" else ""
    return ConfigError(source, f"syntax error: unexpected character {char!r}{hint}", line)


def _unquote(token: _Token, source: str) -> str:
    """The value of a quoted string token, with xl's C-style escapes decoded."""
    def decode(match: re.Match) -> str:
        code = match.group(1)
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        if code[0] == "x" and len(code) == 3:
            return chr(int(code[1:], 16))
        if code[0] in "01234567":
            return chr(int(code, 8))
        raise ConfigError(source, f"syntax error: unknown escape '\\{code}' in string "
                                  f"{token.text}", token.line)
    return _ESCAPE.sub(decode, token.text[1:-1])


class _Parser:
    """Recursive descent over the token list (grammar: see the module doc)."""

    def __init__(self, tokens: list[_Token], source: str):
        self.tokens = tokens
        self.source = source
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def error(self, token: _Token, expected: str) -> ConfigError:
        return ConfigError(self.source, f"syntax error near {token.near()}: {expected}",
                           token.line)

    def statements(self) -> list[Setting]:
        settings = []
        while self.peek().kind != "eof":
            if self.peek().text in ("\n", ";"):
                self.take()
                continue
            settings.append(self.assignment())
            end = self.peek()
            if end.kind == "eof":
                break
            self.take()
            if end.kind != "newline" and end.text != ";":
                raise self.error(end, f"expected a new line or ';' after the value "
                                      f"of '{settings[-1].key}'")
        return settings

    def assignment(self) -> Setting:
        key = self.take()
        if key.kind != "ident":
            raise self.error(key, "expected a key (KEY = VALUE)")
        equals = self.take()
        if equals.text != "=":
            raise self.error(equals, f"expected '=' after '{key.text}'")
        return Setting(key.text, self.value(key.text), key.line)

    def value(self, key: str) -> Value:
        token = self.take()
        if token.kind == "string":
            return Atom(_unquote(token, self.source), True, token.line)
        if token.kind == "number":
            return Atom(token.text, False, token.line)
        if token.text == "[":
            return self.list_rest(key, token)
        if token.kind == "ident":
            raise self.error(token, f"a string value needs quotes: "
                                    f"{key} = \"{token.text}\"")
        raise self.error(token, f"expected a value for '{key}'")

    def list_rest(self, key: str, opening: _Token) -> ListValue:
        """After '[': values separated by ',', new lines anywhere, ']' ends."""
        items: list[Value] = []
        while True:
            self.skip_newlines()
            token = self.peek()
            if token.text == "]":
                self.take()
                return ListValue(tuple(items), opening.line)
            if token.kind == "eof":
                raise self.error(token, f"the list for '{key}' opened on line "
                                        f"{opening.line} is not closed")
            items.append(self.value(key))
            self.skip_newlines()
            separator = self.peek()
            if separator.text == ",":
                self.take()
            elif separator.text != "]":
                if separator.kind == "eof":
                    continue          # reported above, with the opening line
                raise self.error(separator, f"expected ',' or ']' in the list for '{key}'")

    def skip_newlines(self) -> None:
        while self.peek().kind == "newline":
            self.take()
