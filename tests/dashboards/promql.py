"""A small PromQL parser (Python standard library only) for the dashboard and rule checks.

It builds an AST good enough to answer the questions the linter asks: which vector
selectors an expression holds and with which label matchers, which range each matrix
selector uses and inside which function, whether a counter (`*_total`) is read only
through rate()/irate()/increase(). It follows Prometheus 2.42's grammar (operators and
their precedence, vector matching, aggregations with by/without before or after the
arguments, offset, @, subqueries, string and number literals, durations). Grafana
variables are accepted where Grafana allows them in a range (`[$__rate_interval]`), and
anywhere inside strings.

    ast = parse('sum by (node) (rate(x_total{job=~"$job"}[$__rate_interval]))')
    for node, parents in walk(ast): ...

ParseError carries the offset of the problem. Whether an expression is valid PromQL for
the real thing is checked by check_queries.py against a real Prometheus; this module only
has to be right about the expressions it accepts.
"""

import re

__all__ = ["parse", "walk", "ParseError", "Number", "String", "VectorSelector",
           "MatrixSelector", "Subquery", "Call", "Aggregate", "Binary", "Unary", "Paren",
           "selectors", "FUNCTIONS", "AGGREGATIONS"]

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
    "delta", "deriv", "exp", "floor", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_sum", "holt_winters", "hour", "idelta", "increase",
    "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
    "max_over_time", "min_over_time", "minute", "month", "pi", "predict_linear",
    "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round", "scalar",
    "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
    "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year",
}
AGGREGATIONS = {"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk",
                "bottomk", "quantile", "count_values"}
PARAM_AGGREGATIONS = {"topk", "bottomk", "quantile", "count_values"}
COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
SET_OPS = {"and", "or", "unless"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}

# Binary operators by precedence, lowest first; ^ is right-associative.
PRECEDENCE = [{"or"}, {"and", "unless"}, COMPARISONS, {"+", "-"}, {"*", "/", "%", "atan2"},
              {"^"}]


class ParseError(Exception):
    def __init__(self, message, pos, text):
        self.pos = pos
        self.text = text
        near = text[max(0, pos - 20):pos + 20].replace("\n", " ")
        super().__init__("%s at offset %d (near %r)" % (message, pos, near))


# ------------------------------------------------------------------------------ AST

class Node:
    fields = ()

    def children(self):
        out = []
        for f in self.fields:
            v = getattr(self, f)
            if isinstance(v, Node):
                out.append(v)
            elif isinstance(v, list):
                out.extend(x for x in v if isinstance(x, Node))
        return out

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (k, v) for k, v in vars(self).items()))


class Number(Node):
    def __init__(self, value):
        self.value = value


class String(Node):
    def __init__(self, value):
        self.value = value


class VectorSelector(Node):
    """name (None when only matchers are given); matchers: [(label, op, value)]."""

    def __init__(self, name, matchers, pos):
        self.name = name
        self.matchers = matchers
        self.pos = pos
        self.offset = None
        self.at = None

    def metric(self):
        if self.name:
            return self.name
        for label, op, value in self.matchers:
            if label == "__name__" and op == "=":
                return value
        return None

    def matcher(self, label):
        """[(op, value)] of the matchers on label."""
        return [(op, v) for (l, op, v) in self.matchers if l == label]


class MatrixSelector(Node):
    fields = ("vector",)

    def __init__(self, vector, range_text):
        self.vector = vector
        self.range = range_text  # as written: "5m", "$__rate_interval"


class Subquery(Node):
    fields = ("expr",)

    def __init__(self, expr, range_text, step_text):
        self.expr = expr
        self.range = range_text
        self.step = step_text
        self.offset = None
        self.at = None


class Call(Node):
    fields = ("args",)

    def __init__(self, func, args):
        self.func = func
        self.args = args


class Aggregate(Node):
    fields = ("param", "expr")

    def __init__(self, op, expr, param=None, grouping=None, without=False):
        self.op = op
        self.expr = expr
        self.param = param
        self.grouping = grouping  # None: no by/without clause
        self.without = without


class Binary(Node):
    fields = ("lhs", "rhs")

    def __init__(self, op, lhs, rhs, return_bool=False, matching=None, on=False,
                 group=None, include=None):
        self.op = op
        self.lhs = lhs
        self.rhs = rhs
        self.return_bool = return_bool
        self.matching = matching  # labels of on()/ignoring(), None if neither
        self.on = on
        self.group = group        # "group_left" / "group_right" / None
        self.include = include or []


class Unary(Node):
    fields = ("expr",)

    def __init__(self, op, expr):
        self.op = op
        self.expr = expr


class Paren(Node):
    fields = ("expr",)

    def __init__(self, expr):
        self.expr = expr


def walk(node, parents=()):
    """Yields (node, parents) depth first; parents is a tuple, outermost first."""
    yield node, tuple(parents)
    for child in node.children():
        yield from walk(child, tuple(parents) + (node,))


def selectors(node):
    return [n for n, _ in walk(node) if isinstance(n, VectorSelector)]


# ------------------------------------------------------------------------------ lexer

_DURATION = r"(?:\d+(?:ms|[smhdwy]))+"
_TOKEN = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<duration>%s)(?![A-Za-z0-9_])
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![A-Za-z0-9_:])
  | (?P<var>\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]+\]\])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_:]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
  | (?P<op>==|!=|<=|>=|=~|!~|[-+*/%%^<>=(){}\[\],:@])
""" % _DURATION, re.X)


def _tokens(text):
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ParseError("unexpected character %r" % text[pos], pos, text)
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group(kind), m.start()))
        pos = m.end()
    out.append(("eof", "", len(text)))
    return out


def _unquote(s, pos, text):
    if s[0] == "`":
        return s[1:-1]
    body, out, i = s[1:-1], [], 0
    simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
              "\\": "\\", '"': '"', "'": "'"}
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1:i + 2]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if nxt in ("x", "u", "U") or nxt.isdigit():
                n = {"x": 2, "u": 4, "U": 8}.get(nxt, 3)
                digits = body[i + 2:i + 2 + n] if not nxt.isdigit() else body[i + 1:i + 4]
                try:
                    out.append(chr(int(digits, 8 if nxt.isdigit() else 16)))
                except ValueError:
                    raise ParseError("bad escape in string", pos, text)
                i += (1 + n) if nxt.isdigit() else (2 + n)
                continue
            raise ParseError("unknown escape sequence \\%s" % nxt, pos, text)
        out.append(c)
        i += 1
    return "".join(out)


# ------------------------------------------------------------------------------ parser

class _Parser:
    def __init__(self, text):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, k=0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def error(self, message, tok=None):
        tok = tok or self.peek()
        raise ParseError(message, tok[2], self.text)

    def expect(self, value):
        t = self.next()
        if t[1] != value or t[0] == "string":
            self.error("expected %r, found %r" % (value, t[1] or "end of input"), t)
        return t

    def at(self, value):
        t = self.peek()
        return t[0] in ("op", "ident") and t[1] == value

    def binop_here(self):
        t = self.peek()
        if t[0] == "op" and t[1] in {"+", "-", "*", "/", "%", "^", "==", "!=", "<", "<=",
                                     ">", ">="}:
            return t[1]
        if t[0] == "ident" and t[1] in (SET_OPS | {"atan2"}):
            return t[1]
        return None

    # expr := binary expression by precedence climbing
    def parse(self):
        e = self.expr(0)
        if self.peek()[0] != "eof":
            self.error("unexpected %r after the end of the expression" % self.peek()[1])
        return e

    def expr(self, level):
        if level == len(PRECEDENCE):
            return self.unary()
        lhs = self.expr(level + 1)
        while True:
            op = self.binop_here()
            if op is None or op not in PRECEDENCE[level]:
                return lhs
            self.next()
            kw = self.modifiers(op)
            # ^ is right-associative
            rhs = self.expr(level if op == "^" else level + 1)
            lhs = self.binary(op, lhs, rhs, kw)
            if op == "^":
                return lhs

    def modifiers(self, op):
        kw = {"return_bool": False, "matching": None, "on": False, "group": None,
              "include": []}
        if self.at("bool"):
            if op not in COMPARISONS:
                self.error("bool modifier on a non-comparison operator")
            self.next()
            kw["return_bool"] = True
        if self.at("on") or self.at("ignoring"):
            kw["on"] = self.next()[1] == "on"
            kw["matching"] = self.label_list()
            if self.at("group_left") or self.at("group_right"):
                kw["group"] = self.next()[1]
                if self.at("("):
                    kw["include"] = self.label_list()
        return kw

    def binary(self, op, lhs, rhs, kw):
        lscalar, rscalar = _is_scalar(lhs), _is_scalar(rhs)
        if op in SET_OPS:
            if lscalar or rscalar:
                self.error("set operator %s not allowed on scalars" % op)
            if kw["return_bool"] or kw["group"]:
                self.error("no grouping or bool modifier allowed with %s" % op)
        if op in COMPARISONS and lscalar and rscalar and not kw["return_bool"]:
            self.error("comparisons between scalars must use the bool modifier")
        if (kw["matching"] is not None or kw["group"]) and (lscalar or rscalar):
            self.error("vector matching only allowed between instant vectors")
        for side in (lhs, rhs):
            if _type_of(side) in ("matrix", "string"):
                self.error("binary expression must contain only scalar and instant vector "
                           "types")
        return Binary(op, lhs, rhs, **kw)

    def label_list(self):
        self.expect("(")
        labels = []
        while not self.at(")"):
            t = self.next()
            if t[0] != "ident":
                self.error("expected a label name, found %r" % t[1], t)
            labels.append(t[1])
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        return labels

    def unary(self):
        t = self.peek()
        if t[0] == "op" and t[1] in ("+", "-"):
            self.next()
            # unary binds tighter than * but looser than ^ (-2^2 == -4)
            e = self.expr(len(PRECEDENCE) - 1)
            if _type_of(e) not in ("scalar", "vector"):
                self.error("unary expression only allowed on scalars and instant vectors", t)
            if isinstance(e, Number):
                return Number(-e.value if t[1] == "-" else e.value)
            return Unary(t[1], e)
        return self.postfix(self.primary())

    def duration(self):
        t = self.next()
        if t[0] == "duration" or t[0] == "var":
            return t[1]
        if t[0] == "number" and re.fullmatch(r"\d+", t[1]):
            return t[1] + "s"
        self.error("expected a duration, found %r" % (t[1] or "end of input"), t)

    def postfix(self, e):
        while True:
            if self.at("["):
                open_tok = self.next()
                rng = self.duration()
                if self.at(":"):
                    self.next()
                    step = None if self.at("]") else self.duration()
                    self.expect("]")
                    if _type_of(e) != "vector":
                        self.error("subquery is only allowed on instant vector", open_tok)
                    e = Subquery(e, rng, step)
                    continue
                self.expect("]")
                if not isinstance(e, VectorSelector) or e.offset or e.at:
                    self.error("ranges only allowed for vector selectors", open_tok)
                e = MatrixSelector(e, rng)
                continue
            if self.at("offset"):
                tok = self.next()
                neg = False
                if self.at("-"):
                    self.next()
                    neg = True
                d = self.duration()
                target = e.vector if isinstance(e, MatrixSelector) else e
                if not isinstance(target, (VectorSelector, Subquery)):
                    self.error("offset modifier must be preceded by an instant vector "
                               "selector or range vector selector or a subquery", tok)
                if target.offset is not None:
                    self.error("offset may not be set multiple times", tok)
                target.offset = ("-" if neg else "") + d
                continue
            if self.at("@"):
                tok = self.next()
                t = self.next()
                if t[0] == "number":
                    v = t[1]
                elif t[0] == "op" and t[1] in "+-" and self.peek()[0] == "number":
                    v = t[1] + self.next()[1]
                elif t[0] == "ident" and t[1] in ("start", "end") and self.at("("):
                    self.expect("(")
                    self.expect(")")
                    v = t[1] + "()"
                else:
                    self.error("@ modifier needs a timestamp, start() or end()", t)
                target = e.vector if isinstance(e, MatrixSelector) else e
                if not isinstance(target, (VectorSelector, Subquery)):
                    self.error("@ modifier must be preceded by a selector or subquery", tok)
                if target.at is not None:
                    self.error("@ may not be set multiple times", tok)
                target.at = v
                continue
            return e

    def primary(self):
        t = self.peek()
        kind, val = t[0], t[1]
        if kind == "number":
            self.next()
            return Number(float(int(val, 16)) if val.lower().startswith("0x") else float(val))
        if kind == "duration":
            self.error("unexpected duration %r" % val)
        if kind == "string":
            self.next()
            return String(_unquote(val, t[2], self.text))
        if kind == "op" and val == "(":
            self.next()
            e = self.expr(0)
            self.expect(")")
            return Paren(e)
        if kind == "op" and val == "{":
            return self.selector(None, t[2])
        if kind == "ident":
            low = val.lower()
            if low in ("inf", "nan"):
                self.next()
                return Number(float(low))
            if val in AGGREGATIONS and (self.peek(1)[1] in ("(", "by", "without")):
                return self.aggregation()
            if val in FUNCTIONS and self.peek(1)[1] == "(":
                return self.call()
            if val in KEYWORDS | SET_OPS | {"atan2"}:
                self.error("unexpected keyword %r" % val)
            if self.peek(1)[1] == "(" and self.peek(1)[0] == "op":
                self.error("unknown function %r" % val)
            self.next()
            return self.selector(val, t[2])
        self.error("unexpected %r" % (val or "end of input"))

    def selector(self, name, pos):
        matchers = []
        if self.at("{"):
            self.next()
            while not self.at("}"):
                lt = self.next()
                if lt[0] != "ident":
                    self.error("expected a label name, found %r" % lt[1], lt)
                ot = self.next()
                if ot[1] not in ("=", "!=", "=~", "!~") or ot[0] != "op":
                    self.error("expected a label matcher operator, found %r" % ot[1], ot)
                vt = self.next()
                if vt[0] != "string":
                    self.error("expected a quoted label value, found %r" % vt[1], vt)
                value = _unquote(vt[1], vt[2], self.text)
                if ot[1] in ("=~", "!~"):
                    try:
                        re.compile(_grafana_neutral(value))
                    except re.error as e:
                        self.error("invalid regular expression %r: %s" % (value, e), vt)
                matchers.append((lt[1], ot[1], value))
                if not self.at("}"):
                    self.expect(",")
            self.expect("}")
        if name is None and not any(op in ("=", "=~") and not _matches_empty(op, v)
                                    for (_, op, v) in matchers):
            raise ParseError("vector selector must contain at least one non-empty matcher",
                             pos, self.text)
        if name is not None and any(l == "__name__" for (l, _, _) in matchers):
            raise ParseError("metric name must not be set twice", pos, self.text)
        return VectorSelector(name, matchers, pos)

    def call(self):
        name_tok = self.next()
        self.expect("(")
        args = []
        while not self.at(")"):
            args.append(self.expr(0))
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        return Call(name_tok[1], args)

    def aggregation(self):
        op = self.next()[1]
        grouping, without = None, False
        if self.at("by") or self.at("without"):
            without = self.next()[1] == "without"
            grouping = self.label_list()
        self.expect("(")
        param = None
        if op in PARAM_AGGREGATIONS:
            param = self.expr(0)
            self.expect(",")
        e = self.expr(0)
        if self.at(","):
            self.error("too many arguments to %s" % op)
        self.expect(")")
        if grouping is None and (self.at("by") or self.at("without")):
            without = self.next()[1] == "without"
            grouping = self.label_list()
        if _type_of(e) != "vector":
            self.error("expected an instant vector inside %s()" % op)
        return Aggregate(op, e, param, grouping, without)


def _grafana_neutral(value):
    """A regex with Grafana variables replaced by something neutral, for the syntax check."""
    return re.sub(r"\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]+\]\]", "x", value)


def _matches_empty(op, value):
    if op == "=":
        return value == ""
    try:
        return re.fullmatch(_grafana_neutral(value), "") is not None
    except re.error:
        return False


def _type_of(e):
    while isinstance(e, Paren):
        e = e.expr
    if isinstance(e, Number):
        return "scalar"
    if isinstance(e, String):
        return "string"
    if isinstance(e, MatrixSelector):
        return "matrix"
    if isinstance(e, Subquery):
        return "matrix"
    if isinstance(e, Call):
        if e.func in ("time", "pi", "scalar"):
            return "scalar"
        return "vector"
    if isinstance(e, Binary):
        if _is_scalar(e.lhs) and _is_scalar(e.rhs):
            return "scalar"
        return "vector"
    if isinstance(e, Unary):
        return _type_of(e.expr)
    return "vector"


def _is_scalar(e):
    return _type_of(e) == "scalar"


def parse(text):
    """The AST of one PromQL expression; raises ParseError."""
    return _Parser(text).parse()


if __name__ == "__main__":
    import sys
    for arg in sys.argv[1:]:
        try:
            print(parse(arg))
        except ParseError as e:
            print("error:", e)
            sys.exit(1)
