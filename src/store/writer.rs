//! Group commit in front of redb's single writer. Write operations are
//! closures queued on a channel; one thread takes every queued operation,
//! runs them in one write transaction, commits once (durably), then answers
//! each caller. Concurrent writers thus share one fsync.
//!
//! Invariant: an operation checks all its preconditions before its first
//! write, so a refused operation leaves nothing behind in the shared
//! transaction. A backend error aborts the whole batch and every operation
//! in it is answered with that error (nothing of the batch is committed).

use super::error::{Result, StoreError};
use redb::{Database, Durability, WriteTransaction};
use std::sync::Arc;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// Most operations committed together; bounds the latency of one batch.
const MAX_BATCH: usize = 256;

trait Op: Send {
    /// Run against the shared transaction; false on a backend error.
    fn run(&mut self, txn: &WriteTransaction) -> bool;
    /// Answer the caller once the batch is committed (or failed).
    fn finish(self: Box<Self>, commit: std::result::Result<(), StoreError>);
}

struct TypedOp<T, F> {
    f: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T: Send, F: FnOnce(&WriteTransaction) -> Result<T> + Send> Op for TypedOp<T, F> {
    fn run(&mut self, txn: &WriteTransaction) -> bool {
        let Some(f) = self.f.take() else { return true };
        let result = f(txn);
        let ok = !matches!(result, Err(StoreError::Backend(_)));
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: std::result::Result<(), StoreError>) {
        let answer = match commit {
            Err(e) => Err(e),
            Ok(()) => self
                .result
                .unwrap_or_else(|| Err(StoreError::Backend("operation did not run".into()))),
        };
        // The caller may have gone away (client disconnected); nothing to do then.
        let _ = self.reply.send(answer);
    }
}

/// Handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Op>>,
    thread: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl Writer {
    pub fn start(db: Arc<Database>) -> Writer {
        let (queue, rx) = mpsc::channel::<Box<dyn Op>>();
        let thread = std::thread::Builder::new()
            .name("herald-writer".into())
            .spawn(move || run(db, rx))
            .map_err(|e| tracing::error!("cannot start the writer thread: {e}"))
            .ok();
        Writer {
            queue,
            thread: Arc::new(std::sync::Mutex::new(thread)),
        }
    }

    /// Finish queued writes and stop the thread, if this is the last
    /// handle; otherwise just drop this handle.
    pub fn stop(self) {
        let Writer { queue, thread } = self;
        drop(queue);
        if let Some(Ok(Some(handle))) = Arc::into_inner(thread).map(|m| m.into_inner()) {
            let _ = handle.join();
        }
    }

    /// Queue a write operation and wait for its durable commit.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let op = TypedOp {
            f: Some(f),
            result: None,
            reply,
        };
        self.queue
            .send(Box::new(op))
            .map_err(|_| StoreError::Backend("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("the writer dropped the operation".into()))?
    }
}

fn run(db: Arc<Database>, rx: mpsc::Receiver<Box<dyn Op>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let outcome = commit_batch(&db, &mut batch);
        if let Err(e) = &outcome {
            tracing::error!("write batch of {} failed: {e}", batch.len());
        }
        for op in batch {
            op.finish(outcome.clone());
        }
    }
}

fn commit_batch(db: &Database, batch: &mut [Box<dyn Op>]) -> Result<()> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    for op in batch.iter_mut() {
        if !op.run(&txn) {
            txn.abort()?;
            return Err(StoreError::Backend(
                "a write in the batch failed; nothing was committed".into(),
            ));
        }
    }
    txn.commit()?;
    Ok(())
}
