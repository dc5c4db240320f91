//! `subscribe`: the writes to a collection whose record matches a query, sans IO.
//!
//! The server holds each connection's subscriptions ([`WriteFilters`]) and tags
//! every write frame it sends with the ids of the subscriptions it concerns
//! (`"subs": [1, 3]`), after the collection's read rule and On GET script have
//! decided what the connection sees. So a browser never needs the query parser,
//! and a subscription can never show more than the reader may read. A
//! subscription sees each write whose record matches its filter, and also the
//! write after which a record that matched no longer does (an update that moves
//! it out, or its delete), so an app showing the matching records can drop it.
//!
//! Both SDKs keep one [`Subscriptions`]: which callback or channel each id
//! stands for.

use crate::query::{Filter, QueryError, parse_mongo_value, parse_where_as};
use serde_json::Value;
use std::collections::HashSet;

/// How many write subscriptions one connection may hold.
pub const MAX_WRITE_SUBSCRIPTIONS: usize = 64;

/// How many regular expressions one connection's subscriptions may hold in
/// all (each is compiled, up to 1 MiB, and kept while the subscription lives).
pub const MAX_SUBSCRIPTION_REGEXES: usize = 8;

/// How many matching record ids one connection's subscriptions remember in
/// all, to report the write after which one stops matching (a bound on the
/// memory a connection can make the server hold: about 200 KB). A subscription
/// that finds no room reports every update and delete of its collection that
/// does not match (it can no longer tell which records it showed): more than
/// needed, never less.
pub const MAX_TRACKED_IDS: usize = 4_096;

/// The filter a `subscribe` query stands for: a `where` string (`@me` standing
/// for `me`), a Mongo-style object (its filter; options such as `$orderby`
/// mean nothing here), or nothing (`null`: every record).
pub fn subscription_filter(query: &Value, me: Option<&str>) -> Result<Option<Filter>, QueryError> {
    match query {
        Value::Null => Ok(None),
        Value::String(w) => parse_where_as(w, me).map(Some),
        other => Ok(parse_mongo_value(other.clone())?.filter),
    }
}

/// One connection's write subscriptions, as the server keeps them.
#[derive(Debug, Default)]
pub struct WriteFilters {
    subs: Vec<Filtered>,
    /// How many ids the subscriptions remember in all.
    tracked: usize,
}

#[derive(Debug)]
struct Filtered {
    id: u64,
    collection: String,
    /// The query as asked, to know the same subscription asked again.
    query: Value,
    filter: Option<Filter>,
    /// The ids of the records that matched, so the write after which one stops
    /// matching is reported too.
    ids: HashSet<String>,
    /// More records matched than [`MAX_TRACKED_IDS`]: report every write that
    /// may move one out.
    overflowed: bool,
}

impl WriteFilters {
    /// No subscriptions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds subscription `id` to the writes to `collection` whose record
    /// matches `filter` (every record for `None`), parsed from `query`; a
    /// subscription with the same id is replaced (see [`WriteFilters::has`]
    /// for the same one asked again).
    pub fn add(
        &mut self,
        id: u64,
        collection: impl Into<String>,
        query: Value,
        filter: Option<Filter>,
    ) {
        self.remove(id);
        self.subs.push(Filtered {
            id,
            collection: collection.into(),
            query,
            filter,
            ids: HashSet::new(),
            overflowed: false,
        });
    }

    /// Whether subscription `id` is in place for exactly this collection and
    /// query (a client restoring it after a reconnect): it is kept as it is,
    /// with the records it remembers.
    pub fn has(&self, id: u64, collection: &str, query: &Value) -> bool {
        self.subs
            .iter()
            .any(|s| s.id == id && s.collection == collection && s.query == *query)
    }

    /// Ends a subscription; whether it existed.
    pub fn remove(&mut self, id: u64) -> bool {
        let Some(at) = self.subs.iter().position(|s| s.id == id) else {
            return false;
        };
        self.tracked -= self.subs.remove(at).ids.len();
        true
    }

    /// Whether subscription `id` exists.
    pub fn contains(&self, id: u64) -> bool {
        self.subs.iter().any(|s| s.id == id)
    }

    /// How many subscriptions there are.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// How many regular expressions the subscriptions other than `id` hold.
    pub fn regexes_besides(&self, id: u64) -> usize {
        self.subs
            .iter()
            .filter(|s| s.id != id)
            .filter_map(|s| s.filter.as_ref())
            .map(Filter::regexes)
            .sum()
    }

    /// Whether any subscription is to `collection`.
    pub fn watches(&self, collection: &str) -> bool {
        self.subs.iter().any(|s| s.collection == collection)
    }

    /// Whether a write of `record` to `collection` concerns subscription `id`
    /// (as [`WriteFilters::on_write`] would say of it), noting whether the
    /// record now matches.
    pub fn on_write_one(
        &mut self,
        id: u64,
        collection: &str,
        record: &Value,
        deleted: bool,
    ) -> bool {
        let key = record_id(record);
        let tracked = &mut self.tracked;
        self.subs
            .iter_mut()
            .find(|s| s.id == id && s.collection == collection)
            .is_some_and(|sub| sub.concerns(tracked, key, record, deleted))
    }

    /// The ids of the subscriptions a write of `record` to `collection`
    /// concerns, in the order they were made; notes which records now match.
    pub fn on_write(&mut self, collection: &str, record: &Value, deleted: bool) -> Vec<u64> {
        let key = record_id(record);
        let tracked = &mut self.tracked;
        self.subs
            .iter_mut()
            .filter(|s| s.collection == collection)
            .filter_map(|sub| {
                sub.concerns(tracked, key, record, deleted)
                    .then_some(sub.id)
            })
            .collect()
    }
}

/// A record's `_id` ("" when it has none).
fn record_id(record: &Value) -> &str {
    record
        .get("_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl Filtered {
    /// Whether a write of `record` (its id `key`) concerns this subscription:
    /// it matches, or it matched before. Notes whether it matches now, within
    /// the connection's budget `tracked`.
    fn concerns(&mut self, tracked: &mut usize, key: &str, record: &Value, deleted: bool) -> bool {
        let matches = self.filter.as_ref().is_none_or(|f| f.matches(record));
        let was = if matches && !deleted {
            if self.ids.contains(key) {
                true
            } else if *tracked < MAX_TRACKED_IDS {
                self.ids.insert(key.to_owned());
                *tracked += 1;
                false
            } else {
                self.overflowed = true;
                false
            }
        } else if self.ids.remove(key) {
            *tracked -= 1;
            true
        } else {
            self.overflowed
        };
        matches || was
    }
}

/// The subscriptions of one client: what each id the server tags writes with
/// stands for. `T` is what the SDK notifies: a JavaScript function, a channel.
#[derive(Debug)]
pub struct Subscriptions<T> {
    subs: Vec<(u64, T)>,
    next: u64,
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

    /// Adds a subscription; returns the id to send in `subscribeWrites`.
    pub fn add(&mut self, target: T) -> u64 {
        let id = self.next;
        self.next += 1;
        self.subs.push((id, target));
        id
    }

    /// Ends a subscription; returns its target, or `None` when it had ended.
    pub fn remove(&mut self, id: u64) -> Option<T> {
        let at = self.subs.iter().position(|(i, _)| *i == id)?;
        Some(self.subs.remove(at).1)
    }

    /// The target of subscription `id`.
    pub fn get(&self, id: u64) -> Option<&T> {
        self.subs.iter().find(|(i, _)| *i == id).map(|(_, t)| t)
    }

    /// The target of subscription `id`, to change.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        self.subs.iter_mut().find(|(i, _)| *i == id).map(|(_, t)| t)
    }

    /// Every subscription, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut T)> {
        self.subs.iter_mut().map(|(id, t)| (*id, t))
    }

    /// The targets of the subscriptions a write was tagged with, as (id,
    /// target); ids that have ended are skipped.
    pub fn tagged<'a>(&'a self, ids: &'a [u64]) -> impl Iterator<Item = (u64, &'a T)> + 'a {
        ids.iter().filter_map(|id| self.get(*id).map(|t| (*id, t)))
    }

    /// Keeps the subscriptions whose target `keep` accepts and ends the rest
    /// (those whose listener has gone); returns the ids ended.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> Vec<u64> {
        let mut gone = Vec::new();
        self.subs.retain(|(id, t)| {
            let k = keep(t);
            if !k {
                gone.push(*id);
            }
            k
        });
        gone
    }

    /// How many subscriptions there are.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_subscription_sees_matching_writes_and_the_one_that_moves_a_record_out() {
        let mut subs = WriteFilters::new();
        subs.add(
            1,
            "people",
            Value::Null,
            subscription_filter(&json!("age >= 18"), None).expect("where"),
        );
        subs.add(
            2,
            "people",
            Value::Null,
            subscription_filter(&Value::Null, None).expect("none"),
        );
        let minors = json!({"age": {"$lt": 18}, "$orderby": {"age": 1}});
        subs.add(
            3,
            "people",
            Value::Null,
            subscription_filter(&minors, None).expect("object"),
        );

        let ann = |age: i64| json!({"_id": "a", "age": age});
        assert_eq!(subs.on_write("people", &ann(20), false), [1, 2]);
        assert!(subs.on_write("pets", &ann(20), false).is_empty());
        // Ann turns out to be 12: the adults' subscription hears she left.
        assert_eq!(subs.on_write("people", &ann(12), false), [1, 2, 3]);
        // A record that never matched is not the adults' concern.
        assert_eq!(subs.on_write("people", &ann(13), false), [2, 3]);
        assert_eq!(subs.on_write("people", &ann(13), true), [2, 3]);
        // After the delete, nothing is remembered: a create that does not match is silent.
        assert_eq!(subs.on_write("people", &ann(30), false), [1, 2]);
        assert_eq!(subs.on_write("people", &ann(30), true), [1, 2]);
    }

    #[test]
    fn a_subscription_past_the_connections_memory_reports_more_never_less() {
        let mut subs = WriteFilters::new();
        let positive = || subscription_filter(&json!("n > 0"), None).expect("where");
        subs.add(7, "c", Value::Null, positive());
        subs.add(8, "d", Value::Null, positive());
        // 7 fills the connection's memory; 8 then has none.
        for i in 0..MAX_TRACKED_IDS {
            let r = json!({"_id": i.to_string(), "n": 1});
            assert_eq!(subs.on_write("c", &r, false), [7]);
        }
        assert_eq!(
            subs.on_write("d", &json!({"_id": "d1", "n": 1}), false),
            [8]
        );
        // 8 could not remember d1: its move out is still reported, and so is
        // one of a record that never matched.
        assert_eq!(
            subs.on_write("d", &json!({"_id": "d1", "n": 0}), false),
            [8]
        );
        assert_eq!(subs.on_write("d", &json!({"_id": "x", "n": 0}), true), [8]);
        // 7 remembered all of its own: a record it never showed stays silent.
        assert!(
            subs.on_write("c", &json!({"_id": "x", "n": 0}), false)
                .is_empty()
        );
        // Ending 7 frees its memory for the others.
        assert!(subs.remove(7));
        subs.add(9, "c", Value::Null, positive());
        assert_eq!(subs.on_write("c", &json!({"_id": "y", "n": 1}), false), [9]);
        assert!(
            subs.on_write("c", &json!({"_id": "z", "n": 0}), false)
                .is_empty()
        );
    }

    #[test]
    fn ids_are_replaced_removed_and_bad_queries_are_errors() {
        let mut subs = WriteFilters::new();
        subs.add(1, "c", Value::Null, None);
        subs.add(1, "d", Value::Null, None);
        assert!(subs.has(1, "d", &Value::Null) && !subs.has(1, "d", &json!("n > 1")));
        assert_eq!(subs.len(), 1);
        assert!(subs.watches("d") && !subs.watches("c"));
        assert!(subs.remove(1) && !subs.remove(1) && subs.is_empty());
        assert!(subscription_filter(&json!("age >>> 3"), None).is_err());
        assert!(subscription_filter(&json!({"age": {"$nope": 1}}), None).is_err());
        assert!(subscription_filter(&json!(3), None).is_err());
        // Regular expressions are counted, for the connection's budget.
        let two = json!({"$or": [{"a": {"$regex": "x"}}, {"b": {"$not": {"$regex": "y"}}}]});
        let two = subscription_filter(&two, None).expect("object");
        assert_eq!(two.as_ref().map(|f| f.regexes()), Some(2));
        subs.add(1, "d", Value::Null, None);
        subs.add(2, "d", Value::Null, two);
        assert_eq!((subs.regexes_besides(1), subs.regexes_besides(2)), (2, 0));
        let mine = subscription_filter(&json!("owner = @me"), Some("u1")).expect("@me");
        assert!(mine.is_some_and(|f| f.matches(&json!({"owner": "u1"}))));
    }

    #[test]
    fn a_client_finds_the_targets_a_write_was_tagged_with() {
        let mut subs = Subscriptions::new();
        let a = subs.add("a");
        let b = subs.add("b");
        let c = subs.add("c");
        assert_eq!(subs.remove(a), Some("a"));
        assert_eq!(subs.remove(a), None);
        let hit: Vec<_> = subs.tagged(&[a, c, b, 99]).map(|(_, t)| *t).collect();
        assert_eq!(hit, ["c", "b"]);
        assert_eq!(subs.retain(|t| *t != "b"), [b]);
        assert_eq!(subs.len(), 1);
    }
}
