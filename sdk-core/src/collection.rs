//! Per-collection configuration: schema, operation switches, id generator,
//! upserts and indexes. The admin sets it with `PUT /collections/<name>`.
//!
//! ```json
//! { "properties": { "title": { "type": "String", "required": true },
//!                   "likes": { "type": "Number" } },
//!   "operations": { "*": true, "remove": false },
//!   "idGenerator": "uuidv7",
//!   "upsert": true,
//!   "indexes": [["likes"], ["category", "likes"]] }
//! ```

use crate::error::{ErrorBody, ErrorCode};
use crate::query::Path;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The operations of the collection tree (Carbond's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /<c>` with an array: insert several objects.
    Insert,
    /// `POST /<c>` with one object (and an upsert that creates): its own switch,
    /// else `insert`'s.
    InsertObject,
    /// `GET /<c>`: find.
    Find,
    /// `PUT /<c>`: replace the whole collection (off unless enabled).
    Save,
    /// `PATCH /<c>`: update every matching record with an update spec.
    Update,
    /// `DELETE /<c>`: remove every matching record.
    Remove,
    /// `GET /<c>/<id>`.
    FindObject,
    /// `PUT /<c>/<id>`: replace (or upsert).
    SaveObject,
    /// `PATCH /<c>/<id>`: merge (or upsert).
    UpdateObject,
    /// `DELETE /<c>/<id>`.
    RemoveObject,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 10] = [
        Self::Insert,
        Self::InsertObject,
        Self::Find,
        Self::Save,
        Self::Update,
        Self::Remove,
        Self::FindObject,
        Self::SaveObject,
        Self::UpdateObject,
        Self::RemoveObject,
    ];

    /// The name used in `operations`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::InsertObject => "insertObject",
            Self::Find => "find",
            Self::Save => "save",
            Self::Update => "update",
            Self::Remove => "remove",
            Self::FindObject => "findObject",
            Self::SaveObject => "saveObject",
            Self::UpdateObject => "updateObject",
            Self::RemoveObject => "removeObject",
        }
    }
}

/// How new records get their `_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum IdGenerator {
    /// 24 lowercase hex digits, unique and ordered by creation time (the default).
    #[default]
    ObjectId,
    /// A UUID version 7 (time-ordered), in its 36-character text form.
    Uuidv7,
}

/// A collection's configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectionConfig {
    /// A JSON Schema every record's own fields must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Deployd-style property types, turned into a JSON Schema (used when `schema` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, PropertySpec>>,
    /// Operation switches: names of [`Operation`] or `"*"` to booleans
    /// (Carbond's `enabled` is read as this).
    #[serde(default, alias = "enabled", skip_serializing_if = "BTreeMap::is_empty")]
    pub operations: BTreeMap<String, bool>,
    /// How new records get their `_id`.
    #[serde(default)]
    pub id_generator: IdGenerator,
    /// Whether `PUT` and `PATCH` on an id that does not exist create the record with that id.
    #[serde(default)]
    pub upsert: bool,
    /// Carbond's `returnsRemovedObjects`: a `remove` (`DELETE /<collection>?<filter>`)
    /// answers the records it removed, as they were, as `val` instead of their number.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub returns_removed_objects: bool,
    /// Carbond's `returnsUpsertedObjects`: an `update` that upserts answers the
    /// records it created as `val` instead of their number.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub returns_upserted_objects: bool,
    /// Indexes: each a list of field paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Vec<String>>,
    /// Who may read, create, update and delete.
    #[serde(default)]
    pub rules: Rules,
    /// Event scripts (JavaScript, as Deployd's), run by the server.
    #[serde(default, skip_serializing_if = "Events::is_empty")]
    pub events: Events,
    /// For SmartNgRX notifications: the parent row a new record is announced on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<crate::ws::Parent>,
}

/// A collection's event scripts: `this` is the record, `me` the signed-in user,
/// with `cancel(message, [status])`, `error(field, message)`, `hide(property)`,
/// `protect(property)`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// On GET: each record read (lists, by id, broadcasts); `hide` and `cancel` apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get: Option<String>,
    /// On Validate: before a create or update is written; changes are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate: Option<String>,
    /// On POST: a create; changes are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<String>,
    /// On PUT: an update; changes are kept, `protect` keeps a property as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub put: Option<String>,
    /// On DELETE: before a delete; `cancel` refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<String>,
}

/// The longest event script, in bytes.
pub const MAX_SCRIPT: usize = 64 * 1024;

impl Events {
    /// Whether there is no script at all.
    pub fn is_empty(&self) -> bool {
        self.get.is_none()
            && self.validate.is_none()
            && self.post.is_none()
            && self.put.is_none()
            && self.delete.is_none()
    }
}

/// Who may do an operation on a collection's records.
///
/// The admin key passes every rule. Reads are filtered by the rule (so pages and
/// counts only ever hold readable records); creates, updates and deletes need the
/// record to satisfy it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum Rule {
    /// One of the named rules.
    Named(NamedRule),
    /// A row-level rule in the `where` language, `@me` standing for the caller:
    /// `{"where": "userId = @me OR public = true"}`.
    Where {
        /// The expression.
        #[serde(rename = "where")]
        expr: String,
    },
}

/// The named rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum NamedRule {
    /// Anyone with the API key.
    Public,
    /// A signed-in user.
    SignedIn,
    /// The record's owner (`userId`); creating needs a signed-in user.
    Owner,
    /// The admin key only.
    Admin,
    /// Nobody (but the admin key).
    None,
}

/// The rule of each kind of operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// `find`, `findObject`, counts, relations and realtime broadcasts.
    #[serde(default = "public")]
    pub read: Rule,
    /// `insert`.
    #[serde(default = "signed_in")]
    pub create: Rule,
    /// `update`, `updateObject`, `saveObject`.
    #[serde(default = "owner")]
    pub update: Rule,
    /// `remove`, `removeObject`.
    #[serde(default = "owner")]
    pub delete: Rule,
}

fn public() -> Rule {
    Rule::Named(NamedRule::Public)
}
fn signed_in() -> Rule {
    Rule::Named(NamedRule::SignedIn)
}
fn owner() -> Rule {
    Rule::Named(NamedRule::Owner)
}

impl Default for Rules {
    /// The Backpack rule: public read, signed-in create, owner-only update and delete.
    fn default() -> Self {
        Self {
            read: public(),
            create: signed_in(),
            update: owner(),
            delete: owner(),
        }
    }
}

/// What a rule grants one caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Every record.
    All,
    /// The records matching this filter.
    Only(crate::query::Filter),
    /// Nothing: the caller must sign in first (401).
    SignIn,
    /// Nothing, signed in or not (403).
    Refused,
}

impl Rule {
    /// What the rule grants a caller (`me`: the signed-in user; `admin`: the admin key).
    /// A `where` rule is parsed by [`CollectionConfig::check`] first, so it parses here.
    pub fn access(&self, me: Option<&str>, admin: bool) -> Access {
        if admin {
            return Access::All;
        }
        match self {
            Rule::Named(NamedRule::Public) => Access::All,
            Rule::Named(NamedRule::SignedIn) if me.is_some() => Access::All,
            Rule::Named(NamedRule::Owner) => match me {
                Some(id) => Access::Only(crate::query::Filter::eq(crate::record::OWNER, id)),
                None => Access::SignIn,
            },
            Rule::Named(NamedRule::SignedIn) => Access::SignIn,
            Rule::Named(NamedRule::Admin | NamedRule::None) => Access::Refused,
            Rule::Where { expr } => match crate::query::parse_where_as(expr, me) {
                Ok(f) => Access::Only(f),
                Err(_) => Access::Refused,
            },
        }
    }

    /// The create rule's grant: `owner` only needs a signed-in user there (the
    /// server makes the caller the owner).
    pub fn create_access(&self, me: Option<&str>, admin: bool) -> Access {
        match (self, me) {
            (Rule::Named(NamedRule::Owner), Some(_)) if !admin => Access::All,
            _ => self.access(me, admin),
        }
    }
}

/// A Deployd property: its type and whether it is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PropertySpec {
    /// `String`, `Number`, `Boolean`, `Date`, `Object` or `Array`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether a record must have it.
    #[serde(default)]
    pub required: bool,
}

/// The most indexes one collection may declare.
pub const MAX_INDEXES: usize = 16;

fn invalid(field: &str, problem: impl Into<String>) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::ValidationFailed,
        "the collection configuration is not valid",
    )
    .with_field(field, problem)
}

impl CollectionConfig {
    /// Whether an operation is switched on: its own switch (for `insertObject`,
    /// else `insert`'s), else `"*"`, else the default (everything but `save`).
    pub fn enabled(&self, op: Operation) -> bool {
        self.operations
            .get(op.name())
            .or_else(|| match op {
                Operation::InsertObject => self.operations.get(Operation::Insert.name()),
                _ => None,
            })
            .or_else(|| self.operations.get("*"))
            .copied()
            .unwrap_or(op != Operation::Save)
    }

    /// The JSON Schema records are validated against, if any.
    pub fn effective_schema(&self) -> Option<Value> {
        if let Some(s) = &self.schema {
            return Some(s.clone());
        }
        let props = self.properties.as_ref()?;
        let mut properties = Map::new();
        let mut required = Vec::new();
        for (name, p) in props {
            let t = match p.kind.as_str() {
                "String" => json!({"type": "string"}),
                "Number" => json!({"type": "number"}),
                "Boolean" => json!({"type": "boolean"}),
                "Date" => json!({"type": "string", "format": "date-time"}),
                "Object" => json!({"type": "object"}),
                _ => json!({"type": "array"}),
            };
            properties.insert(name.clone(), t);
            if p.required {
                required.push(Value::String(name.clone()));
            }
        }
        Some(json!({"type": "object", "properties": properties, "required": required}))
    }

    /// The declared indexes as paths.
    pub fn index_paths(&self) -> Vec<Vec<Path>> {
        self.indexes
            .iter()
            .map(|ix| ix.iter().filter_map(|f| Path::parse(f).ok()).collect())
            .collect()
    }

    /// Checks names, types and bounds (the schema itself is compiled by the server).
    pub fn check(&self) -> Result<(), ErrorBody> {
        for k in self.operations.keys() {
            if k != "*" && !Operation::ALL.iter().any(|o| o.name() == k) {
                return Err(invalid(
                    "operations",
                    format!(
                        "unknown operation '{k}'; use *, {}",
                        Operation::ALL.map(Operation::name).join(", ")
                    ),
                ));
            }
        }
        if let Some(props) = &self.properties {
            for (name, p) in props {
                Path::parse(name).map_err(|m| invalid("properties", m))?;
                if !["String", "Number", "Boolean", "Date", "Object", "Array"]
                    .contains(&p.kind.as_str())
                {
                    return Err(invalid(
                        &format!("properties.{name}"),
                        "type must be String, Number, Boolean, Date, Object or Array",
                    ));
                }
            }
        }
        for (name, rule) in [
            ("read", &self.rules.read),
            ("create", &self.rules.create),
            ("update", &self.rules.update),
            ("delete", &self.rules.delete),
        ] {
            if let Rule::Where { expr } = rule {
                crate::query::parse_where_as(expr, Some("x"))
                    .map_err(|e| invalid(&format!("rules.{name}"), e.to_string()))?;
            }
        }
        for (name, src) in [
            ("get", &self.events.get),
            ("validate", &self.events.validate),
            ("post", &self.events.post),
            ("put", &self.events.put),
            ("delete", &self.events.delete),
        ] {
            if src.as_ref().is_some_and(|s| s.len() > MAX_SCRIPT) {
                return Err(invalid(
                    &format!("events.{name}"),
                    format!("a script is at most {MAX_SCRIPT} bytes"),
                ));
            }
        }
        if self.schema.as_ref().is_some_and(|s| !s.is_object()) {
            return Err(invalid("schema", "a JSON Schema is an object"));
        }
        if self.indexes.len() > MAX_INDEXES {
            return Err(invalid("indexes", format!("at most {MAX_INDEXES} indexes")));
        }
        for ix in &self.indexes {
            if ix.is_empty() || ix.len() > 4 {
                return Err(invalid("indexes", "an index names 1 to 4 fields"));
            }
            for f in ix {
                Path::parse(f).map_err(|m| invalid("indexes", m))?;
            }
        }
        if let Some(p) = &self.parent {
            crate::names::check_collection_name(&p.collection)
                .map_err(|e| invalid("parent.collection", e.message))?;
            Path::parse(&p.field).map_err(|m| invalid("parent.field", m))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_resolve_own_then_star_then_default() {
        let c: CollectionConfig =
            serde_json::from_value(json!({"operations": {"*": false, "find": true}}))
                .expect("config");
        assert!(c.enabled(Operation::Find));
        assert!(!c.enabled(Operation::Insert));
        // Carbond's spelling; insertObject follows insert unless named.
        let c: CollectionConfig =
            serde_json::from_value(json!({"enabled": {"insert": false}})).expect("config");
        assert!(!c.enabled(Operation::Insert) && !c.enabled(Operation::InsertObject));
        let c: CollectionConfig =
            serde_json::from_value(json!({"enabled": {"insert": false, "insertObject": true}}))
                .expect("config");
        assert!(!c.enabled(Operation::Insert) && c.enabled(Operation::InsertObject));
        assert!(c.check().is_ok());
        let d = CollectionConfig::default();
        assert!(d.enabled(Operation::Insert) && !d.enabled(Operation::Save));
    }

    #[test]
    fn rules_grant_by_caller() {
        let c: CollectionConfig = serde_json::from_value(json!({"rules": {
            "read": {"where": "userId = @me OR public = true"}, "delete": "admin"}}))
        .expect("config");
        assert_eq!(c.rules.create, Rule::Named(NamedRule::SignedIn));
        assert_eq!(c.rules.delete.access(Some("u1"), false), Access::Refused);
        assert_eq!(c.rules.delete.access(None, true), Access::All);
        let Access::Only(f) = c.rules.read.access(None, false) else {
            panic!("a filter")
        };
        assert!(f.matches(&json!({"userId": "u1", "public": true})));
        assert!(!f.matches(&json!({"public": false})));
        let Access::Only(f) = c.rules.read.access(Some("u1"), false) else {
            panic!("a filter")
        };
        assert!(f.matches(&json!({"userId": "u1", "public": false})));
        assert_eq!(Rules::default().update.access(None, false), Access::SignIn);
        let bad: CollectionConfig =
            serde_json::from_value(json!({"rules": {"read": {"where": "userId = @you"}}}))
                .expect("parses");
        assert!(bad.check().is_err());
        assert!(
            serde_json::from_value::<CollectionConfig>(json!({"rules": {"read": "everyone"}}))
                .is_err()
        );
    }

    #[test]
    fn deployd_types_become_a_json_schema() {
        let c: CollectionConfig = serde_json::from_value(json!({"properties": {
            "title": {"type": "String", "required": true}, "at": {"type": "Date"}}}))
        .expect("config");
        assert_eq!(
            c.effective_schema(),
            Some(json!({"type": "object", "properties": {
                "at": {"type": "string", "format": "date-time"}, "title": {"type": "string"}},
                "required": ["title"]}))
        );
        let bad: CollectionConfig =
            serde_json::from_value(json!({"properties": {"x": {"type": "Strng"}}}))
                .expect("parses");
        assert!(bad.check().is_err());
        assert!(serde_json::from_value::<CollectionConfig>(json!({"operatons": {}})).is_err());
    }
}
