//! Values between JSON and the engine: records handed to a script as `this`,
//! and what the script left there read back.

use super::*;

/// A JSON value as a JavaScript value.
pub(super) fn to_js<'js>(ctx: &Ctx<'js>, v: &Value) -> rquickjs::Result<JsValue<'js>> {
    use rquickjs::IntoJs;
    Ok(match v {
        Value::Null => JsValue::new_null(ctx.clone()),
        Value::Bool(b) => JsValue::new_bool(ctx.clone(), *b),
        Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => JsValue::new_int(ctx.clone(), i),
            None => JsValue::new_float(ctx.clone(), n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => s.as_str().into_js(ctx)?,
        Value::Array(a) => {
            let arr = rquickjs::Array::new(ctx.clone())?;
            for (i, x) in a.iter().enumerate() {
                arr.set(i, to_js(ctx, x)?)?;
            }
            arr.into_value()
        }
        Value::Object(m) => object_to_js(ctx, m)?,
    })
}

pub(super) fn object_to_js<'js>(
    ctx: &Ctx<'js>,
    m: &Map<String, Value>,
) -> rquickjs::Result<JsValue<'js>> {
    let obj = rquickjs::Object::new(ctx.clone())?;
    for (k, x) in m {
        put(&obj, k, k.as_str(), to_js(ctx, x)?)?;
    }
    Ok(obj.into_value())
}

/// Gives `obj` the JSON field `name` (its key `key`) as an own, plain data
/// property, as `JSON.parse` does: a field named `__proto__` (or another name of
/// the frozen `Object.prototype`) is defined rather than assigned, so it stays a
/// field instead of replacing the prototype or failing on the frozen property
/// (any other name is assigned, which costs less).
pub(super) fn put<'js>(
    obj: &rquickjs::Object<'js>,
    name: &str,
    key: impl rquickjs::IntoAtom<'js>,
    value: JsValue<'js>,
) -> rquickjs::Result<()> {
    if PROTOTYPE_NAMES.contains(&name) {
        let field = rquickjs::object::Property::from(value)
            .writable()
            .enumerable()
            .configurable();
        obj.prop(key, field)
    } else {
        obj.set(key, value)
    }
}

/// The largest integer a JavaScript number holds exactly (2^53 - 1).
pub(super) const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A JavaScript value as JSON, as `JSON.stringify` would give it (functions and
/// `undefined` properties are left out, dates become ISO strings).
pub(super) fn from_js<'js>(v: JsValue<'js>, depth: usize) -> rquickjs::Result<Option<Value>> {
    use rquickjs::Type;
    if depth > 64 {
        return Ok(Some(Value::Null));
    }
    Ok(match v.type_of() {
        Type::Null => Some(Value::Null),
        Type::Undefined
        | Type::Uninitialized
        | Type::Function
        | Type::Constructor
        | Type::Symbol => None,
        Type::Bool => v.as_bool().map(Value::Bool),
        Type::Int => v.as_int().map(Value::from),
        Type::Float => Some(match v.as_float() {
            // A whole number is written as one, as JSON.stringify does (the
            // engine keeps numbers beyond 32 bits as floats).
            Some(f) if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER => Value::from(f as i64),
            f => f
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
        }),
        Type::String => Some(Value::String(
            v.as_string()
                .map(|s| s.to_string())
                .transpose()?
                .unwrap_or_default(),
        )),
        Type::Array => {
            let mut out = Vec::new();
            if let Some(arr) = v.as_array() {
                for x in arr.iter::<JsValue>() {
                    out.push(from_js(x?, depth + 1)?.unwrap_or(Value::Null));
                }
            }
            Some(Value::Array(out))
        }
        Type::Object | Type::Exception | Type::Promise | Type::Proxy => {
            let Some(obj) = v.as_object() else {
                return Ok(None);
            };
            // Dates and anything else with toJSON serialise as JSON.stringify would.
            if let Ok(to_json) = obj.get::<_, Function>("toJSON") {
                let r: JsValue = to_json.call((rquickjs::function::This(v.clone()),))?;
                return from_js(r, depth + 1);
            }
            let mut out = Map::new();
            for prop in obj.props::<rquickjs::String, JsValue>() {
                let (k, x) = prop?;
                if let Some(x) = from_js(x, depth + 1)? {
                    out.insert(k.to_string()?, x);
                }
            }
            Some(Value::Object(out))
        }
        _ => None,
    })
}

/// The record as the object a script sees as `this`, noting in `given` each
/// property's key and value as set, so that what the script left unchanged is
/// recognised without reading it back.
pub(super) fn record_to_js<'js>(
    ctx: &Ctx<'js>,
    record: &Map<String, Value>,
    given: &mut Vec<(rquickjs::Atom<'js>, JsValue<'js>)>,
) -> rquickjs::Result<JsValue<'js>> {
    let obj = rquickjs::Object::new(ctx.clone())?;
    given.reserve(record.len());
    for (k, x) in record {
        let key = rquickjs::Atom::from_str(ctx.clone(), k)?;
        let value = to_js(ctx, x)?;
        put(&obj, k, key.clone(), value.clone())?;
        given.push((key, value));
    }
    Ok(obj.into_value())
}

/// Applies to `record` what a script did to `this` when it kept the properties
/// it was given, in their order, and perhaps added some (the usual case): a
/// property whose value is the very one it was given is not read back (objects
/// and arrays always are: they can change inside); one now `undefined` or a
/// function goes; new properties go before `createdAt`, `updatedAt` and `__v`.
/// System fields stay as they were. `false`, with nothing read and the record
/// untouched, when the script deleted or reordered properties: only a whole
/// read-back puts that right. The keys are compared first, so no getter or
/// `toJSON` runs twice.
pub(super) fn changes_in_place<'js>(
    record: &mut Map<String, Value>,
    this: &rquickjs::Object<'js>,
    given: &[(rquickjs::Atom<'js>, JsValue<'js>)],
) -> rquickjs::Result<bool> {
    let keys = this
        .keys::<rquickjs::Atom>()
        .collect::<rquickjs::Result<Vec<_>>>()?;
    if keys.len() < given.len() || keys.iter().zip(given).any(|(k, (k0, _))| *k != *k0) {
        return Ok(false);
    }
    let mut gone = Vec::new();
    for ((name, slot), (key, v0)) in record.iter_mut().zip(given) {
        if is_system_field(name) {
            continue;
        }
        let v: JsValue = this.get(key.clone())?;
        if v == *v0 && !v.is_object() {
            continue;
        }
        match from_js(v, 1)? {
            Some(x) => *slot = x,
            None => gone.push(name.clone()),
        }
    }
    let mut added = Vec::new();
    for key in &keys[given.len()..] {
        let name = key_name(key)?;
        if !is_system_field(&name)
            && let Some(x) = from_js(this.get(key.clone())?, 1)?
        {
            added.push((name, x));
        }
    }
    for name in gone {
        record.shift_remove(&name);
    }
    // New properties go before the trailing system fields, as in a whole read-back.
    let tail = record
        .keys()
        .rev()
        .take_while(|k| matches!(k.as_str(), CREATED_AT | UPDATED_AT | VERSION))
        .count();
    for (name, x) in added {
        record.shift_insert(record.len() - tail, name, x);
    }
    Ok(true)
}

/// A property's name, whole: `Atom::to_string` (and reading keys as Rust
/// strings) stops at the first NUL, which a JSON key may hold.
fn key_name(key: &rquickjs::Atom<'_>) -> rquickjs::Result<String> {
    key.to_js_string()?.to_string()
}

/// The record a script left in `this`, read back whole in one pass: `_id` and
/// `userId` first and `createdAt`, `updatedAt`, `__v` last, all as in `original`
/// (a script cannot change them), the script's own fields between, in its order.
/// `given` is what [`record_to_js`] noted.
pub(super) fn scripted_record<'js>(
    original: &Map<String, Value>,
    this: &rquickjs::Object<'js>,
    given: &[(rquickjs::Atom<'js>, JsValue<'js>)],
) -> rquickjs::Result<Map<String, Value>> {
    let mut out = Map::with_capacity(original.len() + 4);
    for k in [ID, OWNER] {
        if let Some(v) = original.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    // A value the script left as it was given is kept as stored, as the
    // in-place read-back keeps it (a number the engine holds as a float, such
    // as 1.0 or a u64 beyond 2^53, is not rounded through it).
    let as_given: std::collections::HashMap<&str, (&JsValue<'js>, &Value)> = original
        .iter()
        .zip(given)
        .map(|((k, v), (_, js))| (k.as_str(), (js, v)))
        .collect();
    for prop in this.props::<rquickjs::String, JsValue>() {
        let (k, x) = prop?;
        let k = k.to_string()?;
        if is_system_field(&k) {
            continue;
        }
        let kept = as_given
            .get(k.as_str())
            .filter(|(js, _)| **js == x && !x.is_object())
            .map(|(_, v)| (*v).clone());
        if let Some(x) = kept.map_or_else(|| from_js(x, 1), |v| Ok(Some(v)))? {
            out.insert(k, x);
        }
    }
    for k in [CREATED_AT, UPDATED_AT, VERSION] {
        if let Some(v) = original.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    Ok(out)
}
