//! The doctor's output: one line per check (ok / warn / fail / skip, what was found, the change
//! that fixes it), the likely causes of a refused login under its line, and the same as JSON.

use serde_json::{Value, json};
use std::fmt::Write as _;

/// A check's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    /// Works, but something will bite (an expiring certificate, a clock a minute off).
    Warn,
    Fail,
    /// Not run: an earlier check's failure makes it pointless or unsafe.
    Skip,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One possible reason a login was refused, with its fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// A stable name (for JSON readers and tests): `clock`, `credentials`, `host`, ...
    pub id: &'static str,
    pub why: String,
    pub fix: String,
}

/// One check's result.
#[derive(Clone, Debug)]
pub struct Check {
    /// A stable name: `endpoint`, `dns`, `credentials`, `token`, `clock`, `tcp`, `tls`,
    /// `cleartext`, `login`.
    pub id: &'static str,
    pub status: Status,
    /// What was found, in one sentence.
    pub summary: String,
    /// The change that fixes it (every warn and fail has one).
    pub fix: Option<String>,
    /// Facts for `--json` readers (never a secret).
    pub facts: Vec<(&'static str, Value)>,
    /// For a refused login: what may have caused it, most likely first.
    pub causes: Vec<Cause>,
}

impl Check {
    pub fn ok(id: &'static str, summary: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Ok,
            summary: summary.into(),
            fix: None,
            facts: Vec::new(),
            causes: Vec::new(),
        }
    }

    pub fn warn(id: &'static str, summary: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: Status::Warn,
            fix: Some(fix.into()),
            ..Check::ok(id, summary)
        }
    }

    pub fn fail(id: &'static str, summary: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: Status::Fail,
            fix: Some(fix.into()),
            ..Check::ok(id, summary)
        }
    }

    pub fn skip(id: &'static str, summary: impl Into<String>) -> Check {
        Check {
            status: Status::Skip,
            ..Check::ok(id, summary)
        }
    }

    pub fn fact(mut self, name: &'static str, value: impl Into<Value>) -> Check {
        self.facts.push((name, value.into()));
        self
    }
}

/// Width of the check-name column.
const NAME_WIDTH: usize = 12;

/// The text report: a line per check, the causes of a refused login indented under it, and a
/// last line with the counts.
pub fn text(checks: &[Check]) -> String {
    let mut out = String::new();
    let indent = " ".repeat(6 + NAME_WIDTH);
    for check in checks {
        let _ = write!(
            out,
            "{:<6}{:<NAME_WIDTH$}{}",
            check.status.name(),
            check.id,
            check.summary
        );
        if let Some(fix) = &check.fix {
            let _ = write!(out, " Fix: {fix}");
        }
        out.push('\n');
        if !check.causes.is_empty() {
            let _ = writeln!(out, "{indent}likely causes, most likely first:");
            for (i, cause) in check.causes.iter().enumerate() {
                let _ = writeln!(out, "{indent}{}. {} Fix: {}", i + 1, cause.why, cause.fix);
            }
        }
    }
    out.push_str(&counts_line(checks));
    out.push('\n');
    out
}

fn counts_line(checks: &[Check]) -> String {
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let (failed, warned, ok, skipped) = (
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Ok),
        count(Status::Skip),
    );
    let mut line = if failed == 0 {
        format!("doctor: all checks passed ({ok} ok")
    } else {
        format!("doctor: {failed} failed ({ok} ok")
    };
    if warned > 0 {
        let _ = write!(
            line,
            ", {warned} warning{}",
            if warned == 1 { "" } else { "s" }
        );
    }
    if skipped > 0 {
        let _ = write!(line, ", {skipped} skipped");
    }
    line.push(')');
    if let Some(first) = checks.iter().find(|c| c.status == Status::Fail) {
        let _ = write!(line, "; first failure: {}", first.id);
    }
    line
}

/// The JSON report: `{"ok": bool, "checks": [...]}`.
pub fn json(checks: &[Check]) -> Value {
    let checks_json: Vec<Value> = checks
        .iter()
        .map(|c| {
            let facts: serde_json::Map<String, Value> = c
                .facts
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect();
            json!({
                "check": c.id,
                "status": c.status.name(),
                "summary": c.summary,
                "fix": c.fix,
                "facts": facts,
                "causes": c.causes.iter().map(|x| json!({"cause": x.id, "why": x.why, "fix": x.fix})).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "ok": checks.iter().all(|c| c.status != Status::Fail),
        "checks": checks_json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_says_status_check_finding_and_fix() {
        let mut login = Check::fail("login", "the server refused the token.", "see below");
        login.causes.push(Cause {
            id: "policy",
            why: "no rds-db:connect.".into(),
            fix: "attach the policy.".into(),
        });
        let checks = [
            Check::ok("endpoint", "an RDS name."),
            Check::warn("clock", "40 s ahead.", "sync the clock."),
            login,
            Check::skip("tls", "not run."),
        ];
        let text = text(&checks);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ok    endpoint    an RDS name.");
        assert_eq!(
            lines[1],
            "warn  clock       40 s ahead. Fix: sync the clock."
        );
        assert_eq!(
            lines[2],
            "fail  login       the server refused the token. Fix: see below"
        );
        assert!(
            lines[4]
                .trim_start()
                .starts_with("1. no rds-db:connect. Fix: attach"),
            "{text}"
        );
        assert_eq!(
            lines.last().unwrap(),
            &"doctor: 1 failed (1 ok, 1 warning, 1 skipped); first failure: login"
        );
        let j = json(&checks);
        assert_eq!(j["ok"], false);
        assert_eq!(j["checks"][2]["causes"][0]["cause"], "policy");
    }
}
