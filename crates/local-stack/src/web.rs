//! The web pages at `/`: static files from the web directory (`--web-dir`, default
//! `<repo>/web/app`), `index.html` for a directory, a small 404 page for anything missing.
//! Paths are decoded and any `..`, `.` or hidden component is refused, so nothing outside the
//! directory is served.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::apigw;
use crate::server::is_read;
use crate::stack::Shared;

/// The content type of a file, by extension.
pub fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("ico") => "image/x-icon",
        Some("webp") => "image/webp",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The file under `root` that `url_path` names, if the path is safe.
pub fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path)?;
    let mut path = root.to_path_buf();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) if !part.to_string_lossy().starts_with('.') => path.push(part),
            _ => return None,
        }
    }
    if path.is_dir() {
        path.push("index.html");
    }
    Some(path)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (!decoded.contains('\0') && !decoded.contains('\\')).then_some(decoded)
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// Everything the other routes do not take: a static file for GET and HEAD, else API Gateway's
/// 404.
pub async fn serve(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if !is_read(request.method()) {
        return apigw::gateway_error(StatusCode::NOT_FOUND, "Not Found");
    }
    let head = request.method() == axum::http::Method::HEAD;
    let Some(path) = resolve(&shared.web_dir, request.uri().path()) else {
        return page(StatusCode::NOT_FOUND, "Not found", "No such page.");
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut response = Response::new(if head {
                Body::empty()
            } else {
                Body::from(bytes)
            });
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&path)),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Err(_) if request.uri().path() == "/" => page(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!(
                "The web pages are not there yet ({} has no index.html). The API is at {}.",
                shared.web_dir.display(),
                shared.info.api_base_url
            ),
        ),
        Err(_) => page(StatusCode::NOT_FOUND, "Not found", "No such page."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_web_directory() {
        let root = Path::new("/srv/web");
        assert_eq!(
            resolve(root, "/css/app.css"),
            Some(PathBuf::from("/srv/web/css/app.css"))
        );
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(root, "/.git/config"), None);
        assert_eq!(resolve(root, "/a%5c..%5cb"), None);
        assert_eq!(
            content_type(Path::new("x.js")),
            "text/javascript; charset=utf-8"
        );
    }
}
