//! Scripted outcomes of one simulated operation, used in rotation.

use std::time::Duration;

/// What an operation does once its delay has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    /// Succeed.
    Success,
    /// Fail.
    Failure,
    /// Never answer.
    Never,
}

/// A rotation of outcomes, each with an optional delay.
#[derive(Debug, Clone, Default)]
pub struct Script {
    steps: Vec<(Option<Duration>, Planned)>,
    next: usize,
}

impl Script {
    /// Parses `success [secs], failure [secs], -` (`,` or `;` separated). Unknown words
    /// count as success, so a typo never wedges a VM.
    pub fn parse(text: &str) -> Script {
        let steps = text
            .split([',', ';', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|step| {
                let mut words = step.split_whitespace();
                let planned = match words.next().unwrap_or("success") {
                    "-" => Planned::Never,
                    w if w.eq_ignore_ascii_case("failure") => Planned::Failure,
                    _ => Planned::Success,
                };
                let delay = words
                    .next()
                    .and_then(|s| s.parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64);
                (delay, planned)
            })
            .collect();
        Script { steps, next: 0 }
    }

    /// The next step's delay (or `default`) and outcome.
    pub fn next(&mut self, default: Duration) -> (Duration, Planned) {
        if self.steps.is_empty() {
            return (default, Planned::Success);
        }
        let (delay, planned) = self.steps[self.next % self.steps.len()];
        self.next = (self.next + 1) % self.steps.len();
        (delay.unwrap_or(default), planned)
    }
}
