//! `subscribe`: the writes to a collection whose record matches a query, sans IO.
//!
//! Both SDKs keep one [`Subscriptions`] and hand it every write broadcast they
//! receive; it says which subscriptions the write concerns. A subscription sees
//! each write whose record matches its filter, and also the write after which a
//! record that matched no longer does (an update that moves it out, or its
//! delete), so an app showing the matching records can drop it.

use crate::query::{Filter, QueryError, parse_mongo_value, parse_where};
use crate::ws::{WriteAction, WriteEvent};
use serde_json::Value;
use std::collections::HashSet;

/// The filter a `subscribe` query stands for: a `where` string, a Mongo-style
/// object (its filter; options such as `$orderby` mean nothing here), or
/// nothing (`null`: every record).
pub fn subscription_filter(query: &Value) -> Result<Option<Filter>, QueryError> {
    match query {
        Value::Null => Ok(None),
        Value::String(w) => parse_where(w).map(Some),
        other => Ok(parse_mongo_value(other.clone())?.filter),
    }
}

/// The subscriptions of one client. `T` is what the SDK notifies: a JavaScript
/// function, a channel.
#[derive(Debug)]
pub struct Subscriptions<T> {
    subs: Vec<Sub<T>>,
    next: u64,
}

#[derive(Debug)]
struct Sub<T> {
    id: u64,
    collection: String,
    filter: Option<Filter>,
    /// The ids of the records that matched, so the write after which one stops
    /// matching is reported too.
    ids: HashSet<String>,
    target: T,
}

impl<T> Default for Subscriptions<T> {
    fn default() -> Self {
        Self {
            subs: Vec::new(),
            next: 1,
        }
    }
}

impl<T> Subscriptions<T> {
    /// No subscriptions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a subscription to the writes to `collection` whose record matches
    /// `filter` (every record for `None`); returns its id for [`Self::remove`].
    pub fn add(&mut self, collection: impl Into<String>, filter: Option<Filter>, target: T) -> u64 {
        let id = self.next;
        self.next += 1;
        self.subs.push(Sub {
            id,
            collection: collection.into(),
            filter,
            ids: HashSet::new(),
            target,
        });
        id
    }

    /// Ends a subscription; returns its target, or `None` when it had ended.
    pub fn remove(&mut self, id: u64) -> Option<T> {
        let at = self.subs.iter().position(|s| s.id == id)?;
        Some(self.subs.remove(at).target)
    }

    /// Keeps the subscriptions whose target `keep` accepts and ends the rest
    /// (those whose listener has gone).
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.subs.retain(|s| keep(&s.target));
    }

    /// How many subscriptions there are.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// The subscriptions a write concerns, as (id, target), in the order they
    /// were made; notes which records now match.
    pub fn on_write(&mut self, ev: &WriteEvent) -> Vec<(u64, &T)> {
        let id = ev
            .response
            .get("_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let deleted = ev.action == WriteAction::Delete;
        let mut out = Vec::new();
        for sub in self
            .subs
            .iter_mut()
            .filter(|s| s.collection == ev.collection)
        {
            let matches = sub.filter.as_ref().is_none_or(|f| f.matches(&ev.response));
            let was = if matches && !deleted {
                !sub.ids.insert(id.to_owned())
            } else {
                sub.ids.remove(id)
            };
            if matches || was {
                out.push((sub.id, &sub.target));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(action: WriteAction, collection: &str, record: Value) -> WriteEvent {
        WriteEvent {
            action,
            collection: collection.into(),
            http_request: false,
            response: record,
        }
    }

    fn hits(subs: &mut Subscriptions<&'static str>, ev: &WriteEvent) -> Vec<&'static str> {
        subs.on_write(ev).into_iter().map(|(_, t)| *t).collect()
    }

    #[test]
    fn a_subscription_sees_matching_writes_and_the_one_that_moves_a_record_out() {
        let mut subs = Subscriptions::new();
        let adults = subscription_filter(&json!("age >= 18")).expect("a where string");
        subs.add("people", adults, "adults");
        let all = subscription_filter(&Value::Null).expect("no query");
        subs.add("people", all, "everyone");
        let mongo = subscription_filter(&json!({"age": {"$lt": 18}, "$orderby": {"age": 1}}))
            .expect("a query object");
        subs.add("people", mongo, "minors");

        let ann = |age: i64| json!({"_id": "a", "age": age});
        use WriteAction::*;
        assert_eq!(
            hits(&mut subs, &write(Create, "people", ann(20))),
            ["adults", "everyone"]
        );
        assert_eq!(
            hits(&mut subs, &write(Create, "pets", ann(20))),
            Vec::<&str>::new()
        );
        // Ann turns out to be 12: the adults' subscription hears she left.
        assert_eq!(
            hits(&mut subs, &write(Update, "people", ann(12))),
            ["adults", "everyone", "minors"]
        );
        // A record that never matched is not the adults' concern.
        assert_eq!(
            hits(&mut subs, &write(Patch, "people", ann(13))),
            ["everyone", "minors"]
        );
        assert_eq!(
            hits(&mut subs, &write(Delete, "people", ann(13))),
            ["everyone", "minors"]
        );
        // After the delete, nothing is remembered: a create that does not match is silent.
        assert_eq!(
            hits(&mut subs, &write(Create, "people", ann(30))),
            ["adults", "everyone"]
        );
        assert_eq!(
            hits(&mut subs, &write(Delete, "people", ann(30))),
            ["adults", "everyone"]
        );
    }

    #[test]
    fn removed_subscriptions_hear_nothing_and_bad_queries_are_errors() {
        let mut subs = Subscriptions::new();
        let a = subs.add("c", None, "a");
        let b = subs.add("c", None, "b");
        assert_eq!(subs.remove(a), Some("a"));
        assert_eq!(subs.remove(a), None);
        assert_eq!(
            hits(
                &mut subs,
                &write(WriteAction::Create, "c", json!({"_id": "x"}))
            ),
            ["b"]
        );
        subs.retain(|t| *t != "b");
        assert!(subs.is_empty() && subs.remove(b).is_none());
        assert!(subscription_filter(&json!("age >>> 3")).is_err());
        assert!(subscription_filter(&json!({"age": {"$nope": 1}})).is_err());
        assert!(subscription_filter(&json!(3)).is_err());
    }
}
