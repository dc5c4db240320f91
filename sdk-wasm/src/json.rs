//! JSON through the JavaScript engine: `JSON.parse` and `JSON.stringify`, and
//! sdk-core's [`JsonView`] over the values they give, so the WebAssembly
//! carries no JSON code of its own.

use sdk_core::json::JsonView;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `String(v)`: how JavaScript writes a number in a URL.
    #[wasm_bindgen(js_name = String)]
    fn js_string(v: &JsValue) -> String;
    /// `JSON.parse(text)` of a JavaScript string, without copying it through the wasm.
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn parse_js(text: &JsValue) -> Result<JsValue, JsValue>;
}

/// A JavaScript value read as JSON.
#[derive(Debug, Clone)]
pub(crate) struct Js(pub JsValue);

impl Js {
    /// `JSON.parse(text)` of a JavaScript string, or `None` when it is not JSON.
    pub(crate) fn parse_value(text: &JsValue) -> Option<Self> {
        parse_js(text).ok().map(Js)
    }

    fn object(&self) -> Option<&js_sys::Object> {
        (self.0.is_object() && !js_sys::Array::is_array(&self.0)).then(|| self.0.unchecked_ref())
    }
}

/// `JSON.stringify(v)`; `None` for what has no JSON text (a function, a cycle).
pub(crate) fn stringify(v: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(v).ok().and_then(|s| s.as_string())
}

impl JsonView for Js {
    fn get(&self, key: &str) -> Option<Self> {
        let o = self.object()?;
        let v = js_sys::Reflect::get(o, &JsValue::from_str(key)).ok()?;
        (!v.is_undefined()).then_some(Js(v))
    }

    fn string(&self) -> Option<String> {
        self.0.as_string()
    }

    fn number(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn boolean(&self) -> Option<bool> {
        self.0.as_bool()
    }

    fn is_null(&self) -> bool {
        self.0.is_null() || self.0.is_undefined()
    }

    fn is_object(&self) -> bool {
        self.object().is_some()
    }

    fn items(&self) -> Option<Vec<Self>> {
        js_sys::Array::is_array(&self.0)
            .then(|| js_sys::Array::from(&self.0).iter().map(Js).collect())
    }

    fn members(&self) -> Option<Vec<(String, Self)>> {
        let o = self.object()?;
        Some(
            js_sys::Object::keys(o)
                .iter()
                .filter_map(|k| {
                    let v = js_sys::Reflect::get(o, &k).ok()?;
                    // As JSON.stringify: an undefined member is no member.
                    (!v.is_undefined()).then(|| (k.as_string().unwrap_or_default(), Js(v)))
                })
                .collect(),
        )
    }

    fn to_json(&self) -> String {
        stringify(&self.0).unwrap_or_else(|| "null".into())
    }

    fn to_json_without(&self, keys: &[&str]) -> String {
        let Some(o) = self.object() else {
            return self.to_json();
        };
        let copy = js_sys::Object::assign(&js_sys::Object::new(), o);
        for k in keys {
            let _ = js_sys::Reflect::delete_property(&copy, &JsValue::from_str(k));
        }
        stringify(&copy).unwrap_or_else(|| "null".into())
    }

    fn scalar_text(&self) -> Option<String> {
        if self.is_null() {
            Some("null".into())
        } else if self.0.is_object() || self.0.as_f64().is_some_and(|n| !n.is_finite()) {
            // As JSON.stringify gives it: a Date through its toJSON, NaN as null.
            let seen = stringify(&self.0)
                .map(|t| JsValue::from_str(&t))
                .and_then(|t| parse_js(&t).ok())?;
            if seen.is_object() {
                None
            } else {
                Js(seen).scalar_text()
            }
        } else if self.0.is_function() {
            None
        } else {
            Some(js_string(&self.0))
        }
    }
}
