//! Long use cases that report progress: the CLI draws a bar from it, the finance screen
//! starts a run in the background and polls it.
//!
//! A [`Progress`] is a few atomics the use case updates as it goes (no locks on its path,
//! no writes to the database, whose write transaction the use case is holding). [`Jobs`]
//! keeps the runs started from the screen in memory, by number, with their outcome, for
//! the person who started them; a finished run is forgotten ten minutes after it ends (a
//! restart forgets all: the run itself is in the database, its report is only a summary).

use crate::error::AppError;
use crate::types::{InvoiceRunReport, RunPhase, RunProgressView};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PHASES: [RunPhase; 6] = [
    RunPhase::Queued,
    RunPhase::Rating,
    RunPhase::Adjusting,
    RunPhase::Drafting,
    RunPhase::Saving,
    RunPhase::Done,
];

/// How far a run has come.
#[derive(Debug, Default)]
pub struct Progress {
    phase: AtomicU8,
    done: AtomicU64,
    total: AtomicU64,
}

impl Progress {
    /// Enters a phase of `total` steps (0: not counted).
    pub fn phase(&self, phase: RunPhase, total: u64) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        let i = PHASES.iter().position(|p| *p == phase).unwrap_or_default();
        self.phase.store(i as u8, Ordering::Release);
    }

    /// One more step of the phase done.
    pub fn step(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// `(phase, done, total)` now.
    pub fn now(&self) -> (RunPhase, u64, u64) {
        let phase = PHASES[usize::from(self.phase.load(Ordering::Acquire)).min(PHASES.len() - 1)];
        let total = self.total.load(Ordering::Relaxed);
        (phase, self.done.load(Ordering::Relaxed).min(total.max(1)), total)
    }
}

/// Reports progress to an optional [`Progress`] (most callers do not watch).
pub(crate) fn report(progress: Option<&Progress>, phase: RunPhase, total: u64) {
    if let Some(p) = progress {
        p.phase(phase, total);
    }
}

/// One run started from the screen.
#[derive(Debug)]
pub struct Job {
    /// Who started it (an actor code): only they see it.
    pub owner: String,
    /// Its progress.
    pub progress: Progress,
    outcome: Mutex<Option<(Instant, Result<InvoiceRunReport, AppError>)>>,
}

impl Job {
    /// Records how the run ended.
    pub fn finish(&self, outcome: Result<InvoiceRunReport, AppError>) {
        self.progress.phase(RunPhase::Done, 0);
        if let Ok(mut o) = self.outcome.lock() {
            *o = Some((Instant::now(), outcome));
        }
    }

    /// The run as the screen shows it.
    pub fn view(&self) -> RunProgressView {
        let (phase, done, total) = self.progress.now();
        let outcome = self
            .outcome
            .lock()
            .ok()
            .and_then(|o| o.as_ref().map(|(_, r)| r.clone()));
        RunProgressView {
            phase: if outcome.is_some() { RunPhase::Done } else { phase },
            done,
            total,
            report: outcome.clone().and_then(Result::ok),
            error: outcome.and_then(Result::err),
        }
    }

    fn ended_before(&self, cutoff: Instant) -> bool {
        self.outcome
            .lock()
            .ok()
            .and_then(|o| o.as_ref().map(|(at, _)| *at < cutoff))
            .unwrap_or(false)
    }
}

/// The runs started from the screen, by number.
#[derive(Debug, Default)]
pub struct Jobs {
    next: AtomicU64,
    jobs: Mutex<HashMap<u64, Arc<Job>>>,
}

/// How long a finished run's outcome is kept for the screen to fetch.
const KEEP: Duration = Duration::from_secs(600);

impl Jobs {
    /// Registers a new run of `owner`'s: `(number, job)`.
    pub fn start(&self, owner: String) -> (u64, Arc<Job>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Arc::new(Job {
            owner,
            progress: Progress::default(),
            outcome: Mutex::new(None),
        });
        if let Ok(mut jobs) = self.jobs.lock() {
            if let Some(cutoff) = Instant::now().checked_sub(KEEP) {
                jobs.retain(|_, j| !j.ended_before(cutoff));
            }
            jobs.insert(id, job.clone());
        }
        (id, job)
    }

    /// `owner`'s run `id`, if it is theirs and still known.
    pub fn get(&self, id: u64, owner: &str) -> Option<Arc<Job>> {
        self.jobs.lock().ok()?.get(&id).filter(|j| j.owner == owner).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reports_its_phase_steps_and_outcome_to_its_owner_only() {
        let jobs = Jobs::default();
        let (id, job) = jobs.start("user:1".into());
        assert!(jobs.get(id, "user:2").is_none(), "another person's run is not visible");
        job.progress.phase(RunPhase::Drafting, 3);
        job.progress.step();
        job.progress.step();
        let v = jobs.get(id, "user:1").expect("own run").view();
        assert_eq!((v.phase, v.done, v.total), (RunPhase::Drafting, 2, 3));
        assert!(v.report.is_none() && v.error.is_none());
        job.finish(Err(AppError::invalid("period", "bad")));
        let v = job.view();
        assert_eq!(v.phase, RunPhase::Done);
        assert_eq!(v.error.map(|e| e.code).as_deref(), Some("invalid_input"));
    }
}
