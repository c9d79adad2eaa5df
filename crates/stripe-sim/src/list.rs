//! Stripe's list envelope and cursor pagination: newest first, `limit` (default 10, at most 100),
//! `starting_after` (older than the cursor) or `ending_before` (newer than the cursor).

use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::{Record, Table};

/// The pagination parameters every list endpoint takes.
pub const PAGE_PARAMS: [&str; 4] = ["limit", "starting_after", "ending_before", "expand[]"];

/// A requested page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// How many objects at most.
    pub limit: usize,
    /// Return objects older than this id.
    pub starting_after: Option<String>,
    /// Return objects newer than this id.
    pub ending_before: Option<String>,
}

impl Page {
    /// Reads and checks `limit`, `starting_after` and `ending_before`.
    pub fn from_params(p: &Params) -> ApiResult<Page> {
        let limit = match p.int("limit")? {
            None => 10,
            Some(n) if n < 1 => {
                return Err(ApiError::InvalidParameter {
                    param: "limit".into(),
                    message: format!(
                        "This value must be greater than or equal to 1 (it currently is '{n}')."
                    ),
                    code: Some("parameter_invalid_integer"),
                });
            }
            Some(n) if n > 100 => {
                return Err(ApiError::InvalidParameter {
                    param: "limit".into(),
                    message: format!(
                        "This value must be less than or equal to 100 (it currently is '{n}')."
                    ),
                    code: Some("parameter_invalid_integer"),
                });
            }
            Some(n) => usize::try_from(n).unwrap_or(10),
        };
        let starting_after = p.string("starting_after", 5000)?.filter(|s| !s.is_empty());
        let ending_before = p.string("ending_before", 5000)?.filter(|s| !s.is_empty());
        if starting_after.is_some() && ending_before.is_some() {
            return Err(ApiError::Refused {
                message:
                    "You may only specify one of these parameters: ending_before, starting_after."
                        .into(),
                param: None,
                code: Some("parameters_exclusive"),
            });
        }
        Ok(Page {
            limit,
            starting_after,
            ending_before,
        })
    }

    /// The page of `table`'s objects passing `keep`, newest first, and whether more exist beyond it.
    pub fn select<'a, T: Record>(
        &self,
        table: &'a Table<T>,
        kind: &'static str,
        keep: impl Fn(&T) -> bool,
    ) -> ApiResult<(Vec<&'a T>, bool)> {
        let cursor = |param: &str, id: &str| {
            table.position(id).ok_or_else(|| ApiError::NoSuchReference {
                kind,
                id: id.to_string(),
                param: param.to_string(),
            })
        };
        if let Some(id) = &self.ending_before {
            let pos = cursor("ending_before", id)?;
            let newer: Vec<&T> = table
                .newest_first()
                .take_while(|(i, _)| *i > pos)
                .map(|(_, row)| row)
                .filter(|row| keep(row))
                .collect();
            let has_more = newer.len() > self.limit;
            let skip = newer.len().saturating_sub(self.limit);
            return Ok((newer.into_iter().skip(skip).collect(), has_more));
        }
        let after = match &self.starting_after {
            Some(id) => Some(cursor("starting_after", id)?),
            None => None,
        };
        let mut rows = table
            .newest_first()
            .filter(|(i, _)| after.is_none_or(|pos| *i < pos))
            .map(|(_, row)| row)
            .filter(|row| keep(row));
        let page: Vec<&T> = rows.by_ref().take(self.limit).collect();
        let has_more = rows.next().is_some();
        Ok((page, has_more))
    }
}

/// Stripe's list envelope.
pub fn envelope(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({
        "object": "list",
        "data": data,
        "has_more": has_more,
        "url": url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form;
    use crate::params::Endpoint;

    #[derive(Debug)]
    struct Row(String);

    impl Record for Row {
        fn id(&self) -> &str {
            &self.0
        }
    }

    fn table(n: usize) -> Table<Row> {
        let mut t = Table::default();
        for i in 0..n {
            t.insert(Row(format!("r{i}")));
        }
        t
    }

    fn page(query: &str) -> Page {
        const EP: Endpoint = Endpoint {
            method: "GET",
            path: "/v1/rows",
            params: &PAGE_PARAMS,
        };
        Page::from_params(&EP.decode(&form::parse(query)).unwrap()).unwrap()
    }

    fn ids(rows: &[&Row]) -> Vec<String> {
        rows.iter().map(|r| r.0.clone()).collect()
    }

    #[test]
    fn pages_walk_newest_first_with_starting_after() {
        // GIVEN five rows r0..r4
        let t = table(5);
        // WHEN the first page of two is read
        let (rows, more) = page("limit=2").select(&t, "row", |_| true).unwrap();
        // THEN it holds the newest two and says more exist
        assert_eq!(ids(&rows), ["r4", "r3"]);
        assert!(more);
        let (rows, more) = page("limit=2&starting_after=r3")
            .select(&t, "row", |_| true)
            .unwrap();
        assert_eq!(ids(&rows), ["r2", "r1"]);
        assert!(more);
        let (rows, more) = page("limit=2&starting_after=r1")
            .select(&t, "row", |_| true)
            .unwrap();
        assert_eq!(ids(&rows), ["r0"]);
        assert!(!more);
    }

    #[test]
    fn ending_before_returns_the_objects_just_newer_than_the_cursor() {
        let t = table(5);
        let (rows, more) = page("limit=2&ending_before=r1")
            .select(&t, "row", |_| true)
            .unwrap();
        assert_eq!(ids(&rows), ["r3", "r2"]);
        assert!(more);
    }

    #[test]
    fn filters_apply_before_the_limit_and_unknown_cursors_fail() {
        let t = table(6);
        let (rows, _) = page("limit=2")
            .select(&t, "row", |r| r.0 != "r5" && r.0 != "r3")
            .unwrap();
        assert_eq!(ids(&rows), ["r4", "r2"]);
        assert!(
            page("starting_after=nope")
                .select(&t, "row", |_| true)
                .is_err()
        );
    }

    #[test]
    fn limit_must_be_between_1_and_100() {
        const EP: Endpoint = Endpoint {
            method: "GET",
            path: "/v1/rows",
            params: &PAGE_PARAMS,
        };
        for bad in ["limit=0", "limit=101", "limit=x"] {
            let p = EP.decode(&form::parse(bad)).unwrap();
            assert!(Page::from_params(&p).is_err(), "{bad}");
        }
    }
}
