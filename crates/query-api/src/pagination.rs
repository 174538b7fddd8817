//! Cursor pagination. Lists are ordered by id, newest first; ids are UUID v7
//! (time-ordered), so a cursor is simply the last id of a page, encoded
//! opaquely. A page never shifts when newer rows arrive: the next page reads
//! strictly older ids.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;

/// `limit` and `cursor` of a list request.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
pub struct PageParams {
    /// Items per page (1 to the server's maximum, 500 by default).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `limit` and `cursor` as text, for the searches that check every
/// parameter together (`crate::search`), so that both can be named.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page (1 to the server's maximum).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub limit: u32,
    /// Only ids strictly below this one.
    pub before: Option<Uuid>,
}

/// Page-size settings.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub default: u32,
    pub max: u32,
}

impl PageParams {
    /// Checks `limit` and decodes `cursor`; 422 naming the field otherwise.
    pub fn validate(&self, limits: PageLimits) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(limits.default);
        if limit == 0 || limit > limits.max {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {}", limits.max),
            ));
        }
        let before = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(PageRequest { limit, before })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Returns the page with each item turned into what the edge shows.
    pub fn map<U>(self, show: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(show).collect(),
            next_cursor: self.next_cursor,
        }
    }

    /// Returns the page with each item turned into what the edge shows, or
    /// the first item that cannot be.
    pub fn try_map<U, E>(self, show: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            data: self.data.into_iter().map(show).collect::<Result<_, _>>()?,
            next_cursor: self.next_cursor,
        })
    }

    /// Builds a page from `rows` fetched with `limit + 1`, so a next page is
    /// known to exist only when there is one; `id` gives a row's id.
    pub fn from_rows(mut rows: Vec<T>, request: PageRequest, id: impl Fn(&T) -> Uuid) -> Self {
        let limit = request.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|row| encode_cursor(id(row)))
        } else {
            None
        };
        Self {
            data: rows,
            next_cursor,
        }
    }
}

pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(raw: &str) -> Result<Uuid, ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this API returned"))?;
    Ok(Uuid::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PageLimits = PageLimits {
        default: 50,
        max: 500,
    };

    #[test]
    fn cursors_round_trip_and_garbage_is_a_422() {
        let id = Uuid::now_v7();
        let params = PageParams {
            limit: None,
            cursor: Some(encode_cursor(id)),
        };
        assert_eq!(params.validate(LIMITS).unwrap().before, Some(id));
        for bad in ["x", "!!!", &URL_SAFE_NO_PAD.encode([1u8; 15])] {
            let params = PageParams {
                limit: None,
                cursor: Some(bad.to_owned()),
            };
            assert!(
                matches!(params.validate(LIMITS), Err(ApiError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn limits_outside_the_range_are_a_422() {
        for limit in [0, 501] {
            let params = PageParams {
                limit: Some(limit),
                cursor: None,
            };
            assert!(params.validate(LIMITS).is_err());
        }
        assert_eq!(PageParams::default().validate(LIMITS).unwrap().limit, 50);
    }
}
