//! A small client for QEMU's machine protocol (QMP) over a unix socket: connect, negotiate
//! capabilities, run commands one at a time and read their answers, skipping events.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::error::KvmError;

/// How long one QMP exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// One QMP connection.
#[derive(Debug)]
pub struct Qmp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Qmp {
    /// Connects to the socket and leaves capability negotiation done.
    pub async fn connect(socket: &Path) -> Result<Qmp, KvmError> {
        let stream = tokio::time::timeout(EXCHANGE_TIMEOUT, UnixStream::connect(socket))
            .await
            .map_err(|_| KvmError::Qmp("connecting to QMP timed out".into()))?
            .map_err(|e| KvmError::Qmp(format!("cannot connect to {}: {e}", socket.display())))?;
        let (read, writer) = stream.into_split();
        let mut qmp = Qmp {
            reader: BufReader::new(read),
            writer,
        };
        let greeting = qmp.read_message().await?;
        if greeting.get("QMP").is_none() {
            return Err(KvmError::Qmp(format!("unexpected greeting {greeting}")));
        }
        qmp.execute("qmp_capabilities", None).await?;
        Ok(qmp)
    }

    /// Runs one command and returns its `return` value, or the error QEMU gave.
    pub async fn execute(&mut self, command: &str, args: Option<Value>) -> Result<Value, KvmError> {
        let mut message = json!({ "execute": command });
        if let Some(args) = args {
            message["arguments"] = args;
        }
        let mut line = message.to_string();
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| KvmError::Qmp(format!("{command}: {e}")))?;
        loop {
            let answer = self.read_message().await?;
            if answer.get("event").is_some() {
                continue;
            }
            if let Some(value) = answer.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = answer.get("error") {
                let desc = error
                    .get("desc")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error");
                return Err(KvmError::Qmp(format!("{command}: {desc}")));
            }
        }
    }

    /// Runs a human-monitor command (for what QMP lacks, e.g. `savevm`); its text output
    /// is an error when not empty.
    pub async fn hmp(&mut self, command_line: &str) -> Result<(), KvmError> {
        let out = self
            .execute(
                "human-monitor-command",
                Some(json!({ "command-line": command_line })),
            )
            .await?;
        match out.as_str().map(str::trim) {
            None | Some("") => Ok(()),
            Some(text) => Err(KvmError::Qmp(format!("{command_line}: {text}"))),
        }
    }

    async fn read_message(&mut self) -> Result<Value, KvmError> {
        let mut line = String::new();
        let n = tokio::time::timeout(EXCHANGE_TIMEOUT, self.reader.read_line(&mut line))
            .await
            .map_err(|_| KvmError::Qmp("QMP did not answer in time".into()))?
            .map_err(|e| KvmError::Qmp(e.to_string()))?;
        if n == 0 {
            return Err(KvmError::Qmp("QEMU closed the QMP connection".into()));
        }
        serde_json::from_str(&line).map_err(|e| KvmError::Qmp(format!("bad QMP message: {e}")))
    }
}

/// Runs one command on a fresh connection.
pub async fn run(socket: &Path, command: &str, args: Option<Value>) -> Result<Value, KvmError> {
    Qmp::connect(socket).await?.execute(command, args).await
}
