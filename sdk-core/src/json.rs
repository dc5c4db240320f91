//! JSON as the SDK logic reads and writes it, whoever parses it.
//!
//! The protocol logic that runs in both SDKs (answers, error bodies, realtime
//! frames, `find`'s options) reads JSON through [`JsonView`] and writes the
//! little JSON it sends with [`ObjectWriter`]. On the server and in the native
//! SDK the view is a `serde_json::Value`; in the browser it is a value of the
//! JavaScript engine's own `JSON.parse`, so the WebAssembly build carries no
//! JSON parser or serializer of its own.

use serde_json::Value;

/// Read access to one parsed JSON value.
pub trait JsonView: Sized {
    /// The member `key`, when this is an object that has it.
    fn get(&self, key: &str) -> Option<Self>;
    /// The text, when this is a string.
    fn string(&self) -> Option<String>;
    /// The number, when this is a number.
    fn number(&self) -> Option<f64>;
    /// The value, when this is `true` or `false`.
    fn boolean(&self) -> Option<bool>;
    /// Whether this is `null`.
    fn is_null(&self) -> bool;
    /// Whether this is an object (not an array, not `null`).
    fn is_object(&self) -> bool;
    /// The items, when this is an array.
    fn items(&self) -> Option<Vec<Self>>;
    /// The members in their order, when this is an object.
    fn members(&self) -> Option<Vec<(String, Self)>>;
    /// The value as JSON text.
    fn to_json(&self) -> String;
    /// This object as JSON text without the members `keys`.
    fn to_json_without(&self, keys: &[&str]) -> String;
    /// A string, number, boolean or `null` as the text a query string carries
    /// (`"a"` → `a`, `1.5` → `1.5`, `true` → `true`); `None` for arrays and objects.
    fn scalar_text(&self) -> Option<String>;

    /// The member `key` as serde_json's value, where serde_json parsed it;
    /// `None` in the browser, whose SDK reads such members (an error's
    /// per-field `errors`) from its own JSON values.
    fn owned_at(&self, _key: &str) -> Option<Value> {
        None
    }

    /// A non-negative whole number up to 2^53 (event numbers, subscription ids).
    fn uint(&self) -> Option<u64> {
        let n = self.number()?;
        (n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_992.0).then_some(n as u64)
    }

    /// The member `key` as a string.
    fn str_at(&self, key: &str) -> Option<String> {
        self.get(key)?.string()
    }
}

impl JsonView for &Value {
    fn get(&self, key: &str) -> Option<Self> {
        Value::get(self, key)
    }

    fn owned_at(&self, key: &str) -> Option<Value> {
        Value::get(self, key).cloned()
    }

    fn string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    fn number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn is_null(&self) -> bool {
        Value::is_null(self)
    }

    fn is_object(&self) -> bool {
        Value::is_object(self)
    }

    fn items(&self) -> Option<Vec<Self>> {
        self.as_array().map(|a| a.iter().collect())
    }

    fn members(&self) -> Option<Vec<(String, Self)>> {
        self.as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v)).collect())
    }

    fn to_json(&self) -> String {
        Value::to_string(self)
    }

    fn to_json_without(&self, keys: &[&str]) -> String {
        match self {
            Value::Object(m) if keys.iter().any(|k| m.contains_key(*k)) => {
                let mut m = m.clone();
                for k in keys {
                    m.shift_remove(*k);
                }
                Value::Object(m).to_string()
            }
            other => other.to_string(),
        }
    }

    fn scalar_text(&self) -> Option<String> {
        match self {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => Some("null".into()),
            _ => None,
        }
    }
}

/// Appends `s` as a JSON string literal, quotes included.
pub fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let b = c as usize;
                out.push_str("\\u00");
                out.push(HEX[b >> 4] as char);
                out.push(HEX[b & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `n` in decimal (without the formatting machinery, which the
/// browser build need not carry).
pub fn push_uint(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[i..] {
        out.push(*d as char);
    }
}

/// `n` in decimal (see [`push_uint`]).
pub fn uint_text(n: u64) -> String {
    let mut s = String::new();
    push_uint(&mut s, n);
    s
}

/// A JSON object written member by member, in the order given.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ObjectWriter {
    out: String,
}

impl ObjectWriter {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// An object whose first member is `"action": action`: a realtime frame.
    pub fn action(action: &str) -> Self {
        Self::new().str("action", action)
    }

    fn key(mut self, key: &str) -> Self {
        self.out.push(if self.out.is_empty() { '{' } else { ',' });
        push_string(&mut self.out, key);
        self.out.push(':');
        self
    }

    /// Adds a string member.
    pub fn str(self, key: &str, value: &str) -> Self {
        let mut w = self.key(key);
        push_string(&mut w.out, value);
        w
    }

    /// Adds a member whose value is JSON text the caller already has.
    pub fn raw(self, key: &str, json: &str) -> Self {
        let mut w = self.key(key);
        w.out.push_str(json);
        w
    }

    /// Adds a whole-number member.
    pub fn uint(self, key: &str, n: u64) -> Self {
        let mut w = self.key(key);
        push_uint(&mut w.out, n);
        w
    }

    /// Adds a boolean member.
    pub fn bool(self, key: &str, b: bool) -> Self {
        self.raw(key, if b { "true" } else { "false" })
    }

    /// Adds an array of strings.
    pub fn strings<'a>(self, key: &str, items: impl IntoIterator<Item = &'a str>) -> Self {
        let mut w = self.key(key);
        w.out.push('[');
        for (i, s) in items.into_iter().enumerate() {
            if i > 0 {
                w.out.push(',');
            }
            push_string(&mut w.out, s);
        }
        w.out.push(']');
        w
    }

    /// The object's JSON text.
    pub fn finish(mut self) -> String {
        if self.out.is_empty() {
            self.out.push('{');
        }
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn written_objects_are_the_json_serde_reads() {
        let text = ObjectWriter::action("create")
            .str("collection", "a \"quoted\"\\ name\n\u{1}é")
            .raw("data", r#"{"n":1}"#)
            .uint("id", 18_446_744_073_709_551_615)
            .uint("zero", 0)
            .bool("yes", true)
            .strings("names", ["x", "y\t"])
            .finish();
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(
            v,
            json!({"action": "create", "collection": "a \"quoted\"\\ name\n\u{1}é",
                   "data": {"n": 1}, "id": 18_446_744_073_709_551_615u64, "zero": 0,
                   "yes": true, "names": ["x", "y\t"]})
        );
        assert_eq!(ObjectWriter::new().finish(), "{}");
    }

    #[test]
    fn every_control_character_is_escaped() {
        for c in (0u8..0x20)
            .map(char::from)
            .chain(['"', '\\', '\u{7f}', '\u{2028}'])
        {
            let mut s = String::new();
            push_string(&mut s, &c.to_string());
            let back: String = serde_json::from_str(&s).expect("valid JSON string");
            assert_eq!(back, c.to_string());
        }
    }

    #[test]
    fn the_serde_view_reads_what_json_holds() {
        let v = json!({"s": "x", "n": 3, "f": 1.5, "neg": -1, "b": true, "z": null,
                       "a": [1, 2], "o": {"k": "v"}, "seq": 4});
        let r = &v;
        assert_eq!(r.str_at("s").as_deref(), Some("x"));
        assert_eq!(r.get("n").and_then(|n| n.uint()), Some(3));
        assert_eq!(r.get("f").and_then(|n| n.uint()), None);
        assert_eq!(r.get("neg").and_then(|n| n.uint()), None);
        assert_eq!(r.get("b").and_then(|b| b.boolean()), Some(true));
        assert!(r.get("z").is_some_and(|z| z.is_null()));
        assert_eq!(r.get("a").and_then(|a| a.items()).map(|a| a.len()), Some(2));
        assert!(r.get("o").is_some_and(|o| o.is_object()));
        assert!(!r.get("a").is_some_and(|a| a.is_object()));
        assert_eq!(
            r.get("f").and_then(|f| f.scalar_text()).as_deref(),
            Some("1.5")
        );
        assert_eq!(r.get("o").and_then(|f| f.scalar_text()), None);
        let without: Value = serde_json::from_str(&r.to_json_without(&["seq", "a"])).expect("json");
        assert!(without.get("seq").is_none() && without.get("a").is_none());
        assert_eq!(without.get("s"), Some(&json!("x")));
    }
}
