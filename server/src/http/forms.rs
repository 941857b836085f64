//! The phone pages' forms, posted by the browser itself.
//!
//! The join page and the ticket page are plain HTML forms that post to their own address, so
//! they work the moment they are painted: on a slow network the app's wasm arrives seconds
//! after the HTML, and some phones run no JavaScript at all. Once the app has loaded it takes
//! the submit over and uses the API instead; the rules are the same, because both paths end in
//! the same functions (`public::join_queue`, `public::cancel_by_holder`).
//!
//! Success redirects to the ticket (303, so a reload does not post again). A refusal renders the
//! page again, with the status the API would have answered, the message, and every field as it
//! was typed ([`app::FormRefusal`]).

use super::AppState;
use super::error::ApiError;
use super::extract::ClientIp;
use super::public;
use app::FormRefusal;
use app::pages::join::read_join_form;
use axum::Form;
use axum::body::Body;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, header};
use axum::response::{IntoResponse, Redirect, Response};

type Fields = Vec<(String, String)>;

/// `POST /v/{venue}`: the join form. The venue screen's join code, when the link has one, is in
/// the page's query string (the form posts to the page's own address).
pub async fn join(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(venue): Path<String>,
    query: Result<Query<Fields>, QueryRejection>,
    form: Result<Form<Fields>, FormRejection>,
) -> Response {
    let Ok(Form(fields)) = form else {
        return unreadable(&s, uri, &headers).await;
    };
    let code = query
        .ok()
        .and_then(|Query(q)| q.into_iter().find(|(k, _)| k == "code").map(|(_, v)| v));
    let field = |name: &str| posted(&fields, name).map(str::to_owned);
    let result = match read_join_form(field, code) {
        Ok((queue, body)) => public::join_queue(&s, ip, &venue, &queue, body).await,
        Err(message) => Err(ApiError::unprocessable("invalid_form", message)),
    };
    match result {
        Ok(ticket) => match ticket.token {
            Some(token) => see_other(&format!("/t/{token}")),
            None => {
                let e = anyhow::anyhow!("a join answered without its token");
                refuse(&s, uri, &headers, fields, e.into()).await
            }
        },
        Err(e) => refuse(&s, uri, &headers, fields, e).await,
    }
}

/// `POST /t/{token}` with `action=cancel`: the holder cancels, and sees the cancelled ticket.
pub async fn ticket(
    State(s): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: Result<Form<Fields>, FormRejection>,
) -> Response {
    let Ok(Form(fields)) = form else {
        return unreadable(&s, uri, &headers).await;
    };
    let result = match posted(&fields, "action") {
        Some("cancel") => public::cancel_by_holder(&s, &token).await,
        _ => Err(ApiError::unprocessable(
            "invalid_form",
            "We could not tell what you wanted to do. Please try again.",
        )),
    };
    match result {
        Ok(_) => see_other(&format!("/t/{token}")),
        Err(e) => refuse(&s, uri, &headers, fields, e).await,
    }
}

/// A posted field by name (the first, if it came twice).
fn posted<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn see_other(to: &str) -> Response {
    let mut resp = Redirect::to(to).into_response();
    no_store(&mut resp);
    resp
}

/// A body that is not a form (or too big): the page again, with nothing to give back.
async fn unreadable(s: &AppState, uri: axum::http::Uri, headers: &HeaderMap) -> Response {
    let e = ApiError::bad_request(
        "invalid_form",
        "We could not read that form. Please try again.",
    );
    refuse(s, uri, headers, Vec::new(), e).await
}

/// Render the page at `uri` again, as a `GET` would, with the refusal in its context.
async fn refuse(
    s: &AppState,
    uri: axum::http::Uri,
    headers: &HeaderMap,
    fields: Fields,
    e: ApiError,
) -> Response {
    let refusal = FormRefusal {
        error: e.message,
        fields,
    };
    let mut req = Request::get(uri)
        .body(Body::empty())
        .expect("a GET request");
    for (name, value) in headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            req.headers_mut().append(name, value.clone());
        }
    }
    let page_context = super::page_context(s);
    let (options, assets) = (s.leptos.clone(), s.assets.clone());
    let render = leptos_axum::render_app_to_stream_with_context(
        move || {
            page_context();
            leptos::prelude::provide_context(refusal.clone());
        },
        move || app::shell(options.clone(), assets.clone()),
    );
    let mut resp = render(req).await.into_response();
    *resp.status_mut() = e.status;
    if let Some(secs) = e.retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    no_store(&mut resp);
    resp
}

fn no_store(resp: &mut Response) {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
