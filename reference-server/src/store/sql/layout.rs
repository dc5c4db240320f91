//! Where each field lives: the system columns, property columns, the document.

use super::*;

/// The JSON type a collection's schema fixes for a top-level field: every stored
/// value of it is of this type or `null`, or the field is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Strings.
    Text,
    /// Numbers, integer or not.
    Number,
    /// `true` and `false`.
    Bool,
}

impl FieldType {
    /// The type of a literal (`None` for `null`).
    pub(super) fn of(lit: &Scalar) -> Option<Self> {
        match lit {
            Scalar::Null => None,
            Scalar::Bool(_) => Some(Self::Bool),
            Scalar::Number(_) => Some(Self::Number),
            Scalar::String(_) => Some(Self::Text),
        }
    }

    /// Whether a stored value may be kept in a field of this type.
    pub fn admits(self, v: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        matches!(
            (self, v),
            (_, J::Null)
                | (Self::Text, J::String(_))
                | (Self::Number, J::Number(_))
                | (Self::Bool, J::Bool(_))
        )
    }

    /// The `json_type` names of the values it admits, as an SQL list.
    pub fn json_types(self) -> &'static str {
        match self {
            Self::Text => "('text','null')",
            Self::Number => "('integer','real','null')",
            Self::Bool => "('true','false','null')",
        }
    }
}

/// What the compiler knows of one collection: the fields its schema types, the
/// columns that hold some of them, and the indexes it declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Top-level fields with a fixed JSON type.
    pub types: std::collections::HashMap<String, FieldType>,
    /// Typed fields kept in a property column beside the document (by its
    /// number: `p0`..), so filters and sorts on them read no document. Each such
    /// column holds what `json_extract` reads from the document, on every row
    /// of the collection; the store keeps it so on every write.
    pub columns: std::collections::BTreeMap<String, usize>,
    /// Declared indexes, each a list of fields.
    pub indexes: Vec<Vec<Path>>,
}

/// How many property columns the records table has.
pub const PROPERTY_COLUMNS: usize = 8;

impl Layout {
    /// The property column that holds a typed field, if one does.
    pub fn column(&self, field: &str) -> Option<String> {
        self.columns.get(field).map(|i| format!("p{i}"))
    }

    /// Gives typed fields property columns: those `previous` gave one keep it
    /// (if still typed), then fields of declared indexes, then the others by
    /// name, while columns are free.
    pub fn assign_columns(&mut self, previous: Option<&Layout>) {
        self.columns.clear();
        if let Some(prev) = previous {
            for (f, i) in &prev.columns {
                if self.types.contains_key(f) && *i < PROPERTY_COLUMNS {
                    self.columns.insert(f.clone(), *i);
                }
            }
        }
        let mut indexed: Vec<&String> = Vec::new();
        for ix in &self.indexes {
            for p in ix {
                if let [name] = p.segments()
                    && let Some((name, _)) = self.types.get_key_value(name.as_str())
                    && !indexed.contains(&name)
                {
                    indexed.push(name);
                }
            }
        }
        let mut rest: Vec<&String> = self.types.keys().filter(|f| !indexed.contains(f)).collect();
        rest.sort();
        let wanted: Vec<String> = indexed.into_iter().chain(rest).cloned().collect();
        for f in wanted {
            if self.columns.contains_key(&f) {
                continue;
            }
            let Some(free) = (0..PROPERTY_COLUMNS).find(|i| !self.columns.values().any(|u| u == i))
            else {
                break;
            };
            self.columns.insert(f, free);
        }
    }
}

/// The system fields and the typed columns that hold them.
pub const SYSTEM_COLUMNS: [(&str, &str, FieldType); 5] = [
    (ID, "id", FieldType::Text),
    (OWNER, "owner", FieldType::Text),
    (CREATED_AT, "created", FieldType::Text),
    (UPDATED_AT, "updated", FieldType::Text),
    (VERSION, "v", FieldType::Number),
];

/// The indexes every collection has, as lists of fields (each ends with `_id`
/// implicitly): the primary key, the latest or oldest by time, and "my records"
/// by id and by time.
pub(super) const SYSTEM_INDEXES: [&[&str]; 5] = [
    &[],
    &[CREATED_AT],
    &[UPDATED_AT],
    &[OWNER],
    &[OWNER, CREATED_AT],
];

/// The primary key's place in [`SYSTEM_INDEX_NAMES`] (no index of its own).
pub(super) const PRIMARY_KEY: &str = "records";

/// The names of [`SYSTEM_INDEXES`] in the store's schema.
pub(super) const SYSTEM_INDEX_NAMES: [&str; 5] = [
    PRIMARY_KEY,
    "records_created",
    "records_updated",
    "records_owner",
    "records_owner_created",
];

/// The name of a collection's declared index on `fields`: stable for the same
/// collection and fields, whatever else the configuration changes.
pub fn declared_index_name(coll: &str, fields: &[Path]) -> String {
    use sha2::Digest;
    let key = fields
        .iter()
        .map(Path::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let digest = sha2::Sha256::digest(format!("{coll}\n{key}").as_bytes());
    format!("rk_ix_{coll}_{}", crate::clock::hex(&digest[..8]))
}

/// How a field is read.
pub(super) enum Access {
    /// A value of one type (or NULL): a system column, or a typed field of the
    /// document (`true` when it is a column, which holds no JSON `null`).
    Plain(String, FieldType, bool),
    /// Any JSON value, read from the document.
    Json,
}

pub(super) fn access(p: &Path, layout: &Layout) -> Access {
    let [name] = p.segments() else {
        return Access::Json;
    };
    if let Some((_, col, t)) = SYSTEM_COLUMNS.iter().find(|(f, ..)| f == name) {
        return Access::Plain((*col).to_owned(), *t, true);
    }
    match layout.types.get(name) {
        Some(t) => Access::Plain(layout.column(name).unwrap_or_else(|| extract(p)), *t, false),
        None => Access::Json,
    }
}

/// The expression a declared index holds for a field: its column for a system
/// field or a field with a property column, else the value read from the
/// document (the expression queries use).
pub fn index_column(p: &Path, layout: &Layout) -> String {
    match p.segments() {
        [name] => match SYSTEM_COLUMNS.iter().find(|(f, ..)| f == name) {
            Some((_, col, _)) => (*col).to_owned(),
            None => layout.column(name).unwrap_or_else(|| extract(p)),
        },
        _ => extract(p),
    }
}

pub(super) fn extract(p: &Path) -> String {
    format!("json_extract(doc,'{}')", p.json_path())
}

pub(super) fn jtype(p: &Path) -> String {
    format!("json_type(doc,'{}')", p.json_path())
}

/// The sort class of a field's JSON type, as `sdk_core::query::sort_rank`.
pub fn rank(p: &Path) -> String {
    format!(
        "(CASE {} WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 \
         WHEN 'object' THEN 3 WHEN 'array' THEN 3 WHEN 'true' THEN 4 WHEN 'false' THEN 4 ELSE 0 END)",
        jtype(p)
    )
}
