//! The overview: the last 24 hours of delivery, what waits, failing webhooks and open
//! breakers, and the latest failures, with a small chart drawn as inline SVG.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use hookdesk_core::Timestamp;
use hookdesk_core::invocation::DeliveryStats;

use super::{Chrome, UiError, Viewer, render};
use crate::app::{App, Overview};

/// One hour's bar of the chart, in the SVG's units.
struct Bar {
    x: u32,
    ok_y: u32,
    ok_height: u32,
    failed_y: u32,
    failed_height: u32,
    title: String,
}

const CHART_HEIGHT: u32 = 80;
const BAR_WIDTH: u32 = 14;

/// Stacked bars, one an hour: succeeded below, failed above, scaled to the busiest hour.
fn bars(stats: &DeliveryStats) -> Vec<Bar> {
    let busiest = stats.hourly.iter().map(|(_, ok, failed)| ok + failed).max().unwrap_or(0).max(1);
    let scale = |n: i64| ((n * i64::from(CHART_HEIGHT)) / busiest) as u32;
    stats
        .hourly
        .iter()
        .enumerate()
        .map(|(i, (hour, ok, failed))| {
            let (ok_height, failed_height) = (scale(*ok), scale(*failed));
            Bar {
                x: i as u32 * (BAR_WIDTH + 2),
                ok_y: CHART_HEIGHT - ok_height,
                ok_height,
                failed_y: CHART_HEIGHT - ok_height - failed_height,
                failed_height,
                title: format!("{hour}: {ok} succeeded, {failed} failed"),
            }
        })
        .collect()
}

/// "3 min", "2 h": how long ago `since` was.
fn age(since: Timestamp, now: Timestamp) -> String {
    let seconds = (now.as_millis() - since.as_millis()).max(0) / 1000;
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

struct Failure {
    id: String,
    webhook_id: String,
    /// None when the webhook was deleted since.
    webhook_name: Option<String>,
    at: String,
    error: String,
}

struct Troubled {
    id: String,
    name: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "ui/overview.html")]
struct AdminPage {
    chrome: Chrome,
    stats: DeliveryStats,
    oldest_waiting: Option<String>,
    /// None when nothing was delivered in the window: no chart, a sentence.
    bars: Option<Vec<Bar>>,
    chart_width: u32,
    chart_height: u32,
    troubled: Vec<Troubled>,
    failures: Vec<Failure>,
}

#[derive(Template)]
#[template(path = "ui/overview_agent.html")]
struct AgentPage {
    chrome: Chrome,
}

/// `GET /ui/`.
pub async fn page(State(app): State<App>, viewer: Viewer) -> Result<Response, UiError> {
    let Ok(admin) = viewer.admin() else {
        return Ok(render(&AgentPage { chrome: viewer.chrome("Overview") }));
    };
    let Overview { now, stats, troubled, latest_failures } = app.overview(&admin).await?;
    let names = app.log_names(&admin, &latest_failures).await?;
    let delivered = stats.hourly.iter().any(|(_, ok, failed)| ok + failed > 0);
    let page = AdminPage {
        chrome: viewer.chrome("Overview"),
        oldest_waiting: stats.oldest_waiting_since.map(|since| age(since, now)),
        chart_width: stats.hourly.len() as u32 * (BAR_WIDTH + 2),
        chart_height: CHART_HEIGHT,
        bars: delivered.then(|| bars(&stats)),
        stats,
        troubled: troubled
            .iter()
            .map(|w| Troubled {
                id: w.id.to_string(),
                name: w.name.clone(),
                state: if w.health.failing { "failing" } else { w.health.breaker.as_str() },
            })
            .collect(),
        failures: latest_failures
            .iter()
            .map(|i| Failure {
                id: i.id.to_string(),
                webhook_id: i.webhook_id.to_string(),
                webhook_name: names.webhooks.get(&i.webhook_id).cloned(),
                at: i.completed_at.unwrap_or(i.created_at).to_string(),
                error: i.error.as_ref().map(|e| format!("{}: {}", e.code, e.message)).unwrap_or_default(),
            })
            .collect(),
    };
    Ok(render(&page))
}
