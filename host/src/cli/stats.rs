//! `vigil run --stats`: what each rule of each tenant did, as a table on stderr.

use vigil::detector::DetectorStats;

const HEADERS: [&str; 9] = [
    "tenant",
    "rule",
    "events seen",
    "matched",
    "late",
    "incidents",
    "failures",
    "skipped",
    "time (ms)",
];

/// The table for `rows` (tenant, rule, stats), columns aligned, numbers to the right.
pub fn table(rows: &[(String, String, DetectorStats)]) -> String {
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|(tenant, rule, stats)| {
            [
                tenant.clone(),
                rule.clone(),
                stats.events_seen.to_string(),
                stats.matched.to_string(),
                stats.late.to_string(),
                stats.incidents.to_string(),
                stats.failures.to_string(),
                stats.skipped.to_string(),
                format!("{:.1}", stats.call_time.as_secs_f64() * 1000.0),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut text = String::new();
    let headers = HEADERS.map(str::to_string);
    for row in std::iter::once(&headers).chain(&cells) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(column, (cell, width))| match column {
                0 | 1 => format!("{cell:<width$}"),
                _ => format!("{cell:>width$}"),
            })
            .collect();
        text.push_str(line.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn columns_line_up() {
        let stats = DetectorStats {
            events_seen: 11,
            matched: 7,
            late: 0,
            incidents: 6,
            failures: 0,
            call_time: Duration::from_micros(1500),
            ..DetectorStats::default()
        };
        let text = table(&[("default".into(), "PH_Rule_SIGMA_1871".into(), stats)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "tenant   rule                events seen  matched  late  incidents  failures  skipped  time (ms)"
        );
        assert_eq!(
            lines[1],
            "default  PH_Rule_SIGMA_1871           11        7     0          6         0        0        1.5"
        );
    }
}
