//! What every operation of the OpenAPI document has, whatever its route's annotation says:
//! a described response for each status, the 401 of a bearer-protected route, the error body
//! on every 4xx, and an explicit "no token" on the public ones. Tools refuse a document
//! without them (openapi-spec-validator, redocly, openapi-python-client).

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder, ServerBuilder};

/// Completes `document` in place.
pub(super) fn complete(document: &mut OpenApi) {
    document.servers = Some(vec![ServerBuilder::new().url("/").description(Some("This server")).build()]);
    for (path, item) in &mut document.paths.paths {
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                complete_operation(path, method, operation);
            }
        }
    }
}

fn complete_operation(path: &str, method: &str, operation: &mut Operation) {
    if operation.operation_id.is_none() {
        operation.operation_id = Some(operation_id(path, method));
    }
    let protected = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    if protected {
        if !operation.responses.responses.contains_key("401") {
            operation.responses.responses.insert("401".into(), error_response("401").into());
        }
    } else {
        // No token: said, so that a document-wide requirement never applies here.
        operation.security = Some(vec![SecurityRequirement::default()]);
    }
    for (status, response) in &mut operation.responses.responses {
        let RefOr::T(response) = response else { continue };
        if response.description.is_empty() {
            response.description = describe(status).to_owned();
        }
        if status.starts_with('4') && response.content.is_empty() {
            *response = error_response(status);
        }
    }
}

/// `GET /healthz` → `get_healthz`; `/hooks/{token}` → `post_hooks_token`.
fn operation_id(path: &str, method: &str) -> String {
    let words: Vec<&str> = path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    format!("{method}_{}", words.join("_"))
}

fn error_response(status: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(describe(status))
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
}

/// What a status means across the API; a route says more where it has more to say.
fn describe(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "Done: no content",
        "400" => "The body is not well-formed (malformed_json, malformed_yaml)",
        "401" => "No valid bearer token (invalid_token), or too many wrong ones from this address (429 throttled)",
        "403" => "The token's user may not do this (an agent where an admin is needed)",
        "404" => "No such object",
        "409" => "In conflict with what exists (a name already taken, an object still referred to)",
        "412" => "The object changed since the version given in If-Match (version_conflict)",
        "413" => "The body is over 1 MiB",
        "415" => "The body's Content-Type is not one this route takes",
        "422" => "A value that does not hold: details name each field",
        "429" => "Too many requests: wait as Retry-After says",
        "503" => "Not ready: the error body says why",
        _ => "See the error body",
    }
}
