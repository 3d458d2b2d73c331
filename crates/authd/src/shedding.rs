//! Load shedding for password hashing: at most N hashes run at once; a login or
//! registration that finds every slot taken waits a bounded time, then gets 503, so a
//! flood of logins cannot starve token checks of CPU (ARCHITECTURE.md, "Outages and
//! floods").

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// The hashing slots.
#[derive(Debug, Clone)]
pub struct HashSlots {
    slots: Arc<Semaphore>,
    size: usize,
    wait: Duration,
}

impl HashSlots {
    /// `size` slots (at least one); a caller waits at most `wait` for one.
    pub fn new(size: usize, wait: Duration) -> Self {
        let size = size.max(1);
        Self {
            slots: Arc::new(Semaphore::new(size)),
            size,
            wait,
        }
    }

    /// Runs `work` (a login or registration: one password hash) in a slot, or answers
    /// [`auth_core::Error::Overloaded`] if none frees up within the wait.
    pub async fn run<T>(
        &self,
        work: impl Future<Output = auth_core::Result<T>>,
    ) -> auth_core::Result<T> {
        let permit = tokio::time::timeout(self.wait, self.slots.acquire())
            .await
            .map_err(|_| auth_core::Error::Overloaded)?
            .map_err(|_| auth_core::Error::Overloaded)?;
        let out = work.await;
        drop(permit);
        out
    }

    /// Slots in use now.
    pub fn busy(&self) -> usize {
        self.size - self.slots.available_permits()
    }

    /// Number of slots.
    pub fn size(&self) -> usize {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_slots_callers_wait_then_are_refused() {
        let slots = HashSlots::new(1, Duration::from_millis(50));
        let (hold_tx, hold_rx) = tokio::sync::oneshot::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let holder = {
            let slots = slots.clone();
            tokio::spawn(async move {
                slots
                    .run(async {
                        let _ = started_tx.send(());
                        let _ = hold_rx.await;
                        Ok(1)
                    })
                    .await
            })
        };
        started_rx.await.unwrap();
        assert_eq!(slots.busy(), 1);
        let refused = slots.run(async { Ok(2) }).await;
        assert!(matches!(refused, Err(auth_core::Error::Overloaded)));
        hold_tx.send(()).unwrap();
        assert_eq!(holder.await.unwrap().unwrap(), 1);
        assert_eq!(slots.run(async { Ok(3) }).await.unwrap(), 3);
        assert_eq!(slots.busy(), 0);
        assert_eq!(HashSlots::new(0, Duration::ZERO).size(), 1);
    }
}
