// Skip logic (XLSForm `relevant`) in the page: the same expression subset, parser and evaluation rules as
// wangge/campaigns/forms.py, so a question shows in the phone exactly when the server will expect its answer.
//
// ${field} references, 'strings', numbers, = != < <= > >=, and, or, not(…), selected(${field}, 'value'),
// count-selected(${field}), string-length(…), true(), false(), parentheses.
//
// Values follow forms.py's _comparable: yes/no for booleans, numbers compared as numbers only for < <= > >=, and
// equality on the text (so 1.0 = 1 is false there too). Unanswered is null.
(function () {
  "use strict";

  const TOKEN = /\s*(?:(\$\{[A-Za-z_][A-Za-z0-9_]*\})|('[^']*'|"[^"]*")|(-?\d+(?:\.\d+)?)|(!=|<=|>=|=|<|>|\(|\)|,)|([a-z][a-z-]*))/y;
  const KINDS = ["ref", "string", "number", "op", "word"];
  const FUNCTIONS = { not: 1, selected: 2, "count-selected": 1, "string-length": 1 };
  const NUMERIC = /^-?\d+(\.\d+)?$/;

  // A number keeps its text, as Python's Decimal does: equality compares the texts.
  class Num {
    constructor(text) {
      // Decimal("05") is 5 and Decimal("1.50") stays 1.50: leading zeros go, the rest of the text stays.
      const match = /^(-?)(\d+)(\.\d+)?$/.exec(String(text));
      this.text = match ? `${match[1]}${match[2].replace(/^0+(?=\d)/, "")}${match[3] || ""}` : String(text);
      this.value = Number(text);
    }
  }

  function tokens(text) {
    const result = [];
    text = text.trim();
    let position = 0;
    while (position < text.length) {
      TOKEN.lastIndex = position;
      const match = TOKEN.exec(text);
      if (!match || TOKEN.lastIndex === position) {
        throw new Error(`cannot read the expression at ${text.slice(position, position + 15)}`);
      }
      const index = match.slice(1).findIndex((group) => group !== undefined);
      result.push([KINDS[index], match[index + 1]]);
      position = TOKEN.lastIndex;
    }
    return result;
  }

  function parse(text) {
    const list = tokens(text);
    let i = 0;
    const peek = () => (i < list.length ? list[i] : [null, null]);
    const is = (kind, lexeme) => peek()[0] === kind && peek()[1] === lexeme;
    function take(value) {
      const [kind, lexeme] = peek();
      if (lexeme === null || (value !== undefined && lexeme !== value)) throw new Error(`expected ${value || "more"}`);
      i += 1;
      return [kind, lexeme];
    }
    function disjunction() {
      let tree = conjunction();
      while (is("word", "or")) {
        take();
        tree = ["or", tree, conjunction()];
      }
      return tree;
    }
    function conjunction() {
      let tree = comparison();
      while (is("word", "and")) {
        take();
        tree = ["and", tree, comparison()];
      }
      return tree;
    }
    function comparison() {
      const left = operand();
      const [kind, lexeme] = peek();
      if (kind === "op" && ["=", "!=", "<", "<=", ">", ">="].includes(lexeme)) {
        take();
        return ["cmp", lexeme, left, operand()];
      }
      return left;
    }
    function operand() {
      const [kind, lexeme] = take();
      if (kind === "ref") return ["ref", lexeme.slice(2, -1)];
      if (kind === "string") return ["lit", lexeme.slice(1, -1)];
      if (kind === "number") return ["lit", new Num(lexeme)];
      if (lexeme === "(") {
        const tree = disjunction();
        take(")");
        return tree;
      }
      if (kind === "word" && Object.prototype.hasOwnProperty.call(FUNCTIONS, lexeme)) {
        take("(");
        const args = [disjunction()];
        while (is("op", ",")) {
          take();
          args.push(disjunction());
        }
        take(")");
        if (args.length !== FUNCTIONS[lexeme]) throw new Error(`${lexeme}() takes ${FUNCTIONS[lexeme]} argument(s)`);
        return ["call", lexeme, args];
      }
      if (kind === "word" && (lexeme === "true" || lexeme === "false")) {
        take("(");
        take(")");
        return ["lit", lexeme === "true"];
      }
      throw new Error(`unexpected ${lexeme}`);
    }
    const tree = disjunction();
    if (i !== list.length) throw new Error(`unexpected ${peek()[1]}`);
    return tree;
  }

  // Python's truth: None, False, "", 0 and [] are false.
  function truthy(value) {
    if (value instanceof Num) return value.value !== 0;
    if (Array.isArray(value)) return value.length > 0;
    return value !== null && value !== undefined && value !== false && value !== "" && value !== 0;
  }

  function comparable(value) {
    if (value === true) return "yes";
    if (value === false) return "no";
    if (value === null || value === undefined) return "";
    if (value instanceof Num) return value;
    if (typeof value === "number") return new Num(String(value));
    if (Array.isArray(value)) return value.map(String).join(" ");
    const text = String(value);
    return NUMERIC.test(text) ? new Num(text) : text;
  }

  const text = (value) => (value instanceof Num ? value.text : String(value));

  // Python's str(value or ""): a false value is the empty text.
  function pyText(value) {
    if (!truthy(value)) return "";
    if (value === true) return "True";
    return text(value);
  }

  function chosenList(value) {
    if (Array.isArray(value)) return value.map(String);
    return pyText(value).split(/\s+/).filter(Boolean);
  }

  function evaluate(tree, lookup) {
    const kind = tree[0];
    if (kind === "lit") return tree[1];
    if (kind === "ref") {
      const value = lookup(tree[1]);
      return value === undefined ? null : value;
    }
    if (kind === "or") return truthy(evaluate(tree[1], lookup)) || truthy(evaluate(tree[2], lookup));
    if (kind === "and") return truthy(evaluate(tree[1], lookup)) && truthy(evaluate(tree[2], lookup));
    if (kind === "cmp") {
      const op = tree[1];
      const left = comparable(evaluate(tree[2], lookup));
      const right = comparable(evaluate(tree[3], lookup));
      if (op === "=" || op === "!=") return (text(left) === text(right)) === (op === "=");
      if (!(left instanceof Num) || !(right instanceof Num)) return false;
      return { "<": left.value < right.value, "<=": left.value <= right.value, ">": left.value > right.value,
        ">=": left.value >= right.value }[op];
    }
    const [, name, args] = tree;
    if (name === "not") return !truthy(evaluate(args[0], lookup));
    if (name === "selected") {
      const chosen = chosenList(evaluate(args[0], lookup));
      return chosen.includes(text(evaluate(args[1], lookup)));
    }
    if (name === "count-selected") return new Num(String(chosenList(evaluate(args[0], lookup)).length));
    if (name === "string-length") {
      return new Num(String(Array.from(pyText(evaluate(args[0], lookup))).length));
    }
    throw new Error(name);
  }

  // Whether a question is shown: an expression that cannot be read or evaluated shows it (as forms.py does).
  function shown(expression, lookup) {
    if (!expression) return true;
    try {
      return truthy(evaluate(parse(expression), lookup));
    } catch (error) {
      return true;
    }
  }

  window.wanggeSkipLogic = { parse, evaluate, shown, truthy, Num };
})();
