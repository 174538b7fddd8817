//! Event, delivery and attempt reads, shared by the HTTP and gRPC edges.
//!
//! Both edges hand their parameters over as text, as they received them, so
//! they are parsed and validated once, here: every bad one is named in one
//! 422 (INVALID_ARGUMENT over gRPC). Every read is scoped to the caller's
//! project, so another project's id is simply not found. Lists are newest
//! first and paginated by id (see `pagination`): a cursor is the last id of a
//! page and the next page reads strictly older ids, so new events never shift
//! a walk through the pages.

use std::fmt::Display;

use eventflow_domain::{
    DeliveryId, EndpointId, EventId, EventTypeFilter, ProjectId, parse_rfc3339,
};
use eventflow_runtime::api_error::FieldError;
use eventflow_store::{
    AttemptRecord, DeliverySearch, DeliveryState, DeliveryStatus, EventSearch, EventSummary,
    StoredEvent,
};

use crate::AppState;
use crate::error::ApiError;
use crate::pagination::{Page, PageLimits, PageParams, PageRequest};

/// The parameters of an event search, as text.
#[derive(Debug, Default, Clone, Copy)]
pub struct EventListParams<'a> {
    pub event_type: Option<&'a str>,
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    pub status: Option<&'a str>,
    pub endpoint_id: Option<&'a str>,
    pub include_payload: Option<&'a str>,
    pub page: PageText<'a>,
}

/// The parameters of a delivery search, as text.
#[derive(Debug, Default, Clone, Copy)]
pub struct DeliveryListParams<'a> {
    pub endpoint_id: Option<&'a str>,
    pub status: Option<&'a str>,
    pub page: PageText<'a>,
}

/// `limit` and `cursor`, as text.
#[derive(Debug, Default, Clone, Copy)]
pub struct PageText<'a> {
    pub limit: Option<&'a str>,
    pub cursor: Option<&'a str>,
}

impl<'a> PageText<'a> {
    /// Returns the page parameters of a query, as it received them.
    pub fn of(limit: &'a Option<String>, cursor: &'a Option<String>) -> Self {
        Self {
            limit: limit.as_deref(),
            cursor: cursor.as_deref(),
        }
    }
}

/// Collects every invalid parameter of a request, to report them together.
#[derive(Default)]
struct Checks(Vec<FieldError>);

impl Checks {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Parses `raw` when present; a failure is recorded with `message`.
    fn parse<T, E>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
        message: impl FnOnce(E) -> String,
    ) -> Option<T> {
        match parse(raw?) {
            Ok(value) => Some(value),
            Err(error) => {
                self.fail(field, message(error));
                None
            }
        }
    }

    /// Parses `limit` and `cursor` (each checked on its own, so both can be
    /// named); an invalid one falls back to the default.
    fn page(&mut self, page: PageText<'_>, limits: PageLimits) -> PageRequest {
        let limit = match page.limit.map(str::parse::<u32>) {
            None => None,
            Some(Ok(limit)) => Some(limit),
            Some(Err(_)) => {
                self.fail("limit", format!("must be between 1 and {}", limits.max));
                None
            }
        };
        let limit = self.page_part(
            PageParams {
                limit,
                cursor: None,
            },
            limits,
        );
        let before = self.page_part(
            PageParams {
                limit: None,
                cursor: page.cursor.map(str::to_owned),
            },
            limits,
        );
        PageRequest {
            limit: limit.map_or(limits.default, |request| request.limit),
            before: before.and_then(|request| request.before),
        }
    }

    fn page_part(&mut self, params: PageParams, limits: PageLimits) -> Option<PageRequest> {
        match params.validate(limits) {
            Ok(request) => Some(request),
            Err(ApiError::Invalid(errors)) => {
                self.0.extend(errors);
                None
            }
            Err(other) => {
                self.fail("", other.to_string());
                None
            }
        }
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.0))
        }
    }
}

fn status_message(_: ()) -> String {
    "must be one of pending, succeeded, failed, refused".to_owned()
}

fn parse_status(raw: &str) -> Result<DeliveryStatus, ()> {
    DeliveryStatus::parse(raw).ok_or(())
}

fn time_message(_: impl Display) -> String {
    "must be an RFC 3339 time such as 2024-05-01T12:00:00Z".to_owned()
}

fn id_message(error: impl Display) -> String {
    error.to_string()
}

fn parse_bool(raw: &str) -> Result<bool, ()> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(()),
    }
}

/// Parses the id of a resource named in a request field: 422 when
/// it is not an id of that kind at all.
pub fn parse_id<T, E: Display>(
    field: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|error| ApiError::invalid(field, error.to_string()))
}

/// Answers 404 when the endpoint named by a filter is not the caller's (so a
/// typo or another project's id does not look like "no data").
async fn check_endpoint(
    state: &AppState,
    project_id: ProjectId,
    endpoint_id: Option<EndpointId>,
) -> Result<(), ApiError> {
    if let Some(endpoint_id) = endpoint_id {
        state
            .store
            .project_endpoint(project_id, endpoint_id)
            .await?;
    }
    Ok(())
}

/// Searches the project's events.
pub async fn list_events(
    state: &AppState,
    project_id: ProjectId,
    params: EventListParams<'_>,
) -> Result<Page<EventSummary>, ApiError> {
    let mut checks = Checks::default();
    let event_type = checks.parse("type", params.event_type, EventTypeFilter::parse, |e| {
        format!("must be an event type, a prefix such as order.* or * ({e})")
    });
    let since = checks.parse("since", params.since, parse_rfc3339, time_message);
    let until = checks.parse("until", params.until, parse_rfc3339, time_message);
    if let (Some(since), Some(until)) = (since, until)
        && until <= since
    {
        checks.fail("until", "must be later than since");
    }
    let status = checks.parse("status", params.status, parse_status, status_message);
    let endpoint_id = checks.parse(
        "endpoint_id",
        params.endpoint_id,
        EndpointId::parse,
        id_message,
    );
    let include_payload = checks.parse(
        "include_payload",
        params.include_payload,
        parse_bool,
        |()| "must be true or false".to_owned(),
    );
    let page = checks.page(params.page, state.page_limits);
    checks.finish()?;

    let search = EventSearch {
        event_type,
        since,
        until,
        delivery_status: status,
        endpoint_id,
        before: page.before.map(EventId::from_uuid),
        include_payload: include_payload.unwrap_or(false),
        limit: i64::from(page.limit) + 1,
    };
    let (_, rows) = tokio::try_join!(check_endpoint(state, project_id, endpoint_id), async {
        let _turn = state.scans.enter().await?;
        Ok(state.store.search_events(project_id, &search).await?)
    },)?;
    Ok(Page::from_rows(rows, page, |event| event.id.uuid()))
}

/// Returns the project's event with its deliveries.
pub async fn event(
    state: &AppState,
    project_id: ProjectId,
    id: EventId,
) -> Result<(StoredEvent, Vec<DeliveryState>), ApiError> {
    state
        .store
        .event_with_deliveries(project_id, id)
        .await?
        .ok_or(ApiError::NotFound("event"))
}

/// Returns a page of the deliveries of the project's event.
pub async fn event_deliveries(
    state: &AppState,
    project_id: ProjectId,
    id: EventId,
    page: PageText<'_>,
) -> Result<Page<DeliveryState>, ApiError> {
    let mut checks = Checks::default();
    let page = checks.page(page, state.page_limits);
    checks.finish()?;
    let (exists, rows) = tokio::try_join!(
        state.store.project_event_exists(project_id, id),
        state.store.project_event_deliveries(
            project_id,
            id,
            page.before.map(DeliveryId::from_uuid),
            i64::from(page.limit) + 1,
        ),
    )?;
    if !exists {
        return Err(ApiError::NotFound("event"));
    }
    Ok(Page::from_rows(rows, page, |delivery| delivery.id.uuid()))
}

/// Searches the project's deliveries.
pub async fn list_deliveries(
    state: &AppState,
    project_id: ProjectId,
    params: DeliveryListParams<'_>,
) -> Result<Page<DeliveryState>, ApiError> {
    let mut checks = Checks::default();
    let endpoint_id = checks.parse(
        "endpoint_id",
        params.endpoint_id,
        EndpointId::parse,
        id_message,
    );
    let status = checks.parse("status", params.status, parse_status, status_message);
    let page = checks.page(params.page, state.page_limits);
    checks.finish()?;

    let search = DeliverySearch {
        endpoint_id,
        status,
        before: page.before.map(DeliveryId::from_uuid),
        limit: i64::from(page.limit) + 1,
    };
    let (_, rows) = tokio::try_join!(check_endpoint(state, project_id, endpoint_id), async {
        let _turn = state.scans.enter().await?;
        Ok(state.store.search_deliveries(project_id, &search).await?)
    },)?;
    Ok(Page::from_rows(rows, page, |delivery| delivery.id.uuid()))
}

/// Returns the project's delivery.
pub async fn delivery(
    state: &AppState,
    project_id: ProjectId,
    id: DeliveryId,
) -> Result<DeliveryState, ApiError> {
    state
        .store
        .project_delivery(project_id, id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))
}

/// Lists the attempts of the project's delivery, newest first; `id_field`
/// names the delivery id in errors (`id` in the HTTP path, `delivery_id` in
/// the gRPC request).
pub async fn list_attempts(
    state: &AppState,
    project_id: ProjectId,
    id: DeliveryId,
    page: PageText<'_>,
) -> Result<Page<AttemptRecord>, ApiError> {
    let mut checks = Checks::default();
    let page = checks.page(page, state.page_limits);
    checks.finish()?;

    let (delivery, rows) = tokio::try_join!(
        state.store.project_delivery(project_id, id),
        state.store.project_delivery_attempts(
            project_id,
            id,
            page.before.map(eventflow_domain::AttemptId::from_uuid),
            i64::from(page.limit) + 1,
        ),
    )?;
    if delivery.is_none() {
        return Err(ApiError::NotFound("delivery"));
    }
    Ok(Page::from_rows(rows, page, |attempt| attempt.id.uuid()))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::pagination::encode_cursor;

    const LIMITS: PageLimits = PageLimits {
        default: 50,
        max: 500,
    };

    fn fields(checks: Checks) -> Vec<String> {
        match checks.finish() {
            Err(ApiError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn every_bad_page_parameter_is_named() {
        for (limit, cursor, expected) in [
            (Some("0"), None, vec!["limit"]),
            (Some("100000"), None, vec!["limit"]),
            (Some("-1"), None, vec!["limit"]),
            (Some("ten"), Some("garbage!"), vec!["limit", "cursor"]),
            (None, Some("garbage"), vec!["cursor"]),
        ] {
            let mut checks = Checks::default();
            checks.page(PageText { limit, cursor }, LIMITS);
            assert_eq!(fields(checks), expected, "{limit:?} {cursor:?}");
        }
    }

    #[test]
    fn a_valid_page_passes() {
        let mut checks = Checks::default();
        let cursor = encode_cursor(Uuid::now_v7());
        let page = checks.page(
            PageText {
                limit: Some("10"),
                cursor: Some(&cursor),
            },
            LIMITS,
        );
        assert!(checks.finish().is_ok());
        assert_eq!(page.limit, 10);
        assert!(page.before.is_some());
    }

    #[test]
    fn a_page_has_a_cursor_only_when_more_rows_exist() {
        let page = PageRequest {
            limit: 2,
            before: None,
        };
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let full = Page::from_rows(ids.clone(), page, |id| *id);
        assert_eq!(full.data.len(), 2);
        assert_eq!(full.next_cursor, Some(encode_cursor(ids[1])));
        let last = Page::from_rows(ids[..2].to_vec(), page, |id| *id);
        assert_eq!(last.next_cursor, None);
    }
}
