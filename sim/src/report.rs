//! `--report DIR`: one self-contained HTML page (inline SVG charts, no
//! scripts, no server) with the summary, throughput and latency over time,
//! and a heat map of when each seat sold.

use super::checker::{self, Violation};
use super::cluster::FaultRecord;
use super::history::{FinalState, History, Op};
use super::run_config::SimConfig;
use super::summary::Summary;
use super::workload::Venue;
use plotters::prelude::*;
use std::collections::HashMap;
use std::path::Path;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 320;

pub fn write(
    dir: &Path,
    config: &SimConfig,
    history: &History,
    final_state: &FinalState,
    venue: &Venue,
    summary: &Summary,
    violations: &[Violation],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let charts = Charts::draw(history, final_state, venue, &summary.faults)?;
    let html = page_html(
        config,
        &verdict_html(history, violations),
        &summary_rows_html(summary),
        &charts,
    );
    std::fs::write(dir.join("index.html"), html)
}

/// The charts, each an inline SVG.
struct Charts {
    throughput: String,
    latency: String,
    heat: String,
}

impl Charts {
    fn draw(
        history: &History,
        final_state: &FinalState,
        venue: &Venue,
        faults: &[FaultRecord],
    ) -> std::io::Result<Charts> {
        let start = history.events.iter().map(|e| e.start_ms).min().unwrap_or(0);
        let throughput = throughput_svg(history, start, faults)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let latency =
            latency_svg(history, start).map_err(|e| std::io::Error::other(e.to_string()))?;
        let heat = heat_svg(history, final_state, venue, start)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Charts {
            throughput,
            latency,
            heat,
        })
    }
}

/// The summary table's rows (its Markdown header dropped) as HTML rows.
fn summary_rows_html(summary: &Summary) -> String {
    summary
        .table()
        .lines()
        .skip(2)
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            (cells.len() == 2).then(|| {
                format!(
                    "<tr><th>{}</th><td>{}</td></tr>",
                    escape(cells[0]),
                    escape(cells[1])
                )
            })
        })
        .collect()
}

/// The checker's verdict: no violation, or each with its history excerpt.
fn verdict_html(history: &History, violations: &[Violation]) -> String {
    if violations.is_empty() {
        return "<p class=ok>The checker found no violation.</p>".to_string();
    }
    let items: String = violations
        .iter()
        .map(|v| {
            format!(
                "<li><pre>{}</pre></li>",
                escape(&checker::describe(history, v))
            )
        })
        .collect();
    format!(
        "<p class=bad>{} violation(s):</p><ul>{items}</ul>",
        violations.len()
    )
}

/// The page: the run's settings, the verdict, the summary, the charts.
fn page_html(config: &SimConfig, verdict: &str, summary_rows: &str, charts: &Charts) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
<title>boxoffice simulation: {scenario:?}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}}\
table{{border-collapse:collapse}}th,td{{padding:.25rem .75rem;border-bottom:1px solid #ddd;text-align:left}}\
.ok{{color:#17693a;font-weight:600}}.bad{{color:#a4161a;font-weight:600}}pre{{white-space:pre-wrap}}</style></head>\
<body><h1>Simulation: {scenario:?}</h1>\
<p>{users} users, seed {seed}, {rows} rows x {seats} seats; {servers}; client faults: {faults}; {crash}.</p>\
{verdict}<h2>Summary</h2><table>{rows_html}</table>\
<h2>Throughput</h2>{throughput}<h2>Latency</h2>{latency}\
<h2>When each seat sold</h2><p>Earlier sales are darker; grey seats did not sell.</p>{heat}\
</body></html>",
        scenario = config.scenario,
        users = config.users,
        seed = config.seed,
        rows = config.rows,
        seats = config.seats_per_row,
        servers = escape(&servers_text(config)),
        faults = client_faults_text(config),
        crash = config.crash_every.map_or("no crashes".to_string(), |every| {
            format!("engine crashed every {:.1} s", every.as_secs_f64())
        }),
        rows_html = summary_rows,
        throughput = charts.throughput,
        latency = charts.latency,
        heat = charts.heat,
    )
}

/// What served the run, in words.
fn servers_text(config: &SimConfig) -> String {
    match (&config.cluster, config.targets.len()) {
        (Some(plan), _) => {
            let faults: Vec<&str> = plan.faults.iter().map(|f| f.name()).collect();
            format!(
                "{} nodes on PostgreSQL, lease {} ms, node faults: {}{}",
                plan.nodes,
                plan.lease_ms,
                if faults.is_empty() {
                    "none".to_string()
                } else {
                    faults.join(", ")
                },
                if plan.unsafe_no_fence {
                    " (fence OFF: a test of the checker)"
                } else {
                    ""
                }
            )
        }
        (None, 0) => "an engine in the simulator's process (sled)".to_string(),
        (None, 1) => format!("the server at {}", config.targets[0]),
        (None, n) => format!("{n} servers"),
    }
}

/// The client faults' rates, in words.
fn client_faults_text(config: &SimConfig) -> String {
    let f = &config.faults;
    let rates = [
        ("answers lost", f.lost_response),
        ("requests sent twice", f.duplicate),
        ("sent twice at once", f.concurrent_duplicate),
        ("users too slow for their holds", f.slow_client),
    ];
    let named: Vec<String> = rates
        .iter()
        .filter(|(_, rate)| *rate > 0.0)
        .map(|(name, rate)| format!("{name} {:.0}%", rate * 100.0))
        .collect();
    if named.is_empty() {
        "none".to_string()
    } else {
        named.join(", ")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

type ChartResult = Result<String, Box<dyn std::error::Error>>;

fn last_ms(history: &History, start: u64) -> u64 {
    history
        .events
        .iter()
        .map(|e| e.end_ms)
        .max()
        .unwrap_or(start)
}

/// Chart resolution: tenths of a second for short runs, seconds otherwise.
fn bin_ms(history: &History, start: u64) -> u64 {
    if last_ms(history, start) - start <= 20_000 {
        100
    } else {
        1000
    }
}

/// Bins of (requests, bookings), `width` ms wide.
fn bins(history: &History, start: u64, width: u64) -> Vec<(u32, u32)> {
    let last = last_ms(history, start);
    let mut bins = vec![(0u32, 0u32); ((last - start) / width + 1) as usize];
    for event in &history.events {
        let bin = &mut bins[((event.end_ms - start) / width) as usize];
        bin.0 += 1;
        if event.ok() && matches!(event.op, Op::Book { .. } | Op::Checkout { .. }) {
            bin.1 += 1;
        }
    }
    bins
}

/// Requests and bookings per second over time; each injected fault is a
/// shaded band from its start to its healing, labelled with its kind.
fn throughput_svg(history: &History, start: u64, faults: &[FaultRecord]) -> ChartResult {
    let width = bin_ms(history, start);
    let per_sec = 1000.0 / width as f64;
    let secs = |i: usize| i as f64 * width as f64 / 1000.0;
    let bins = bins(history, start, width);
    let top = bins.iter().map(|b| b.0).max().unwrap_or(1).max(1) as f64 * per_sec * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..secs(bins.len().max(1)), 0f64..top)?;
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc("per second")
            .draw()?;
        let at = |ms: u64| ms.saturating_sub(start) as f64 / 1000.0;
        let band = RGBColor(255, 170, 0);
        chart.draw_series(faults.iter().map(|f| {
            Rectangle::new(
                [(at(f.at_ms), 0.0), (at(f.healed_ms), top)],
                band.mix(0.25).filled(),
            )
        }))?;
        chart.draw_series(faults.iter().map(|f| {
            Text::new(
                f.kind.name(),
                (at(f.at_ms), top * 0.97),
                ("sans-serif", 13).into_font(),
            )
        }))?;
        chart
            .draw_series(LineSeries::new(
                bins.iter()
                    .enumerate()
                    .map(|(i, b)| (secs(i), b.0 as f64 * per_sec)),
                &BLUE,
            ))?
            .label("requests")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart
            .draw_series(LineSeries::new(
                bins.iter()
                    .enumerate()
                    .map(|(i, b)| (secs(i), b.1 as f64 * per_sec)),
                &RED,
            ))?
            .label("bookings")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        chart.configure_series_labels().border_style(BLACK).draw()?;
        root.present()?;
    }
    Ok(svg)
}

fn latency_svg(history: &History, start: u64) -> ChartResult {
    let width = bin_ms(history, start);
    let last = last_ms(history, start);
    let mut per_bin: Vec<Vec<u64>> = vec![Vec::new(); ((last - start) / width + 1) as usize];
    for event in &history.events {
        per_bin[((event.end_ms - start) / width) as usize].push(event.end_ms - event.start_ms);
    }
    let quantile = |values: &mut Vec<u64>, q: f64| {
        values.sort_unstable();
        values
            .get(((values.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0) as f64
    };
    let points: Vec<(f64, f64, f64)> = per_bin
        .iter_mut()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(i, v)| {
            (
                i as f64 * width as f64 / 1000.0,
                quantile(v, 0.5),
                quantile(v, 0.99),
            )
        })
        .collect();
    let span = (per_bin.len() as f64 * width as f64 / 1000.0).max(0.1);
    let top = points.iter().map(|p| p.2).fold(1.0, f64::max) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..span, 0f64..top)?;
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc("ms")
            .draw()?;
        chart
            .draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), &BLUE))?
            .label("p50")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart
            .draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.2)), &RED))?
            .label("p99")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        chart.configure_series_labels().border_style(BLACK).draw()?;
        root.present()?;
    }
    Ok(svg)
}

fn heat_svg(history: &History, final_state: &FinalState, venue: &Venue, start: u64) -> ChartResult {
    // When each seat's (surviving) booking was acknowledged.
    let confirmed: HashMap<&str, ()> = final_state
        .bookings
        .iter()
        .filter(|b| b.confirmed)
        .map(|b| (b.id.as_str(), ()))
        .collect();
    let mut sold_at: HashMap<String, u64> = HashMap::new();
    for event in history.events.iter().filter(|e| e.ok()) {
        let Some(body) = event.answer.as_ref().and_then(|a| a.json()) else {
            continue;
        };
        if !matches!(event.op, Op::Book { .. } | Op::Checkout { .. }) {
            continue;
        }
        if !body["id"]
            .as_str()
            .is_some_and(|id| confirmed.contains_key(id))
        {
            continue;
        }
        for seat in body["seats"].as_array().into_iter().flatten() {
            if let Some(seat) = seat.as_str() {
                let at = event.end_ms - start;
                sold_at
                    .entry(seat.to_string())
                    .and_modify(|t| *t = (*t).min(at))
                    .or_insert(at);
            }
        }
    }
    let latest = sold_at.values().copied().max().unwrap_or(1).max(1) as f64;
    let columns = venue.rows.iter().map(|(_, n)| *n).max().unwrap_or(1);
    let cell = (WIDTH as f64 / (columns as f64 + 2.0)).min(30.0);
    let height = (cell * (venue.rows.len() as f64 + 1.0)) as u32 + 20;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        for (r, (label, seats)) in venue.rows.iter().enumerate() {
            let y = (10.0 + r as f64 * cell) as i32;
            root.draw(&Text::new(
                label.clone(),
                (2, y + (cell / 4.0) as i32),
                ("sans-serif", 12),
            ))?;
            for n in 1..=*seats {
                let x = (cell * (n as f64)) as i32;
                let colour = match sold_at.get(&format!("{label}{n}")) {
                    Some(at) => {
                        let shade = (40.0 + 180.0 * (*at as f64 / latest)) as u8;
                        RGBColor(shade, shade / 3, 30)
                    }
                    None => RGBColor(210, 210, 210),
                };
                let size = (cell * 0.85) as i32;
                root.draw(&Rectangle::new(
                    [(x, y), (x + size, y + size)],
                    colour.filled(),
                ))?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}
