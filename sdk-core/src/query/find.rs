//! A whole collection read: filter, sort, paging, projection, distinct, relations,
//! and its query-string form.

use super::mongo::{parse_mongo, parse_mongo_value};
use super::{CmpOp, Filter, Path, QueryError, Scalar};
use crate::names::check_collection_name;

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The field.
    pub field: Path,
    /// Largest first.
    pub descending: bool,
}

/// A `load` relation: put the record of `collection` whose `_id` is this record's
/// `foreign_key` into the property `property`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The property that receives the related record.
    pub property: String,
    /// The field holding the related record's `_id`.
    pub foreign_key: Path,
    /// The related collection.
    pub collection: String,
}

/// The most `load` relations one read may ask for.
pub const MAX_RELATIONS: usize = 8;

/// Query parameters the server reads itself; any other parameter is an equality
/// filter on the field of that name.
pub const QUERY_PARAMS: [&str; 12] = [
    "where", "q", "select", "count", "offset", "skip", "pageSize", "limit", "sortBy", "distinct",
    "load", "after",
];

/// Where the next page starts: the sort values and `_id` of the last record of a
/// page. Keyset paging: the next read resumes after that record in the read's
/// order, visiting only the rows it returns, however deep the page. Opaque to
/// applications: take it from [`Cursor::after_record`] or [`FindQuery::next_page`],
/// never build it by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// One value per sort key (`null` for a missing field).
    pub values: Vec<serde_json::Value>,
    /// The record's `_id`.
    pub id: String,
}

impl Cursor {
    /// The cursor after `record` in the order of `sort` (ties by `_id`); `None`
    /// when the record has no string `_id`.
    pub fn after_record(record: &serde_json::Value, sort: &[SortKey]) -> Option<Self> {
        let id = record.get(crate::record::ID)?.as_str()?.to_owned();
        let values = sort
            .iter()
            .map(|k| {
                super::get_path(record, &k.field)
                    .cloned()
                    .unwrap_or(serde_json::Value::Null)
            })
            .collect();
        Some(Self { values, id })
    }

    /// The cursor as the `after` parameter carries it.
    pub fn encode(&self) -> String {
        let mut all = self.values.clone();
        all.push(serde_json::Value::String(self.id.clone()));
        serde_json::Value::Array(all).to_string()
    }

    /// Reads an `after` parameter.
    pub fn decode(text: &str) -> Result<Self, QueryError> {
        let bad = || QueryError::new("after", "not a cursor from a page of this read");
        let serde_json::Value::Array(mut all) =
            serde_json::from_str::<serde_json::Value>(text).map_err(|_| bad())?
        else {
            return Err(bad());
        };
        let Some(serde_json::Value::String(id)) = all.pop() else {
            return Err(bad());
        };
        Ok(Self { values: all, id })
    }

    /// Whether `record` comes after the cursor in the order of `sort` (ties by
    /// `_id` in the direction of the last key), as the server pages.
    pub fn precedes(&self, record: &serde_json::Value, sort: &[SortKey]) -> bool {
        for (k, v) in sort.iter().zip(&self.values) {
            let o = super::compare_values(super::get_path(record, &k.field), Some(v));
            let o = if k.descending { o.reverse() } else { o };
            if o.is_ne() {
                return o.is_gt();
            }
        }
        let id = record
            .get(crate::record::ID)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let o = id.cmp(self.id.as_str());
        if sort.last().is_some_and(|k| k.descending) {
            o.is_lt()
        } else {
            o.is_gt()
        }
    }
}

/// A collection read.
#[must_use]
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FindQuery {
    /// Which records.
    pub filter: Option<Filter>,
    /// Sort keys, primary first; ties are broken by `_id`.
    pub sort: Vec<SortKey>,
    /// Records to skip.
    pub offset: u64,
    /// Records to return; the server's default page size when `None`.
    pub page_size: Option<u64>,
    /// Return only these fields.
    pub select: Option<Vec<Path>>,
    /// Keep the first record (in sort order) of each combination of these fields.
    pub distinct: Option<Vec<Path>>,
    /// Answer with the number of matching records instead of the records.
    pub count: bool,
    /// Related records to attach.
    pub load: Vec<Relation>,
    /// Only records after this one in the read's order (keyset paging).
    pub after: Option<Cursor>,
}

fn paths(param: &str, v: &str) -> Result<Vec<Path>, QueryError> {
    let out: Vec<Path> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Path::parse(s).map_err(|m| QueryError::new(param, m)))
        .collect::<Result<_, _>>()?;
    if out.is_empty() {
        return Err(QueryError::new(param, "name at least one field"));
    }
    Ok(out)
}

fn number(param: &str, v: &str) -> Result<u64, QueryError> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| QueryError::new(param, format!("'{v}' is not a non-negative integer")))
}

fn parse_sort_by(v: &str) -> Result<Vec<SortKey>, QueryError> {
    let mut keys = Vec::new();
    for item in v.split(',') {
        let mut words = item.split_whitespace();
        let Some(field) = words.next() else {
            return Err(QueryError::new("sortBy", "an entry is empty"));
        };
        let descending = match words.next() {
            None => false,
            Some(d) if d.eq_ignore_ascii_case("asc") => false,
            Some(d) if d.eq_ignore_ascii_case("desc") => true,
            Some(other) => {
                return Err(QueryError::new(
                    "sortBy",
                    format!("'{other}' after '{field}': only asc or desc may follow a field"),
                ));
            }
        };
        if let Some(extra) = words.next() {
            return Err(QueryError::new(
                "sortBy",
                format!("unexpected '{extra}'; separate sort keys with ','"),
            ));
        }
        keys.push(SortKey {
            field: Path::parse(field).map_err(|m| QueryError::new("sortBy", m))?,
            descending,
        });
    }
    Ok(keys)
}

fn parse_load(v: &str) -> Result<Vec<Relation>, QueryError> {
    let mut out = Vec::new();
    for item in v.split(',') {
        let item = item.trim();
        let bad = || {
            QueryError::new(
                "load",
                format!("'{item}' is not property=foreignKey:collection"),
            )
        };
        let (prop, rest) = item.split_once('=').ok_or_else(bad)?;
        let (fk, coll) = rest.split_once(':').ok_or_else(bad)?;
        let prop = prop.trim();
        let property = Path::parse(prop).map_err(|m| QueryError::new("load", m))?;
        if property.segments().len() != 1 {
            return Err(QueryError::new(
                "load",
                format!("'{prop}': the property must be a top-level name"),
            ));
        }
        if crate::record::is_system_field(prop) {
            return Err(QueryError::new(
                "load",
                format!("'{prop}' is a system field and cannot receive a relation"),
            ));
        }
        let collection = coll.trim().to_owned();
        check_collection_name(&collection).map_err(|e| QueryError::new("load", e.message))?;
        out.push(Relation {
            property: prop.to_owned(),
            foreign_key: Path::parse(fk.trim()).map_err(|m| QueryError::new("load", m))?,
            collection,
        });
    }
    if out.len() > MAX_RELATIONS {
        return Err(QueryError::new(
            "load",
            format!("at most {MAX_RELATIONS} relations"),
        ));
    }
    Ok(out)
}

/// Equality from a plain `field=value` parameter: the string, or also the number,
/// boolean or null the text spells (`age=23` matches `23` and `"23"`).
fn query_string_equality(field: &str, v: &str) -> Result<Filter, QueryError> {
    let path = Path::parse(field).map_err(|m| QueryError::new(field, m))?;
    let s = Filter::Compare {
        field: path.clone(),
        op: CmpOp::Eq,
        value: Scalar::String(v.to_owned()),
    };
    let typed = match serde_json::from_str::<serde_json::Value>(v) {
        Ok(j) if !j.is_string() => Scalar::from_json(&j),
        _ => None,
    };
    Ok(match typed {
        Some(t) => Filter::In {
            field: path,
            values: vec![Scalar::String(v.to_owned()), t],
        },
        None => s,
    })
}

/// The query parameters with a meaning of their own; any other name is a field
/// to match (`age=23`), unless it differs from one of these only in case.
pub const PARAMETERS: [&str; 15] = [
    "where",
    "q",
    "query",
    "sort",
    "projection",
    "select",
    "distinct",
    "count",
    "offset",
    "skip",
    "pageSize",
    "limit",
    "sortBy",
    "load",
    "after",
];

/// A Carbond parameter (`sort`, `projection`) read as that part of a `q` document.
fn mongo_part(param: &str, op: &str, v: &str) -> Result<super::MongoQuery, QueryError> {
    let value: serde_json::Value = serde_json::from_str(v)
        .map_err(|e| QueryError::new(param, format!("malformed JSON: {e}")))?;
    let mut doc = serde_json::Map::new();
    doc.insert(op.to_owned(), value);
    super::parse_mongo_value(serde_json::Value::Object(doc)).map_err(|e| e.of(param))
}

impl FindQuery {
    /// A query for every record (the server's default page).
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses decoded query-string pairs. Repeated filters (`where`, `q`, field
    /// equalities) must all hold. `@me` in `where` matches nothing (anonymous).
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, QueryError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::from_pairs_as(pairs, None)
    }

    /// As [`FindQuery::from_pairs`], with `@me` in `where` standing for `me`.
    pub fn from_pairs_as<K, V>(
        pairs: impl IntoIterator<Item = (K, V)>,
        me: Option<&str>,
    ) -> Result<Self, QueryError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut q = Self::default();
        let mut filters: Vec<Filter> = Vec::new();
        let mut limited = false;
        for (k, v) in pairs {
            let (k, v) = (k.as_ref(), v.as_ref());
            match k {
                "where" => filters.push(super::parse_where_as(v, me)?),
                // `query`, `sort` and `projection` are Carbond's names.
                "q" | "query" => q.take_mongo(parse_mongo(v).map_err(|e| e.of(k))?, &mut filters),
                "sort" => q.take_mongo(mongo_part(k, "$sort", v)?, &mut filters),
                "projection" => q.take_mongo(mongo_part(k, "$fields", v)?, &mut filters),
                "select" => q.select = Some(paths("select", v)?),
                "distinct" => q.distinct = Some(paths("distinct", v)?),
                "count" => {
                    q.count = match v {
                        "" | "true" | "1" => true,
                        "false" | "0" => false,
                        other => {
                            return Err(QueryError::new(
                                "count",
                                format!("'{other}': count takes no value, or true or false"),
                            ));
                        }
                    }
                }
                "offset" | "skip" => q.offset = number(k, v)?,
                "pageSize" | "limit" => {
                    let n = number(k, v)?;
                    if n == 0 {
                        return Err(QueryError::new(k, "the page size must be at least 1"));
                    }
                    q.page_size = Some(n);
                    limited = true;
                }
                "sortBy" => q.sort = parse_sort_by(v)?,
                "load" => q.load = parse_load(v)?,
                "after" => q.after = Some(Cursor::decode(v)?),
                field => {
                    if field.starts_with('$') {
                        return Err(QueryError::new(
                            field,
                            "no such parameter: '$' starts operators, which belong in q",
                        ));
                    }
                    if let Some(name) = PARAMETERS.iter().find(|p| p.eq_ignore_ascii_case(field)) {
                        return Err(QueryError::new(
                            field,
                            format!("no such parameter; did you mean '{name}'?"),
                        ));
                    }
                    filters.push(query_string_equality(field, v)?);
                }
            }
        }
        q.finish(filters, limited)
    }

    /// A query given as one Mongo-style document, as the `q` parameter would
    /// give it (a WebSocket `find` carries the document itself).
    pub fn from_mongo(doc: serde_json::Value) -> Result<Self, QueryError> {
        let mut q = Self::default();
        let mut filters = Vec::new();
        q.take_mongo(parse_mongo_value(doc)?, &mut filters);
        q.finish(filters, false)
    }

    fn take_mongo(&mut self, m: super::MongoQuery, filters: &mut Vec<Filter>) {
        filters.extend(m.filter);
        if !m.sort.is_empty() {
            self.sort = m.sort;
        }
        if let Some(s) = m.skip {
            self.offset = s;
        }
        if let Some(l) = m.limit {
            self.page_size = Some(l);
        }
        if m.fields.is_some() {
            self.select = m.fields;
        }
    }

    /// The checks across parameters, and the filters joined.
    fn finish(mut self, mut filters: Vec<Filter>, limited: bool) -> Result<Self, QueryError> {
        let q = &mut self;
        if q.count
            && (limited
                || q.offset != 0
                || !q.sort.is_empty()
                || q.select.is_some()
                || !q.load.is_empty())
        {
            return Err(QueryError::new(
                "count",
                "count combines only with where, q, field filters and distinct",
            ));
        }
        if let Some(c) = &q.after {
            if q.count || q.distinct.is_some() {
                return Err(QueryError::new(
                    "after",
                    "after pages records; it does not combine with count or distinct",
                ));
            }
            if c.values.len() != q.sort.len() {
                return Err(QueryError::new(
                    "after",
                    "the cursor comes from a read sorted otherwise; keep sortBy as it was",
                ));
            }
        }
        q.filter = match filters.len() {
            0 => None,
            1 => filters.pop(),
            _ => Some(Filter::And(filters)),
        };
        if let Some(f) = &q.filter {
            f.check_bounds("where")?;
        }
        Ok(self)
    }

    /// The query as query-string pairs (the filter travels as `q`).
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(f) = &self.filter {
            out.push(("q".into(), f.to_mongo().to_string()));
        }
        let list = |ps: &[Path]| ps.iter().map(Path::to_string).collect::<Vec<_>>().join(",");
        if !self.sort.is_empty() {
            let s = self
                .sort
                .iter()
                .map(|k| {
                    if k.descending {
                        format!("{} desc", k.field)
                    } else {
                        k.field.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(",");
            out.push(("sortBy".into(), s));
        }
        if self.offset != 0 {
            out.push(("offset".into(), self.offset.to_string()));
        }
        if let Some(n) = self.page_size {
            out.push(("pageSize".into(), n.to_string()));
        }
        if let Some(s) = &self.select {
            out.push(("select".into(), list(s)));
        }
        if let Some(d) = &self.distinct {
            out.push(("distinct".into(), list(d)));
        }
        if self.count {
            out.push(("count".into(), "true".into()));
        }
        if !self.load.is_empty() {
            let l = self
                .load
                .iter()
                .map(|r| format!("{}={}:{}", r.property, r.foreign_key, r.collection))
                .collect::<Vec<_>>()
                .join(",");
            out.push(("load".into(), l));
        }
        if let Some(c) = &self.after {
            out.push(("after".into(), c.encode()));
        }
        out
    }

    /// The read of the page after `page`, this read's answer: the same query
    /// resuming after its last record. `None` when there is nothing more to read:
    /// the page is empty or shorter than the page size asked for, or its last
    /// record lacks the fields the cursor needs (`_id` dropped by `select`).
    pub fn next_page(&self, page: &[serde_json::Value]) -> Option<Self> {
        let last = page.last()?;
        if self.page_size.is_some_and(|n| (page.len() as u64) < n) {
            return None;
        }
        let cursor = Cursor::after_record(last, &self.sort)?;
        Some(Self {
            after: Some(cursor),
            offset: 0,
            ..self.clone()
        })
    }

    /// Resumes after `cursor` (from [`Cursor::after_record`]).
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// Only records matching `filter` (and any filter already set).
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(f) => f.and(filter),
            None => filter,
        });
        self
    }

    /// Sorts by `field`, smallest first (after any sort key already set).
    pub fn sort_asc(mut self, field: &str) -> Self {
        self.sort.push(SortKey {
            field: Path::parse(field).unwrap_or_else(|_| Path(vec![field.to_owned()])),
            descending: false,
        });
        self
    }

    /// Sorts by `field`, largest first (after any sort key already set).
    pub fn sort_desc(mut self, field: &str) -> Self {
        self.sort.push(SortKey {
            field: Path::parse(field).unwrap_or_else(|_| Path(vec![field.to_owned()])),
            descending: true,
        });
        self
    }

    /// Skips `n` records.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = n;
        self
    }

    /// Returns at most `n` records.
    pub fn page_size(mut self, n: u64) -> Self {
        self.page_size = Some(n);
        self
    }

    /// Returns only these fields.
    pub fn select<'a>(mut self, fields: impl IntoIterator<Item = &'a str>) -> Self {
        self.select = Some(
            fields
                .into_iter()
                .map(|f| Path::parse(f).unwrap_or_else(|_| Path(vec![f.to_owned()])))
                .collect(),
        );
        self
    }

    /// Keeps the first record of each combination of these fields.
    pub fn distinct<'a>(mut self, fields: impl IntoIterator<Item = &'a str>) -> Self {
        self.distinct = Some(
            fields
                .into_iter()
                .map(|f| Path::parse(f).unwrap_or_else(|_| Path(vec![f.to_owned()])))
                .collect(),
        );
        self
    }

    /// Attaches the record of `collection` whose `_id` is in `foreign_key` as `property`.
    pub fn load(mut self, property: &str, foreign_key: &str, collection: &str) -> Self {
        self.load.push(Relation {
            property: property.to_owned(),
            foreign_key: Path::parse(foreign_key)
                .unwrap_or_else(|_| Path(vec![foreign_key.to_owned()])),
            collection: collection.to_owned(),
        });
        self
    }
}

impl FindQuery {
    /// Checks the page size against the server's maximum.
    pub fn check_page(&self, max_page: u64) -> Result<(), QueryError> {
        match self.page_size {
            Some(n) if n > max_page => Err(QueryError::new(
                "pageSize",
                format!("{n} is over the maximum page size of {max_page}"),
            )),
            _ => Ok(()),
        }
    }
}

/// What a read answers: records, or their number when `count` was asked.
#[derive(Debug, Clone, PartialEq)]
pub enum FindResult {
    /// The page of records.
    Records(Vec<serde_json::Value>),
    /// The number of matching (distinct) records.
    Count(u64),
}

impl FindQuery {
    /// Runs the query over records in memory, exactly as the server does over
    /// stored ones (relations aside): filter, sort (ties by `_id`), distinct,
    /// then count or page and select.
    pub fn apply(&self, records: &[serde_json::Value], default_page: u64) -> FindResult {
        let mut rows: Vec<serde_json::Value> = records
            .iter()
            .filter(|r| self.filter.as_ref().is_none_or(|f| f.matches(r)))
            .cloned()
            .collect();
        super::sort_records(&mut rows, &self.sort);
        if let Some(c) = &self.after {
            rows.retain(|r| c.precedes(r, &self.sort));
        }
        if let Some(d) = &self.distinct {
            let mut seen = Vec::new();
            rows.retain(|r| {
                let k = super::distinct_key(r, d);
                if seen.contains(&k) {
                    false
                } else {
                    seen.push(k);
                    true
                }
            });
        }
        if self.count {
            return FindResult::Count(rows.len() as u64);
        }
        let page = self.page_size.unwrap_or(default_page);
        let out = rows
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(page).unwrap_or(usize::MAX))
            .map(|r| match &self.select {
                Some(s) => super::project(&r, s),
                None => r,
            })
            .collect();
        FindResult::Records(out)
    }
}
