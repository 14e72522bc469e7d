//! The UI's static files, embedded in the binary. Pages link them with a content hash in the
//! query, so they can be cached for a year and still change with the binary.

use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::Digest;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: [Asset; 7] = [
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/ui/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/ui/app.js"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/ui/htmx-2.0.11.min.js"),
    },
    Asset {
        name: "htmx-LICENSE.txt",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../../assets/ui/htmx-LICENSE.txt"),
    },
    Asset {
        name: "reference.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/ui/reference.css"),
    },
    Asset {
        name: "redoc.standalone.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/ui/redoc-2.5.4.standalone.js"),
    },
    Asset {
        name: "redoc-LICENSE.txt",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../../assets/ui/redoc-LICENSE.txt"),
    },
];

/// The links pages put in their head.
pub struct Urls {
    pub css: String,
    pub js: String,
    pub htmx: String,
    pub redoc: String,
    pub reference_css: String,
}

/// Each asset's content hash (in `ASSETS`' order), computed once.
static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let version =
        |asset: &Asset| sha2::Sha256::digest(asset.bytes).iter().take(6).map(|b| format!("{b:02x}")).collect();
    ASSETS.iter().map(version).collect()
});

fn version(index: usize) -> &'static str {
    VERSIONS.get(index).map_or("", String::as_str)
}

fn url(name: &str) -> String {
    let index = ASSETS.iter().position(|a| a.name == name);
    index.map(|i| format!("/ui/assets/{name}?v={}", version(i))).unwrap_or_default()
}

pub static URLS: LazyLock<Urls> = LazyLock::new(|| Urls {
    css: url("app.css"),
    js: url("app.js"),
    htmx: url("htmx.min.js"),
    redoc: url("redoc.standalone.js"),
    reference_css: url("reference.css"),
});

#[derive(Deserialize)]
pub struct Versioned {
    v: Option<String>,
}

/// `GET /ui/assets/{file}`: immutable when asked for by its current hash, revalidated otherwise.
pub async fn serve(Path(file): Path<String>, Query(query): Query<Versioned>) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let asset = &ASSETS[index];
    let cache =
        if query.v.as_deref() == Some(version(index)) { "public, max-age=31536000, immutable" } else { "no-cache" };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (headers, asset.bytes).into_response()
}
