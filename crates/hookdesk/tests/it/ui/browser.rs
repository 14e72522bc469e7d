//! A real headless Chromium (Debian's `chromium` and `chromium-driver`), driven over
//! WebDriver by fantoccini, each test with its own chromedriver on its own port.
//!
//! Without chromedriver the browser tests say so, are counted, and end; where
//! `HOOKDESK_REQUIRE_BROWSER` is set (`.ci/run` sets it, after installing the packages) a
//! missing browser fails them.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::support::{PATIENCE, TestApp};

const REQUIRE: &str = "HOOKDESK_REQUIRE_BROWSER";

/// chromedriver, where Debian's Chromium is installed beside it (the tests drive that one).
fn chromedriver() -> Option<PathBuf> {
    if !std::path::Path::new("/usr/bin/chromium").is_file() {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("chromedriver")).find(|p| p.is_file())
}

pub struct Browser {
    pub client: Client,
    base: String,
    _driver: Child,
}

impl Browser {
    /// A browser pointed at `app`, or none when chromedriver is missing and not required.
    pub async fn open(app: &TestApp) -> Option<Browser> {
        let Some(driver_path) = chromedriver() else {
            let why = "chromedriver or /usr/bin/chromium not installed: apt-get install chromium chromium-driver";
            hookdesk_test_support::skip(REQUIRE, "browser tests", why);
            return None;
        };
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("address").port()
        };
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"]
            }
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        };
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&webdriver).await {
                Ok(client) => break client,
                Err(e) if tokio::time::Instant::now() > deadline => panic!("chromedriver did not answer: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Some(Browser { client, base: app.url(""), _driver: driver })
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("the page loads");
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.expect("a URL").path().to_owned()
    }

    /// Waits until the page's path satisfies `expected` (a click's navigation may still run).
    pub async fn wait_for_path(&self, expected: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let path = self.path().await;
            if expected(&path) && self.client.find(Locator::Css("main")).await.is_ok() {
                return path;
            }
            assert!(tokio::time::Instant::now() < deadline, "the page stayed at {path}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types into the input named `name` (replacing what it held).
    pub async fn fill(&self, name: &str, value: &str) {
        let input = self.client.find(Locator::Css(&format!("[name=\"{name}\"]"))).await.expect("the input exists");
        input.clear().await.expect("cleared");
        input.send_keys(value).await.expect("typed");
    }

    /// Chooses the option `value` of the select `id`, as a click on it would, then waits for
    /// what the choice asked of the server (htmx) to be swapped in.
    pub async fn choose(&self, id: &str, value: &str) {
        let select = self.client.find(Locator::Id(id)).await.unwrap_or_else(|_| panic!("a select #{id}"));
        select.select_by_value(value).await.unwrap_or_else(|_| panic!("#{id} offers {value:?}"));
        self.settle().await;
    }

    /// Chooses the option of the select `id` whose text is `label`.
    pub async fn choose_label(&self, id: &str, label: &str) {
        let select = self.client.find(Locator::Id(id)).await.unwrap_or_else(|_| panic!("a select #{id}"));
        select.select_by_label(label).await.unwrap_or_else(|_| panic!("#{id} offers {label:?}"));
        self.settle().await;
    }

    /// Types `text` into the input `id` after what it holds.
    pub async fn type_into(&self, id: &str, text: &str) {
        let input = self.client.find(Locator::Id(id)).await.unwrap_or_else(|_| panic!("an input #{id}"));
        input.send_keys(text).await.expect("typed");
    }

    /// Clicks the element `id` (a button), then waits for what it asked of the server.
    pub async fn click_id(&self, id: &str) {
        self.client.find(Locator::Id(id)).await.unwrap_or_else(|_| panic!("#{id}")).click().await.expect("clicked");
        self.settle().await;
    }

    /// Waits until no htmx request is under way (a choice's rows swapped in).
    pub async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let busy = self
                .client
                .execute(
                    "return document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping') !== null;",
                    vec![],
                )
                .await
                .unwrap_or(json!(false));
            if busy == json!(false) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "an htmx request never ended");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// The text of the element `id`.
    pub async fn text_of(&self, id: &str) -> String {
        match self.client.find(Locator::Id(id)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the element `id` holds `text`; answers its text.
    pub async fn wait_for_text_in(&self, id: &str, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let found = self.text_of(id).await;
            if found.contains(text) {
                return found;
            }
            assert!(tokio::time::Instant::now() < deadline, "#{id} never showed {text:?}:\n{found}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the button whose text is `label`.
    pub async fn click_button(&self, label: &str) {
        let xpath = format!("//button[normalize-space(.)=\"{label}\"]");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("a {label} button"))
            .click()
            .await
            .expect("clicked");
    }

    pub async fn click_link(&self, text: &str) {
        self.client
            .find(Locator::LinkText(text))
            .await
            .unwrap_or_else(|_| panic!("a {text} link"))
            .click()
            .await
            .expect("clicked");
    }

    /// The visible text of the page's main landmark; empty while a page loads.
    pub async fn main_text(&self) -> String {
        match self.client.find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the main landmark's text contains `text`; answers it.
    pub async fn wait_for_text(&self, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let main = self.main_text().await;
            if main.contains(text) {
                return main;
            }
            assert!(tokio::time::Instant::now() < deadline, "the page never showed {text:?}:\n{main}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot as `target/ui-screenshots/NAME.png`, for reviewers (not committed).
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
        std::fs::create_dir_all(&dir).expect("a screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is written");
    }

    /// Runs axe-core on the page: the serious and critical accessibility violations.
    pub async fn accessibility_violations(&self) -> Vec<Value> {
        const AXE: &str = include_str!("axe/axe.min.js");
        self.client.execute(AXE, vec![]).await.expect("axe loads");
        let script = "const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html)}))));";
        let found = self.client.execute_async(script, vec![]).await.expect("axe runs");
        found.as_array().cloned().unwrap_or_default()
    }

    /// Whether any script planted by hostile content ran (it would set `window.__pwned`).
    pub async fn pwned(&self) -> bool {
        self.client.execute("return window.__pwned === true;", vec![]).await.expect("a script runs") == json!(true)
    }

    /// Runs the Chrome DevTools command `cmd` (through chromedriver's `goog/cdp/execute`).
    pub async fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.client.issue_cmd(Cdp { cmd, params }).await.unwrap_or_else(|e| panic!("{cmd}: {e}"))
    }

    /// A phone's viewport: 375 CSS pixels wide (not a mobile browser's zoom-out, so a page
    /// wider than that shows as wider).
    pub async fn phone_width(&self) {
        let metrics = json!({"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": false});
        self.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
    }

    /// Emulates `prefers-color-scheme: dark` (or light).
    pub async fn color_scheme(&self, scheme: &str) {
        let media = json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]});
        self.cdp("Emulation.setEmulatedMedia", media).await;
    }

    /// The page's width against the window's when the page scrolls sideways.
    pub async fn sideways(&self) -> Option<(i64, i64)> {
        let widths = self
            .client
            .execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![])
            .await
            .expect("widths");
        let (page, window) = (widths[0].as_i64().expect("a width"), widths[1].as_i64().expect("a width"));
        (page > window).then_some((page, window))
    }

    /// The elements that reach past the window's right edge and hold none that does: where
    /// a page too wide gets its width.
    pub async fn too_wide(&self) -> Value {
        let script = "const w = window.innerWidth; const wide = [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > w + 1);
            return wide.filter(e => !wide.some(o => o !== e && e.contains(o))).slice(0, 5)
                .map(e => e.outerHTML.slice(0, 160));";
        self.client.execute(script, vec![]).await.expect("a query")
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// A Chrome DevTools command, which chromedriver runs for its session.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(json!({"cmd": self.cmd, "params": self.params}).to_string()))
    }
}
