//! The admin UI. `session` checks sign-in, CSRF and the page policy over plain HTTP;
//! `password` signing in as a person (passwords, links, lockouts);
//! `browser` drives a real headless Chromium through the pages as a user would.

pub mod browser;
mod editor;
mod flows;
mod overview;
mod pages;
mod password;
mod session;
mod tickets;

use reqwest::header;

use crate::support::TestApp;

/// A browser-like HTTP client: it keeps the session cookie and the page's CSRF token, and
/// does not follow redirects (tests look at them).
pub struct UiClient {
    http: reqwest::Client,
    base: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

impl UiClient {
    pub fn new(app: &TestApp) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { http, base: app.url(""), cookie: None, csrf: None }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.send().await.expect("the server answers")
    }

    /// Gets a page with another cookie beside the session's (the message a change left).
    pub async fn get_with_cookie(&self, path: &str, extra: &str) -> reqwest::Response {
        let cookie = match &self.cookie {
            Some(session) => format!("{session}; {extra}"),
            None => extra.to_owned(),
        };
        self.http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .expect("the server answers")
    }

    /// Posts a form as our pages do (same origin), with the CSRF token unless `fields` holds one.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post_from(path, fields, &self.base).await
    }

    /// Posts a form as if from a page of `origin`.
    pub async fn post_from(&self, path: &str, fields: &[(&str, &str)], origin: &str) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if let Some(csrf) = &self.csrf
            && !fields.iter().any(|(name, _)| *name == "csrf")
        {
            form.push(("csrf", csrf));
        }
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::ORIGIN, origin.trim_end_matches('/'))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish());
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.send().await.expect("the server answers")
    }

    /// Signs in with `token`; answers the sign-in's response.
    pub async fn sign_in(&mut self, token: &str) -> reqwest::Response {
        let response = self.post("/ui/login", &[("token", token)]).await;
        if let Some(cookie) = response.headers().get(header::SET_COOKIE) {
            let pair = cookie.to_str().expect("ascii").split(';').next().expect("a pair").to_owned();
            self.cookie = Some(pair);
            let page = self.get("/ui/").await.text().await.expect("a page");
            self.csrf = csrf_of(&page);
        }
        response
    }
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(page[at..].split('"').next()?.to_owned())
}
