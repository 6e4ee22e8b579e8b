//! A virtual network's state after allocate and `one.vn.recover`, as OpenNebula 7.4 has
//! them: a network whose address ranges oned could not add (its IPAM `vnet_create` step) is
//! created all the same, in ERROR, with the reason in its template's `ERROR` attribute
//! (`<ctime> : <reason>`, oned's `set_template_error_message`); recover then settles it.

use nubo_types::states::VnetState;
use nubo_types::{AuthOp, Error, Oid, Result};

use super::generic::fetch_for;
use super::vnet::remove_vnet;
use crate::Core;
use crate::auth::Caller;
use crate::calendar::civil;
use crate::clock::now;
use crate::model::Vnet;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `epoch` as ctime(3) writes it, without the newline (`Mon Dec  7 00:45:15 2026`), the
/// format of oned's `one_util::log_time`. Nubo writes it in UTC, whereas oned's `ctime_r`
/// writes the server's local time: the two differ on servers not set to UTC.
pub fn log_time(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let weekday = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(m - 1).unwrap_or(0)];
    format!(
        "{weekday} {month} {d:>2} {:02}:{:02}:{:02} {y}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Moves the network to `state`. oned's `set_state` changes only STATE, but every store of
/// a network (`VirtualNetworkPool::update`) then copies it to PREV_STATE: once settled, a
/// network shows both the same (READY/READY, ERROR/ERROR).
pub fn settle(vnet: &mut Vnet, state: VnetState) {
    vnet.state = state;
    vnet.prev_state = state;
}

/// Sets the template's `ERROR` to `message`, stamped with the time as oned does.
pub fn set_error(vnet: &mut Vnet, message: &str) {
    vnet.template
        .set("ERROR", format!("{} : {message}", log_time(now())));
}

/// A recover operation the network's state does not allow: oned's INTERNAL error.
fn wrong_state(what: &str, id: Oid, state: VnetState) -> Error {
    Error::internal(format!(
        "Could not perform 'recover {what}' on VN {id}, wrong state {}.",
        state.name()
    ))
}

impl Core {
    /// Recovers a network stuck in a transient or failed state, as oned's
    /// `VirtualNetworkAPI::recover`: 0 failure (a pending driver step fails: ERROR), 1 success
    /// (READY, or gone if it was being deleted), 2 delete, 3 retry (a failed VM update).
    /// PREV_STATE follows STATE, as [`settle`] says.
    pub async fn vnet_recover(&self, caller: &Caller, id: Oid, op: i32) -> Result<Oid> {
        if !(0..=3).contains(&op) {
            return Err(Error::action("Wrong recovery operation code"));
        }
        self.write(|tx| {
            let mut vnet = (*fetch_for::<Vnet>(tx.state, caller, id, AuthOp::Manage)?).clone();
            let state = vnet.state;
            use VnetState as S;
            match (op, state) {
                (0, S::Init | S::LockCreate | S::LockDelete) => {
                    settle(&mut vnet, S::Error);
                    set_error(&mut vnet, "Failure forced by user");
                }
                (0, _) => return Err(wrong_state("failure", id, state)),
                (1, S::Init | S::LockCreate | S::Error | S::UpdateFailure) => {
                    vnet.template.remove("ERROR");
                    settle(&mut vnet, S::Ready);
                }
                (1, S::LockDelete) | (2, S::Init | S::LockCreate | S::LockDelete | S::Error) => {
                    remove_vnet(tx, &vnet)?;
                    return Ok(id);
                }
                (1, _) => return Err(wrong_state("success", id, state)),
                (2, _) => return Err(wrong_state("delete", id, state)),
                (_, S::UpdateFailure) => settle(&mut vnet, S::Ready),
                (_, _) => return Err(wrong_state("retry", id, state)),
            }
            tx.put(vnet)?;
            Ok(id)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_ctime() {
        assert_eq!(log_time(0), "Thu Jan  1 00:00:00 1970");
        // 2026-12-07 00:45:15 UTC, a Monday.
        assert_eq!(log_time(1_796_604_315), "Mon Dec  7 00:45:15 2026");
        assert_eq!(log_time(1_709_210_096), "Thu Feb 29 12:34:56 2024");
    }
}
