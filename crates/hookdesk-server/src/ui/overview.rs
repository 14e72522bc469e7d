//! The overview: the last 24 hours of delivery (a chart drawn as server-side SVG, with a
//! table for screen readers), what waits, every webhook that is not delivering and why, each
//! webhook's success rate, how often each rule fired, and when API tokens were last used.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use hookdesk_core::Timestamp;
use hookdesk_core::audit::RuleFirings;
use hookdesk_core::invocation::{DeliveryStats, WebhookOutcomes};
use hookdesk_core::rules::Trigger;

use super::{Chrome, Moment, UiError, Viewer, render};
use crate::app::{App, Overview};

/// The chart's geometry, in the SVG's units: it is scaled to the page's width.
const PLOT_HEIGHT: u32 = 160;
const BAR_STEP: u32 = 40;
const BAR_WIDTH: u32 = 32;
/// Room for the scale's numbers on the left and the hours below.
const LEFT: u32 = 48;
const BOTTOM: u32 = 24;
const TOP: u32 = 8;

/// One hour's bar of the chart.
struct Bar {
    x: u32,
    ok_y: u32,
    ok_height: u32,
    failed_y: u32,
    failed_height: u32,
    /// `05:00`, UTC.
    hour: String,
    /// Whether the hour is labelled below the axis (every third).
    labelled: bool,
    label_x: u32,
    succeeded: i64,
    failed: i64,
}

/// A line of the scale: its y and its value.
struct Tick {
    y: u32,
    value: i64,
}

struct Chart {
    width: u32,
    height: u32,
    left: u32,
    axis_y: u32,
    label_y: u32,
    bars: Vec<Bar>,
    ticks: Vec<Tick>,
    busiest: i64,
}

/// Stacked bars, one an hour: succeeded below, failed above, on a scale from 0 to the
/// busiest hour rounded up.
fn chart(stats: &DeliveryStats) -> Chart {
    let busiest = stats.hourly.iter().map(|(_, ok, failed)| ok + failed).max().unwrap_or(0).max(1);
    // A top value the scale's halves read well at: 1, 2, 5 times a power of ten, or even.
    let top = nice_ceiling(busiest);
    let scale = |n: i64| ((n * i64::from(PLOT_HEIGHT)) / top) as u32;
    let axis_y = TOP + PLOT_HEIGHT;
    let bars = stats
        .hourly
        .iter()
        .enumerate()
        .map(|(i, (hour, ok, failed))| {
            let (ok_height, failed_height) = (scale(*ok), scale(*failed));
            let x = LEFT + i as u32 * BAR_STEP + (BAR_STEP - BAR_WIDTH) / 2;
            Bar {
                x,
                ok_y: axis_y - ok_height,
                ok_height,
                failed_y: axis_y - ok_height - failed_height,
                failed_height,
                hour: hour_label(*hour),
                labelled: i % 3 == 0,
                label_x: x + BAR_WIDTH / 2,
                succeeded: *ok,
                failed: *failed,
            }
        })
        .collect::<Vec<_>>();
    let mut values = vec![0, top / 2, top];
    values.dedup();
    let ticks = values.into_iter().map(|value| Tick { y: axis_y - scale(value), value }).collect();
    Chart {
        width: LEFT + bars.len() as u32 * BAR_STEP + 8,
        height: axis_y + BOTTOM,
        left: LEFT,
        axis_y,
        label_y: axis_y + 16,
        bars,
        ticks,
        busiest,
    }
}

/// The least of 1, 2, 5, 10, 20, 50... not below `n` (an even one above 2, so halves are whole).
fn nice_ceiling(n: i64) -> i64 {
    let mut power = 1;
    loop {
        for step in [1, 2, 5] {
            if step * power >= n {
                return step * power;
            }
        }
        power *= 10;
    }
}

/// `05:00`: the hour `at` starts, in UTC.
fn hour_label(at: Timestamp) -> String {
    at.to_string().get(11..16).map(str::to_owned).unwrap_or_default()
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

/// "97 % of 120", or None when nothing completed.
pub fn success_rate(outcomes: &WebhookOutcomes) -> Option<String> {
    let percent = outcomes.success_percent()?;
    Some(format!("{percent} % of {}", outcomes.succeeded + outcomes.failed))
}

struct Failure {
    id: String,
    webhook_id: String,
    /// None when the webhook was deleted since.
    webhook_name: Option<String>,
    at: Moment,
    error: String,
}

struct TroubledRow {
    id: String,
    name: String,
    state: &'static str,
    since: Option<Moment>,
    retrying: i64,
    last_error: Option<String>,
}

struct WebhookRate {
    id: String,
    name: String,
    rate: Option<String>,
    failed: i64,
}

/// A trigger or automation with its firings.
pub struct RuleUse {
    pub id: i64,
    pub title: String,
    pub active: bool,
    pub fired_7d: i64,
    pub last_fired: Option<Moment>,
}

impl RuleUse {
    pub fn new(rule: &Trigger, firings: &RuleFirings) -> Self {
        Self {
            id: rule.rule.id.0,
            title: rule.rule.title.clone(),
            active: rule.active,
            fired_7d: firings.fired_7d,
            last_fired: firings.last_fired_at.map(Moment),
        }
    }
}

struct TokenUse {
    user_id: i64,
    user_name: String,
    label: String,
    last_used: Option<Moment>,
}

#[derive(Template)]
#[template(path = "ui/overview.html")]
struct AdminPage {
    chrome: Chrome,
    stats: DeliveryStats,
    oldest_waiting: Option<String>,
    /// None when nothing was delivered in the window: no chart, a sentence.
    chart: Option<Chart>,
    troubled: Vec<TroubledRow>,
    rates: Vec<WebhookRate>,
    failures: Vec<Failure>,
    rule_tables: Vec<RuleTable>,
    tokens: Vec<TokenUse>,
}

/// The triggers or the automations, with their firings.
struct RuleTable {
    heading: &'static str,
    /// `triggers` or `automations`: their pages' path.
    href: &'static str,
    rules: Vec<RuleUse>,
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
    let Overview { now, stats, webhooks, troubled, latest_failures, triggers, automations, tokens } =
        app.overview(&admin).await?;
    let names = app.log_names(&admin, &latest_failures).await?;
    let delivered = stats.hourly.iter().any(|(_, ok, failed)| ok + failed > 0);
    let page = AdminPage {
        chrome: viewer.chrome("Overview"),
        oldest_waiting: stats.oldest_waiting_since.map(|since| age(since, now)),
        chart: delivered.then(|| chart(&stats)),
        stats,
        troubled: troubled
            .iter()
            .map(|t| TroubledRow {
                id: t.webhook.id.to_string(),
                name: t.webhook.name.clone(),
                state: t.state,
                since: t.since.map(Moment),
                retrying: t.outcomes.retrying,
                last_error: t.last_error.as_ref().map(|e| format!("{}: {}", e.code, e.message)),
            })
            .collect(),
        rates: webhooks
            .iter()
            .map(|(w, o)| WebhookRate {
                id: w.id.to_string(),
                name: w.name.clone(),
                rate: success_rate(o),
                failed: o.failed,
            })
            .collect(),
        failures: latest_failures
            .iter()
            .map(|i| Failure {
                id: i.id.to_string(),
                webhook_id: i.webhook_id.to_string(),
                webhook_name: names.webhooks.get(&i.webhook_id).cloned(),
                at: Moment(i.completed_at.unwrap_or(i.created_at)),
                error: i.error.as_ref().map(|e| format!("{}: {}", e.code, e.message)).unwrap_or_default(),
            })
            .collect(),
        rule_tables: vec![
            RuleTable {
                heading: "Triggers",
                href: "triggers",
                rules: triggers.iter().map(|(r, f)| RuleUse::new(r, f)).collect(),
            },
            RuleTable {
                heading: "Automations",
                href: "automations",
                rules: automations.iter().map(|(r, f)| RuleUse::new(r, f)).collect(),
            },
        ],
        tokens: tokens
            .into_iter()
            .map(|(user_id, user_name, token)| TokenUse {
                user_id: user_id.0,
                user_name,
                label: token.label,
                last_used: token.last_used_at.map(Moment),
            })
            .collect(),
    };
    Ok(render(&page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_tops_at_a_round_number() {
        assert_eq!([1, 2, 3, 7, 10, 11, 99, 101, 4000].map(nice_ceiling), [1, 2, 5, 10, 10, 20, 100, 200, 5000]);
    }
}
