//! Tasks: listing, and waiting for one to end (reference §4.6).
//!
//! A mutation answers `{"id","task"}` at once; the work is done when the task with that
//! `consul_id` (and name) reaches `complete` or `fail`. Right after the mutation the task may
//! not be listed yet, so an empty answer means "keep polling", not "failed".

use std::time::Duration;

use serde_json::Value;

use super::Vm6Client;
use super::filter::Where;
use super::rest::Call;
use super::wire::{List, Task, TaskRef, TaskStatus};
use crate::panel::error::PanelError;

/// How to wait for tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskWait {
    /// Pause between polls.
    pub interval: Duration,
    /// Give up after this long (the official WHMCS module waits 5 minutes).
    pub timeout: Duration,
}

impl Default for TaskWait {
    fn default() -> Self {
        TaskWait {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(300),
        }
    }
}

impl Vm6Client {
    /// `GET /vm/v3/task`, optionally filtered.
    pub async fn list_tasks(&self, filter: Option<&Where>) -> Result<Vec<Task>, PanelError> {
        let list: List<Task> = self
            .call(Call::get("task.list", "vm/v3/task").filtered(filter))
            .await?;
        Ok(list.list)
    }

    /// `GET /vm/v3/task/{id}`; the answer is `{"task":{…}}` in one client and the bare task
    /// in others, so both are read.
    pub async fn get_task(&self, id: u64) -> Result<Task, PanelError> {
        let path = format!("vm/v3/task/{id}");
        let value: Value = self.call(Call::get("task.get", &path)).await?;
        let task = value.get("task").cloned().unwrap_or(value);
        serde_json::from_value(task).map_err(|e| PanelError::Protocol {
            message: format!("task.get: unexpected JSON: {e}"),
        })
    }

    /// The task with this consul id (and name, when given), if the panel lists it yet.
    pub async fn find_task(
        &self,
        consul_id: u64,
        name: Option<&str>,
    ) -> Result<Option<Task>, PanelError> {
        let mut filter = Where::eq("consul_id", consul_id);
        if let Some(name) = name {
            filter = filter.and(Where::eq("name", name));
        }
        Ok(self.list_tasks(Some(&filter)).await?.into_iter().next())
    }

    /// Waits for the task a mutation answered, with the client's default timeout.
    pub async fn wait(&self, started: &TaskRef, name: &str) -> Result<Task, PanelError> {
        self.wait_task(started.task, Some(name), self.inner.tasks.timeout)
            .await
    }

    /// Polls until the task is `complete` (Ok) or `fail` (`PanelError::Task`), or `timeout`
    /// passes (`PanelError::Task` with `timed_out`).
    pub async fn wait_task(
        &self,
        consul_id: u64,
        name: Option<&str>,
        timeout: Duration,
    ) -> Result<Task, PanelError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let label = name.unwrap_or("task").to_owned();
        let mut last_status = String::from("not listed yet");
        loop {
            if let Some(task) = self.find_task(consul_id, name).await? {
                match &task.status {
                    TaskStatus::Complete => return Ok(task),
                    TaskStatus::Fail => {
                        let message = match &task.output {
                            Value::String(s) if !s.is_empty() => s.clone(),
                            Value::Null => "the panel gave no reason".to_owned(),
                            other => other.to_string(),
                        };
                        // Task output is the panel's free text (a recipe's log, say).
                        let failed = PanelError::Task {
                            name: task.name.clone(),
                            id: consul_id,
                            timed_out: false,
                            message,
                        };
                        return Err(failed.scrubbed(&self.scrub().await));
                    }
                    TaskStatus::InProgress(status) => last_status = status.clone(),
                    TaskStatus::Unknown => last_status = "without status".to_owned(),
                }
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(PanelError::Task {
                    name: label,
                    id: consul_id,
                    timed_out: true,
                    message: format!("still {last_status} after {timeout:?}"),
                });
            }
            let pause = self.inner.tasks.interval.min(deadline - now);
            tokio::time::sleep(pause).await;
        }
    }
}
