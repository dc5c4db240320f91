//! SmartNgRX notifications: which rows a write tells a notification subscriber about.

use super::WriteAction;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a SmartNgRX notification asks the client to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyAction {
    /// The rows changed (or, for the parent of a created row, gained a child).
    Update,
    /// The rows were deleted.
    Delete,
}

/// A SmartNgRX notification: `{action: "update" | "delete", table, ids}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Update or delete.
    pub action: NotifyAction,
    /// The server's table (collection) name.
    pub table: String,
    /// The rows' ids.
    pub ids: Vec<String>,
}

/// The parent of a collection's rows, for SmartNgRX: a create is announced as an
/// update of the parent row (`collection`, id in the new row's `field`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Parent {
    /// The parent collection.
    pub collection: String,
    /// The field of a child row that holds its parent's id.
    pub field: String,
}

/// The SmartNgRX notifications for one write of `records` to `collection`: an
/// update or delete names the rows; a create names the parent rows where the
/// collection has a `parent`, else the new rows. Rows of one write share one message
/// per table.
pub fn notifications(
    action: WriteAction,
    collection: &str,
    parent: Option<&Parent>,
    records: &[&Value],
) -> Vec<Notification> {
    let id_of = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let mut out: Vec<Notification> = Vec::new();
    let mut push = |action: NotifyAction, table: &str, id: String| match out
        .iter_mut()
        .find(|n| n.table == table && n.action == action)
    {
        Some(n) => {
            if !n.ids.contains(&id) {
                n.ids.push(id);
            }
        }
        None => out.push(Notification {
            action,
            table: table.to_owned(),
            ids: vec![id],
        }),
    };
    for r in records {
        let own = r.get("_id").and_then(id_of);
        match action {
            WriteAction::Delete => {
                if let Some(id) = own {
                    push(NotifyAction::Delete, collection, id);
                }
            }
            WriteAction::Update | WriteAction::Patch => {
                if let Some(id) = own {
                    push(NotifyAction::Update, collection, id);
                }
            }
            WriteAction::Create => {
                let parent_id = parent.and_then(|p| {
                    crate::query::Path::parse(&p.field)
                        .ok()
                        .and_then(|path| crate::query::get_path(r, &path).and_then(id_of))
                        .map(|id| (p.collection.as_str(), id))
                });
                match (parent_id, own) {
                    (Some((table, id)), _) => push(NotifyAction::Update, table, id),
                    (None, Some(id)) => push(NotifyAction::Update, collection, id),
                    (None, None) => {}
                }
            }
        }
    }
    out
}
