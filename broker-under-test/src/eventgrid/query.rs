//! Client group queries (reference §2 grammar, our superset of the documented examples).
//!
//! ```text
//! query   := or_expr
//! or_expr := and_expr ( OR and_expr )*
//! and_expr:= unary ( AND unary )*
//! unary   := NOT unary | primary                 ; NOT is our extension
//! primary := '(' or_expr ')' | cmp
//! cmp     := operand ( ('='|'!='|'<>') value | ('<'|'>'|'<='|'>=') INT | IN '[' value (',' value)* ']' )
//! operand := 'authenticationName' | 'attributes.' KEY   ; KEY = [A-Za-z0-9_]+, exact case
//! value   := STRING ('..' or "..", no escapes) | INT (optional '-') | TRUE | FALSE
//! ```
//! Keywords (`AND`, `OR`, `NOT`, `IN`, `TRUE`, `FALSE`) and the operand words `authenticationName`
//! / `attributes` are case-insensitive; attribute keys and string comparisons are case-sensitive
//! (`authenticationName` compares against the registered case).
//!
//! Semantics (documented choices, reference §8 #12):
//! - A missing attribute makes its comparison false (every operator, `!=` included).
//! - `NOT` is plain boolean negation: `NOT attributes.x = "a"` is **true** for a client without `x`.
//! - Array attributes match if any element matches: `=` means "contains", `IN` means "intersects",
//!   `!=` means "contains no element equal to". Ordering operators are false on arrays.
//! - Values of a different type never compare equal (`attributes.floor = "3"` is false for the
//!   integer 3), so `!=` is true for them; `<`, `>`, `<=`, `>=` are false unless the attribute is an integer.

use super::AttrValue;
use std::collections::BTreeMap;
use std::fmt;

/// Deepest nesting of parentheses / `NOT` accepted (keeps hostile input from exhausting the stack).
const MAX_DEPTH: usize = 64;

/// A parsed client-group query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    source: String,
    expr: Expr,
}

/// A query that does not parse: `column` is the 1-based character position inside the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    /// 1-based character column of the problem inside the query string.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for QueryError {}

/// What a comparison reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// The client's authentication name (registered case).
    AuthenticationName,
    /// `attributes.<key>`.
    Attribute(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
}

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Eq(Value),
    Ne(Value),
    Lt(i64),
    Gt(i64),
    Le(i64),
    Ge(i64),
    In(Vec<Value>),
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(Operand, Op),
}

impl Query {
    /// Parses a query; the error carries the column of the problem.
    pub fn parse(source: &str) -> Result<Query, QueryError> {
        let tokens = lex(source)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            depth: 0,
        };
        let expr = p.or_expr()?;
        let t = p.peek();
        if t.kind != Tok::End {
            return Err(err(t.col, format!("unexpected {} after a complete expression", t.kind)));
        }
        Ok(Query {
            source: source.to_string(),
            expr,
        })
    }

    /// The query text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether a client with this authentication name and these attributes is in the group.
    pub fn matches(&self, authentication_name: &str, attributes: &BTreeMap<String, AttrValue>) -> bool {
        eval(&self.expr, authentication_name, attributes)
    }
}

fn eval(e: &Expr, name: &str, attrs: &BTreeMap<String, AttrValue>) -> bool {
    match e {
        Expr::Or(v) => v.iter().any(|e| eval(e, name, attrs)),
        Expr::And(v) => v.iter().all(|e| eval(e, name, attrs)),
        Expr::Not(e) => !eval(e, name, attrs),
        Expr::Cmp(operand, op) => {
            let owned;
            let value = match operand {
                Operand::AuthenticationName => {
                    owned = AttrValue::Str(name.to_string());
                    &owned
                }
                Operand::Attribute(k) => match attrs.get(k) {
                    Some(v) => v,
                    None => return false,
                },
            };
            compare(value, op)
        }
    }
}

fn equals(a: &AttrValue, v: &Value) -> bool {
    match (a, v) {
        (AttrValue::Str(a), Value::Str(b)) => a == b,
        (AttrValue::Int(a), Value::Int(b)) => a == b,
        (AttrValue::Bool(a), Value::Bool(b)) => a == b,
        (AttrValue::List(l), Value::Str(b)) => l.iter().any(|e| e == b),
        _ => false,
    }
}

fn compare(a: &AttrValue, op: &Op) -> bool {
    let int = match a {
        AttrValue::Int(i) => Some(*i),
        _ => None,
    };
    match op {
        Op::Eq(v) => equals(a, v),
        Op::Ne(v) => !equals(a, v),
        Op::Lt(n) => int.is_some_and(|i| i < *n),
        Op::Gt(n) => int.is_some_and(|i| i > *n),
        Op::Le(n) => int.is_some_and(|i| i <= *n),
        Op::Ge(n) => int.is_some_and(|i| i >= *n),
        Op::In(vs) => vs.iter().any(|v| equals(a, v)),
    }
}

fn err(column: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        column,
        message: message.into(),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Str(String),
    Int(i64),
    Word(String),
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::LBracket => f.write_str("'['"),
            Tok::RBracket => f.write_str("']'"),
            Tok::Comma => f.write_str("','"),
            Tok::Eq => f.write_str("'='"),
            Tok::Ne => f.write_str("'!='"),
            Tok::Lt => f.write_str("'<'"),
            Tok::Gt => f.write_str("'>'"),
            Tok::Le => f.write_str("'<='"),
            Tok::Ge => f.write_str("'>='"),
            Tok::Str(s) => write!(f, "string {s:?}"),
            Tok::Int(i) => write!(f, "integer {i}"),
            Tok::Word(w) => write!(f, "'{w}'"),
            Tok::End => f.write_str("end of query"),
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    kind: Tok,
    col: usize,
}

fn lex(src: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        let next = chars.get(i + 1).copied();
        let (kind, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            ',' => (Tok::Comma, 1),
            '=' => (Tok::Eq, 1),
            '!' if next == Some('=') => (Tok::Ne, 2),
            '<' if next == Some('>') => (Tok::Ne, 2),
            '<' if next == Some('=') => (Tok::Le, 2),
            '<' => (Tok::Lt, 1),
            '>' if next == Some('=') => (Tok::Ge, 2),
            '>' => (Tok::Gt, 1),
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(|| err(col, "unterminated string"))?;
                let s: String = chars[i + 1..i + 1 + end].iter().collect();
                (Tok::Str(s), end + 2)
            }
            c if c.is_ascii_digit() || (c == '-' && next.is_some_and(|d| d.is_ascii_digit())) => {
                let start = i;
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                let text: String = chars[start..j].iter().collect();
                if j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '.') {
                    return Err(err(j + 1, format!("unexpected '{}' in a number", chars[j])));
                }
                let n = text
                    .parse::<i64>()
                    .map_err(|_| err(col, format!("integer {text} out of range")))?;
                (Tok::Int(n), j - start)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_' || chars[j] == '.') {
                    j += 1;
                }
                (Tok::Word(chars[start..j].iter().collect()), j - start)
            }
            c => return Err(err(col, format!("unexpected character '{c}'"))),
        };
        out.push(Token { kind, col });
        i += len;
    }
    out.push(Token {
        kind: Tok::End,
        col: chars.len() + 1,
    });
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> Token {
        // The lexer always ends the list with End, and `bump` never moves past it.
        self.tokens
            .get(self.pos)
            .cloned()
            .unwrap_or(Token { kind: Tok::End, col: 0 })
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.kind != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn enter(&mut self, col: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(col, format!("nesting deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Expr, QueryError> {
        let mut v = vec![self.and_expr()?];
        while is_kw(&self.peek().kind, "or") {
            self.bump();
            v.push(self.and_expr()?);
        }
        Ok(if v.len() == 1 { v.remove(0) } else { Expr::Or(v) })
    }

    fn and_expr(&mut self) -> Result<Expr, QueryError> {
        let mut v = vec![self.unary()?];
        while is_kw(&self.peek().kind, "and") {
            self.bump();
            v.push(self.unary()?);
        }
        Ok(if v.len() == 1 { v.remove(0) } else { Expr::And(v) })
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        let t = self.peek();
        if is_kw(&t.kind, "not") {
            self.bump();
            self.enter(t.col)?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let t = self.bump();
        match &t.kind {
            Tok::LParen => {
                self.enter(t.col)?;
                let e = self.or_expr()?;
                self.depth -= 1;
                let close = self.bump();
                if close.kind != Tok::RParen {
                    return Err(err(
                        close.col,
                        format!("expected ')' (to close '(' at column {}), found {}", t.col, close.kind),
                    ));
                }
                Ok(e)
            }
            Tok::Word(w) => {
                let operand = operand(w, t.col)?;
                self.cmp(operand)
            }
            other => Err(err(
                t.col,
                format!("expected 'authenticationName', 'attributes.<key>', NOT or '(', found {other}"),
            )),
        }
    }

    fn cmp(&mut self, operand: Operand) -> Result<Expr, QueryError> {
        let t = self.bump();
        let op = match t.kind {
            Tok::Eq => Op::Eq(self.value()?),
            Tok::Ne => Op::Ne(self.value()?),
            Tok::Lt => Op::Lt(self.int()?),
            Tok::Gt => Op::Gt(self.int()?),
            Tok::Le => Op::Le(self.int()?),
            Tok::Ge => Op::Ge(self.int()?),
            ref k if is_kw(k, "in") => {
                let open = self.bump();
                if open.kind != Tok::LBracket {
                    return Err(err(open.col, format!("expected '[' after IN, found {}", open.kind)));
                }
                let mut vals = vec![self.value()?];
                loop {
                    let sep = self.bump();
                    match sep.kind {
                        Tok::Comma => vals.push(self.value()?),
                        Tok::RBracket => break,
                        other => {
                            return Err(err(
                                sep.col,
                                format!("expected ',' or ']' in the IN list, found {other}"),
                            ))
                        }
                    }
                }
                Op::In(vals)
            }
            other => {
                return Err(err(
                    t.col,
                    format!("expected an operator (=, !=, <>, <, >, <=, >=, IN), found {other}"),
                ))
            }
        };
        Ok(Expr::Cmp(operand, op))
    }

    fn value(&mut self) -> Result<Value, QueryError> {
        let t = self.bump();
        match t.kind {
            Tok::Str(s) => Ok(Value::Str(s)),
            Tok::Int(i) => Ok(Value::Int(i)),
            ref k if is_kw(k, "true") => Ok(Value::Bool(true)),
            ref k if is_kw(k, "false") => Ok(Value::Bool(false)),
            other => Err(err(
                t.col,
                format!("expected a string, an integer, TRUE or FALSE, found {other}"),
            )),
        }
    }

    fn int(&mut self) -> Result<i64, QueryError> {
        let t = self.bump();
        match t.kind {
            Tok::Int(i) => Ok(i),
            other => Err(err(
                t.col,
                format!("<, >, <= and >= compare integers only, found {other}"),
            )),
        }
    }
}

fn operand(word: &str, col: usize) -> Result<Operand, QueryError> {
    if word.eq_ignore_ascii_case("authenticationName") {
        return Ok(Operand::AuthenticationName);
    }
    let prefix = "attributes.";
    if word.len() > prefix.len()
        && word.is_char_boundary(prefix.len())
        && word[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        let key = &word[prefix.len()..];
        if let Some(bad) = key.chars().position(|c| !(c.is_ascii_alphanumeric() || c == '_')) {
            return Err(err(col + prefix.len() + bad, "attribute keys use only [A-Za-z0-9_]"));
        }
        return Ok(Operand::Attribute(key.to_string()));
    }
    if word.eq_ignore_ascii_case("attributes") || word.eq_ignore_ascii_case(prefix) {
        return Err(err(col, "expected 'attributes.<key>'"));
    }
    Err(err(
        col,
        format!("unknown operand '{word}' (expected 'authenticationName' or 'attributes.<key>')"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> BTreeMap<String, AttrValue> {
        let mut m = BTreeMap::new();
        m.insert("type".into(), AttrValue::Str("sensor".into()));
        m.insert("floor".into(), AttrValue::Int(3));
        m.insert("online".into(), AttrValue::Bool(true));
        m.insert("sensors".into(), AttrValue::List(vec!["motion".into(), "noise".into()]));
        m
    }

    #[test]
    fn evaluation_table() {
        let a = attrs();
        let cases: &[(&str, bool)] = &[
            ("attributes.type = 'sensor'", true),
            ("attributes.type = \"sensor\"", true),
            ("attributes.type = 'Sensor'", false),
            ("attributes.type != 'sensor'", false),
            ("attributes.type <> 'actuator'", true),
            ("attributes.floor = 3", true),
            ("attributes.floor = '3'", false),
            ("attributes.floor != '3'", true),
            ("attributes.floor < 4", true),
            ("attributes.floor < 3", false),
            ("attributes.floor <= 3", true),
            ("attributes.floor > 2", true),
            ("attributes.floor > 3", false),
            ("attributes.floor >= 3", true),
            ("attributes.floor >= -1", true),
            ("attributes.type < 5", false),
            ("attributes.online = true", true),
            ("attributes.online = FALSE", false),
            ("attributes.floor IN [1, 2, 3]", true),
            ("attributes.floor IN [1, 2]", false),
            ("attributes.type IN ['a', 'sensor']", true),
            ("authenticationName = 'Dev1'", true),
            ("authenticationName = 'dev1'", false),
            ("authenticationName IN ['client1', 'Dev1']", true),
            // arrays: any element
            ("attributes.sensors = 'motion'", true),
            ("attributes.sensors = 'humidity'", false),
            ("attributes.sensors != 'humidity'", true),
            ("attributes.sensors != 'motion'", false),
            ("attributes.sensors IN ['humidity', 'noise']", true),
            ("attributes.sensors IN ['humidity', 'temperature']", false),
            ("attributes.sensors > 1", false),
            // missing attribute: false for every operator, NOT negates plainly
            ("attributes.missing = 'x'", false),
            ("attributes.missing != 'x'", false),
            ("attributes.missing IN ['x']", false),
            ("attributes.missing < 10", false),
            ("NOT attributes.missing = 'x'", true),
            // precedence: AND binds tighter than OR; NOT tighter than AND
            ("attributes.type = 'x' or attributes.floor = 3 and attributes.online = true", true),
            ("attributes.type = 'x' or attributes.floor = 3 and attributes.online = false", false),
            ("(attributes.type = 'x' or attributes.floor = 3) and attributes.online = false", false),
            ("attributes.type = 'sensor' or attributes.floor = 9 and attributes.online = false", true),
            ("(attributes.type = 'sensor' or attributes.floor = 9) and attributes.online = false", false),
            ("not attributes.type = 'x' and attributes.floor = 3", true),
            ("not (attributes.type = 'sensor' and attributes.floor = 3)", false),
            ("NOT NOT attributes.floor = 3", true),
            // keywords and operand words are case-insensitive
            ("Attributes.type = 'sensor' AnD AUTHENTICATIONNAME in ['Dev1']", true),
            ("attributes.type = 'x' Or attributes.floor iN [3]", true),
            // documented examples
            ("(attributes.sensors = \"motion\" or attributes.sensors = \"humidity\") or attributes.type = \"home-sensors\"", true),
            ("attributes.sensors IN [\"motion\", \"humidity\", \"temperature\"] and attributes.floor <= 5", true),
        ];
        for (q, want) in cases {
            let parsed = Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            assert_eq!(parsed.matches("Dev1", &a), *want, "{q}");
        }
    }

    #[test]
    fn attribute_keys_are_case_sensitive() {
        let q = Query::parse("attributes.Type = 'sensor'").unwrap();
        assert!(!q.matches("x", &attrs()));
    }

    #[test]
    fn parse_errors_carry_columns() {
        let cases: &[(&str, usize, &str)] = &[
            ("attributes.type = ", 19, "expected a string"),
            ("attributes.type == 'a'", 18, "expected a string"),
            ("attributes.type 'a'", 17, "expected an operator"),
            ("attributes.floor < 'a'", 20, "integers only"),
            ("attributes.type = 'a", 19, "unterminated string"),
            ("(attributes.type = 'a'", 23, "expected ')'"),
            ("attributes.type = 'a')", 22, "unexpected ')'"),
            ("attributes.type = 'a' xor attributes.b = 1", 23, "unexpected 'xor'"),
            ("name = 'a'", 1, "unknown operand"),
            ("attributes.ty-pe = 'a'", 14, "unexpected character '-'"),
            ("attributes.a.b = 'a'", 13, "[A-Za-z0-9_]"),
            ("attributes.x IN 'a'", 17, "expected '['"),
            ("attributes.x IN ['a' 'b']", 22, "expected ',' or ']'"),
            ("attributes.x IN []", 18, "expected a string"),
            ("attributes.x = 99999999999999999999", 16, "out of range"),
            ("", 1, "expected 'authenticationName'"),
            ("attributes.x = 'a' and", 23, "end of query"),
            ("attributes.x = 1 § 2", 18, "unexpected character"),
            ("attributes = 1", 1, "attributes.<key>"),
        ];
        for (q, col, msg) in cases {
            let e = Query::parse(q).expect_err(q);
            assert_eq!(e.column, *col, "{q}: {e}");
            assert!(e.message.contains(msg), "{q}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let q = format!("{}attributes.a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(Query::parse(&q).unwrap_err().message.contains("nesting"));
        let q = format!("{}attributes.a = 1", "not ".repeat(10_000));
        assert!(Query::parse(&q).is_err());
    }
}
