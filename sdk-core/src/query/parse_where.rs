//! The `where` spelling: an SQL-like expression.
//!
//! ```text
//! where   := expr ( ',' expr )*              -- top-level commas mean AND
//! expr    := and ( OR and )*
//! and     := unary ( AND unary )*
//! unary   := NOT unary | '(' expr ')' | test
//! test    := field ( '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>=' ) value
//!          | field [NOT] IN '(' value ( ',' value )* ')'
//!          | field [NOT] LIKE string
//!          | field IS [NOT] NULL
//! value   := JSON string | JSON number | true | false | null | @me
//! ```
//!
//! `@me` is the signed-in user's id. For an anonymous caller every comparison
//! with `@me` is false (and `!=` true), so `userId = @me` matches nothing.
//!
//! Keywords are case-insensitive; strings are JSON strings in double quotes.

use super::{CmpOp, Filter, MAX_FILTER_DEPTH, MAX_IN_VALUES, Path, QueryError, Scalar};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Var(String),
    Str(String),
    Num(serde_json::Number),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    End,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' || c == '$'
}

impl<'a> Lexer<'a> {
    fn err(&self, at: usize, msg: impl Into<String>) -> QueryError {
        QueryError::at("where", self.src[..at].chars().count(), msg)
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    /// The next token and the byte offset where it starts.
    fn next(&mut self) -> Result<(Tok, usize), QueryError> {
        while self.peek_char().is_some_and(char::is_whitespace) {
            self.pos += self.peek_char().map_or(1, char::len_utf8);
        }
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok((Tok::End, start));
        };
        let rest = &self.src[start..];
        let two = rest.get(..2).unwrap_or("");
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            _ if two == "<=" => (Tok::Op(CmpOp::Lte), 2),
            _ if two == ">=" => (Tok::Op(CmpOp::Gte), 2),
            _ if two == "!=" || two == "<>" => (Tok::Op(CmpOp::Ne), 2),
            _ if two == "==" => (Tok::Op(CmpOp::Eq), 2),
            '=' => (Tok::Op(CmpOp::Eq), 1),
            '<' => (Tok::Op(CmpOp::Lt), 1),
            '>' => (Tok::Op(CmpOp::Gt), 1),
            '"' => {
                let mut escaped = false;
                let mut end = None;
                for (i, ch) in rest.char_indices().skip(1) {
                    if escaped {
                        escaped = false;
                    } else if ch == '\\' {
                        escaped = true;
                    } else if ch == '"' {
                        end = Some(i + 1);
                        break;
                    }
                }
                let end = end.ok_or_else(|| self.err(start, "the string is not closed"))?;
                let s: String = serde_json::from_str(&rest[..end])
                    .map_err(|e| self.err(start, format!("invalid string: {e}")))?;
                (Tok::Str(s), end)
            }
            '\'' => {
                return Err(self.err(start, "strings are written in double quotes, as in JSON"));
            }
            c if c == '-' || c.is_ascii_digit() => {
                let end = rest
                    .char_indices()
                    .find(|&(i, ch)| {
                        !(ch.is_ascii_digit()
                            || matches!(ch, '.' | 'e' | 'E' | '+')
                            || (ch == '-' && (i == 0 || rest[..i].ends_with(['e', 'E']))))
                    })
                    .map_or(rest.len(), |(i, _)| i);
                let n: serde_json::Number = serde_json::from_str(&rest[..end])
                    .map_err(|_| self.err(start, format!("'{}' is not a number", &rest[..end])))?;
                (Tok::Num(n), end)
            }
            '@' => {
                let end = rest
                    .char_indices()
                    .skip(1)
                    .find(|&(_, ch)| !ch.is_ascii_alphanumeric() && ch != '_')
                    .map_or(rest.len(), |(i, _)| i);
                (Tok::Var(rest[1..end].to_owned()), end)
            }
            c if is_ident_start(c) => {
                let end = rest
                    .char_indices()
                    .find(|&(_, ch)| !is_ident_char(ch))
                    .map_or(rest.len(), |(i, _)| i);
                (Tok::Ident(rest[..end].to_owned()), end)
            }
            other => return Err(self.err(start, format!("unexpected character '{other}'"))),
        };
        self.pos = start + len;
        Ok((tok, start))
    }
}

struct Parser<'a> {
    lex: Lexer<'a>,
    tok: Tok,
    at: usize,
    me: Option<&'a str>,
}

fn keyword(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

const KEYWORDS: [&str; 9] = [
    "and", "or", "not", "in", "like", "is", "null", "true", "false",
];

impl<'a> Parser<'a> {
    fn bump(&mut self) -> Result<(), QueryError> {
        let (t, at) = self.lex.next()?;
        self.tok = t;
        self.at = at;
        Ok(())
    }

    fn err(&self, msg: impl Into<String>) -> QueryError {
        self.lex.err(self.at, msg)
    }

    fn describe(&self) -> String {
        match &self.tok {
            Tok::End => "the end".into(),
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Var(s) => format!("'@{s}'"),
            Tok::Str(s) => format!("the string \"{s}\""),
            Tok::Num(n) => format!("the number {n}"),
            Tok::Op(_) => "an operator".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Filter, QueryError> {
        if depth > MAX_FILTER_DEPTH {
            return Err(self.err(format!(
                "the expression nests deeper than {MAX_FILTER_DEPTH} levels"
            )));
        }
        let mut parts = vec![self.and(depth)?];
        while keyword(&self.tok, "or") {
            self.bump()?;
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Filter, QueryError> {
        let mut parts = vec![self.unary(depth)?];
        while keyword(&self.tok, "and") {
            self.bump()?;
            parts.push(self.unary(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, QueryError> {
        if depth > MAX_FILTER_DEPTH {
            return Err(self.err(format!(
                "the expression nests deeper than {MAX_FILTER_DEPTH} levels"
            )));
        }
        if keyword(&self.tok, "not") {
            self.bump()?;
            return Ok(Filter::Not(Box::new(self.unary(depth + 1)?)));
        }
        if self.tok == Tok::LParen {
            self.bump()?;
            let inner = self.expr(depth + 1)?;
            if self.tok != Tok::RParen {
                return Err(self.err(format!("expected ')' but found {}", self.describe())));
            }
            self.bump()?;
            return Ok(inner);
        }
        self.test()
    }

    fn field(&mut self) -> Result<Path, QueryError> {
        let Tok::Ident(name) = &self.tok else {
            return Err(self.err(format!(
                "expected a field name but found {}",
                self.describe()
            )));
        };
        if KEYWORDS.iter().any(|k| name.eq_ignore_ascii_case(k)) {
            return Err(self.err(format!(
                "expected a field name but found the keyword '{name}'"
            )));
        }
        let p = Path::parse(name).map_err(|m| self.err(m))?;
        self.bump()?;
        Ok(p)
    }

    /// A value; `None` is `@me` for an anonymous caller (equal to nothing).
    fn value(&mut self) -> Result<Option<Scalar>, QueryError> {
        let v = match &self.tok {
            Tok::Str(s) => Some(Scalar::String(s.clone())),
            Tok::Num(n) => Some(Scalar::Number(n.clone())),
            t if keyword(t, "true") => Some(Scalar::Bool(true)),
            t if keyword(t, "false") => Some(Scalar::Bool(false)),
            t if keyword(t, "null") => Some(Scalar::Null),
            Tok::Var(v) if v == "me" => self.me.map(|m| Scalar::String(m.to_owned())),
            Tok::Var(v) => {
                return Err(self.err(format!("unknown variable '@{v}'; only @me is known")));
            }
            Tok::Ident(s) => {
                return Err(self.err(format!(
                    "expected a value but found '{s}' (strings need double quotes)"
                )));
            }
            _ => return Err(self.err(format!("expected a value but found {}", self.describe()))),
        };
        self.bump()?;
        Ok(v)
    }

    fn test(&mut self) -> Result<Filter, QueryError> {
        let field = self.field()?;
        let negated = keyword(&self.tok, "not");
        if negated {
            self.bump()?;
            if !keyword(&self.tok, "in") && !keyword(&self.tok, "like") {
                return Err(self.err(format!(
                    "expected IN or LIKE after NOT but found {}",
                    self.describe()
                )));
            }
        }
        let f = match &self.tok {
            Tok::Op(op) => {
                let op = *op;
                self.bump()?;
                match self.value()? {
                    Some(value) => Filter::Compare { field, op, value },
                    // @me without a user: nothing equals it.
                    None if op == CmpOp::Ne => Filter::All,
                    None => Filter::Or(Vec::new()),
                }
            }
            t if keyword(t, "in") => {
                self.bump()?;
                if self.tok != Tok::LParen {
                    return Err(self.err(format!(
                        "expected '(' after IN but found {}",
                        self.describe()
                    )));
                }
                self.bump()?;
                let mut values: Vec<Scalar> = self.value()?.into_iter().collect();
                let mut n = 1;
                while self.tok == Tok::Comma {
                    self.bump()?;
                    if n >= MAX_IN_VALUES {
                        return Err(self.err(format!("IN takes at most {MAX_IN_VALUES} values")));
                    }
                    values.extend(self.value()?);
                    n += 1;
                }
                if self.tok != Tok::RParen {
                    return Err(self.err(format!(
                        "expected ',' or ')' in the IN list but found {}",
                        self.describe()
                    )));
                }
                self.bump()?;
                Filter::In { field, values }
            }
            t if keyword(t, "like") => {
                self.bump()?;
                let Tok::Str(needle) = &self.tok else {
                    return Err(
                        self.err(format!("LIKE takes a string but found {}", self.describe()))
                    );
                };
                let needle = needle.clone();
                self.bump()?;
                Filter::Like { field, needle }
            }
            t if keyword(t, "is") => {
                self.bump()?;
                let not = keyword(&self.tok, "not");
                if not {
                    self.bump()?;
                }
                if !keyword(&self.tok, "null") {
                    return Err(self.err(format!(
                        "expected NULL after IS but found {}",
                        self.describe()
                    )));
                }
                self.bump()?;
                Filter::Compare {
                    field,
                    op: if not { CmpOp::Ne } else { CmpOp::Eq },
                    value: Scalar::Null,
                }
            }
            _ => {
                return Err(self.err(format!(
                    "expected an operator (=, !=, <, <=, >, >=, IN, LIKE, IS) but found {}",
                    self.describe()
                )));
            }
        };
        Ok(if negated { Filter::Not(Box::new(f)) } else { f })
    }
}

/// Parses a `where` expression into a [`Filter`] for an anonymous caller; errors
/// carry the character offset.
pub fn parse_where(src: &str) -> Result<Filter, QueryError> {
    parse_where_as(src, None)
}

/// Parses a `where` expression with `@me` standing for `me` (anonymous: `None`).
pub fn parse_where_as(src: &str, me: Option<&str>) -> Result<Filter, QueryError> {
    let mut p = Parser {
        lex: Lexer { src, pos: 0 },
        tok: Tok::End,
        at: 0,
        me,
    };
    p.bump()?;
    if p.tok == Tok::End {
        return Err(p.err("the expression is empty"));
    }
    let mut parts = vec![p.expr(0)?];
    while p.tok == Tok::Comma {
        p.bump()?;
        parts.push(p.expr(0)?);
    }
    if p.tok != Tok::End {
        let msg = if matches!(p.tok, Tok::Ident(_)) {
            format!("expected AND, OR or ',' but found {}", p.describe())
        } else {
            format!("unexpected {}", p.describe())
        };
        return Err(p.err(msg));
    }
    let f = if parts.len() == 1 {
        parts.remove(0)
    } else {
        Filter::And(parts)
    };
    f.check_bounds("where")?;
    Ok(f)
}
