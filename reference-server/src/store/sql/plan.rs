//! Plans: whether an index gives a read's page directly.

use super::*;

/// The most rows a read may visit and still run on the async thread.
pub(super) const INLINE_ROWS: u64 = 1_000;

/// Whether an index gives a read's page directly: every condition of the filter
/// is an equality on the index's leading fields or a range on the field it
/// sorts by next, and the sort is the index's order (ties by `_id`, which ends
/// every index). Such a read visits about `offset + page` rows, whatever the
/// collection's size, so it runs inline; any other may scan and runs on the
/// blocking pool. This is the compiler's own plan, checked against SQLite's in
/// the store's tests.
pub(super) fn served(
    coll: &str,
    q: &FindQuery,
    page: u64,
    layout: &Layout,
    assume: bool,
) -> Option<String> {
    if q.count {
        return (q.filter.is_none() && q.distinct.is_none()).then(String::new);
    }
    // After a cursor, the index must give the rest as one range.
    if let Some(c) = &q.after {
        let mut assumed = Vec::new();
        match row_value(&q.sort, c, layout, assume.then_some(&mut assumed)) {
            Some((_, nullable)) if nullable.is_empty() => {}
            _ => return None,
        }
    }
    if q.distinct.is_some()
        || q.offset.saturating_add(page) > INLINE_ROWS
        || (!q.load.is_empty() && page > 100)
        || q.sort
            .windows(2)
            .any(|w| w[0].descending != w[1].descending)
    {
        return None;
    }
    let mut terms = Vec::new();
    if let Some(f) = &q.filter
        && !conjuncts(f, &mut terms)
    {
        return None;
    }
    // Each term must compare a one-typed field with a literal of its type (or,
    // for an untyped field, be an equality SQL compares exactly).
    let mut eqs: Vec<&Path> = Vec::new();
    let mut ranges: Vec<&Path> = Vec::new();
    for (field, op, value) in &terms {
        let exact = match access(field, layout) {
            Access::Plain(_, t, _) => FieldType::of(value) == Some(t),
            Access::Json => *op == CmpOp::Eq && matches!(guard(*op, value), Guard::None),
        };
        if !exact {
            return None;
        }
        if *op == CmpOp::Eq {
            eqs.push(field);
        } else {
            ranges.push(field);
        }
    }
    let sorted: Vec<&Path> = q.sort.iter().map(|k| &k.field).collect();
    let id = Path::parse(ID).ok();
    let declared = layout
        .indexes
        .iter()
        .map(|ix| ix.iter().collect::<Vec<_>>());
    let system = SYSTEM_INDEXES.iter().map(|ix| {
        ix.iter()
            .filter_map(|f| Path::parse(f).ok())
            .collect::<Vec<_>>()
    });
    let system: Vec<Vec<Path>> = system.collect();
    let mut candidates: Vec<(String, Vec<&Path>)> = system
        .iter()
        .zip(SYSTEM_INDEX_NAMES)
        .map(|(ix, name)| ((*name).to_owned(), ix.iter().collect()))
        .collect();
    candidates.extend(
        declared
            .zip(&layout.indexes)
            .map(|(ix, fields)| (declared_index_name(coll, fields), ix)),
    );
    candidates.into_iter().find_map(|(name, mut ix)| {
        if let Some(id) = &id {
            ix.push(id);
        }
        // Sorting by a typed declared field or a column only: an untyped
        // field's sort has a rank the index does not hold.
        if sorted
            .iter()
            .any(|p| matches!(access(p, layout), Access::Json))
        {
            return None;
        }
        let mut left: Vec<&Path> = eqs.clone();
        let mut at = 0;
        while at < ix.len() {
            match left.iter().position(|p| *p == ix[at]) {
                Some(i) => {
                    left.swap_remove(i);
                    at += 1;
                }
                None => break,
            }
        }
        let rest = &ix[at..];
        // The order asked for, then `_id`, must be the rest of the index.
        let mut want: Vec<&Path> = sorted.clone();
        if let Some(id) = &id
            && want.last() != Some(&id)
        {
            want.push(id);
        }
        if rest != want.as_slice() {
            return None;
        }
        // Whatever is left must be a range (or equality) on the next field.
        left.iter()
            .chain(ranges.iter())
            .all(|p| Some(*p) == rest.first().copied())
            .then_some(name)
    })
}

/// The comparisons `f` is a conjunction of; `false` if it holds anything else.
pub(super) fn conjuncts<'a>(f: &'a Filter, out: &mut Vec<(&'a Path, CmpOp, &'a Scalar)>) -> bool {
    match f {
        Filter::All => true,
        Filter::And(parts) => parts.iter().all(|p| conjuncts(p, out)),
        Filter::Compare { field, op, value } if *op != CmpOp::Ne => {
            out.push((field, *op, value));
            true
        }
        _ => false,
    }
}
