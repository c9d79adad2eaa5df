//! Cold start of a function process: from spawning it until the Lambda Runtime API emulator
//! receives its first invocation's answer, with its peak resident memory at that moment
//! (`VmHWM` of `/proc/<pid>/status`, read before the process is stopped).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::runtime_api::{Answer, Emulator};
use crate::stats::{median, median_u64};

/// A process to start cold.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its name in the results (and `AWS_LAMBDA_FUNCTION_NAME`).
    pub name: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Its whole environment (nothing is inherited).
    pub env: Vec<(String, String)>,
}

/// One cold start.
#[derive(Debug, Clone)]
pub struct Run {
    /// Spawn to answer.
    pub wall: Duration,
    /// Spawn to the first poll for an invocation: the initialisation (config, clients, secrets).
    pub init: Duration,
    /// Peak resident set (KiB) when the answer arrived.
    pub peak_rss_kib: u64,
    /// The answer's status: the `statusCode` of an HTTP answer, else `ok`; or the error.
    pub answer: String,
}

/// Why a cold start failed.
#[derive(Debug, thiserror::Error)]
pub enum ColdStartError {
    /// The emulator or the process could not start.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// The process answered with an error or an init error.
    #[error("{name} answered an error: {body} (log: {log})")]
    Failed {
        /// The target.
        name: String,
        /// The error body.
        body: String,
        /// Its output.
        log: String,
    },
    /// No answer within the time allowed.
    #[error("{name}: no answer within {secs} s (log: {log})")]
    Timeout {
        /// The target.
        name: String,
        /// The bound.
        secs: u64,
        /// Its output.
        log: String,
    },
}

/// Starts `target` cold once with `payload` as its first invocation.
pub async fn run_once(
    target: &Target,
    payload: &[u8],
    log_dir: &Path,
    timeout: Duration,
) -> Result<Run, ColdStartError> {
    let mut emulator = Emulator::start(payload.to_vec(), &target.name)
        .await
        .map_err(|e| ColdStartError::Io("runtime API emulator".into(), e))?;
    let log: PathBuf = log_dir.join(format!("{}.log", target.name));
    let output = std::fs::File::create(&log)
        .map_err(|e| ColdStartError::Io(format!("log {}", log.display()), e))?;
    let errors = output
        .try_clone()
        .map_err(|e| ColdStartError::Io("log".into(), e))?;
    let (program, args) = target.command.split_first().ok_or_else(|| {
        ColdStartError::Io(target.name.clone(), std::io::Error::other("no command"))
    })?;
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(target.env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api())
        .env("AWS_LAMBDA_FUNCTION_NAME", &target.name)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(errors);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| ColdStartError::Io(format!("starting {program}"), e))?;
    let answered = tokio::time::timeout(timeout, emulator.answer()).await;
    let peak_rss_kib = peak_rss_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    let log_text = log.display().to_string();
    let (answer, at) = match answered {
        Ok(Some(answer)) => answer,
        _ => {
            return Err(ColdStartError::Timeout {
                name: target.name.clone(),
                secs: timeout.as_secs(),
                log: log_text,
            });
        }
    };
    let body = match answer {
        Answer::Response(body) => body,
        Answer::Error(body) | Answer::InitError(body) => {
            return Err(ColdStartError::Failed {
                name: target.name.clone(),
                body: String::from_utf8_lossy(&body).into_owned(),
                log: log_text,
            });
        }
    };
    let answer = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("statusCode").and_then(Value::as_u64))
        .map_or_else(|| "ok".to_string(), |code| code.to_string());
    let init = emulator.first_poll().map_or(Duration::ZERO, |polled| {
        polled.saturating_duration_since(started)
    });
    Ok(Run {
        wall: at.saturating_duration_since(started),
        init,
        peak_rss_kib,
        answer,
    })
}

/// `VmHWM` (peak resident set, KiB) of a live process.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The medians of `runs` as JSON, with every run.
#[allow(clippy::float_arithmetic)] // timings, never money
pub fn summary(name: &str, runs: &[Run]) -> Value {
    let walls: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64() * 1e3).collect();
    let inits: Vec<f64> = runs.iter().map(|r| r.init.as_secs_f64() * 1e3).collect();
    let rss: Vec<u64> = runs.iter().map(|r| r.peak_rss_kib).collect();
    json!({
        "name": name,
        "runs": runs.len(),
        "wall_ms_median": median(&walls),
        "init_ms_median": median(&inits),
        "peak_rss_kib_median": median_u64(&rss),
        "wall_ms": walls,
        "peak_rss_kib": rss,
        "answers": runs.iter().map(|r| r.answer.clone()).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_peak_rss_of_this_process_is_read() {
        let kib = peak_rss_kib(std::process::id()).unwrap();
        assert!(kib > 100, "{kib}");
    }

    #[tokio::test]
    async fn a_process_that_never_polls_times_out_and_one_that_answers_is_timed() {
        let dir = std::env::temp_dir();
        // GIVEN a process that never talks to the runtime API
        let sleeper = Target {
            name: "sleeper".into(),
            command: vec!["/bin/sleep".into(), "5".into()],
            env: vec![],
        };
        // WHEN started cold THEN it times out
        let err = run_once(&sleeper, b"{}", &dir, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(err, ColdStartError::Timeout { .. }), "{err}");
    }
}
