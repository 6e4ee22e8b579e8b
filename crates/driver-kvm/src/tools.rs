//! Running the helper programs the driver needs (qemu-img, genisoimage, ip) and turning
//! their failures into errors that carry what they printed.

use std::ffi::OsStr;

use tokio::process::Command;

use crate::error::KvmError;

/// Runs `program args…`; its standard output on success, its error output otherwise.
pub async fn run<I, S>(program: &str, args: I) -> Result<String, KvmError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| KvmError::Tool {
            program: program.to_string(),
            message: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr.trim();
        Err(KvmError::Tool {
            program: program.to_string(),
            message: if message.is_empty() {
                out.status.to_string()
            } else {
                message.to_string()
            },
        })
    }
}
