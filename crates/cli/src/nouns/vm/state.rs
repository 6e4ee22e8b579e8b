//! VM states for people: onevm's four-letter STAT (`runn`, `poff`, `fail`…), the readable
//! state (the LCM_STATE name while ACTIVE, else the STATE name), failure states, and the
//! state names `nubo vm wait` and `nubo vm list --state` accept.

use nubo_client::Element;
use nubo_client::nouns::StateFilter;
use nubo_types::states::{LcmState, VmState};

/// A VM's STATE and LCM_STATE codes, as the server sent them (-1 when missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codes {
    /// STATE.
    pub state: i32,
    /// LCM_STATE.
    pub lcm: i32,
}

impl Codes {
    /// The codes of a `VM` element.
    pub fn of(vm: &Element) -> Codes {
        let code = |path| {
            vm.text_of(path)
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(-1)
        };
        Codes {
            state: code("STATE"),
            lcm: code("LCM_STATE"),
        }
    }

    /// Whether the VM is ACTIVE (so LCM_STATE says more).
    fn active(self) -> bool {
        self.state == VmState::Active.code()
    }

    /// The STATE name (`ACTIVE`, `POWEROFF`), or the number when unknown.
    pub fn state_name(self) -> String {
        VmState::from_code(self.state).map_or_else(|| self.state.to_string(), |s| s.name().into())
    }

    /// The LCM_STATE name (`RUNNING`, `LCM_INIT`), or the number when unknown.
    pub fn lcm_name(self) -> String {
        LcmState::from_code(self.lcm).map_or_else(|| self.lcm.to_string(), |s| s.name().into())
    }

    /// The state as one name: the LCM_STATE name while ACTIVE (`RUNNING`,
    /// `BOOT_FAILURE`), the STATE name otherwise (`POWEROFF`).
    pub fn readable(self) -> String {
        if self.active() {
            self.lcm_name()
        } else {
            self.state_name()
        }
    }

    /// onevm's four-letter STAT: `pend`, `runn`, `poff`, `fail`….
    pub fn short(self) -> &'static str {
        if self.active() {
            LcmState::from_code(self.lcm).map_or("unkn", short_lcm)
        } else {
            VmState::from_code(self.state).map_or("unkn", short_state)
        }
    }

    /// Whether the VM is stuck in a failure state that needs `recover` (or a retry).
    pub fn is_failure(self) -> bool {
        match VmState::from_code(self.state) {
            Some(VmState::Failed | VmState::CloningFailure) => true,
            Some(VmState::Active) => {
                LcmState::from_code(self.lcm).is_some_and(|l| l.name().ends_with("_FAILURE"))
            }
            _ => false,
        }
    }

    /// Whether the VM has ended.
    pub fn is_done(self) -> bool {
        self.state == VmState::Done.code()
    }
}

/// onevm's short name of a STATE other than ACTIVE.
fn short_state(state: VmState) -> &'static str {
    match state {
        VmState::Init => "init",
        VmState::Pending => "pend",
        VmState::Hold => "hold",
        VmState::Active => "actv",
        VmState::Stopped => "stop",
        VmState::Suspended => "susp",
        VmState::Done => "done",
        VmState::Failed | VmState::CloningFailure => "fail",
        VmState::Poweroff => "poff",
        VmState::Undeployed => "unde",
        VmState::Cloning => "clon",
    }
}

/// onevm's short name of an LCM_STATE.
fn short_lcm(lcm: LcmState) -> &'static str {
    use LcmState as L;
    match lcm {
        _ if lcm.name().ends_with("_FAILURE") => "fail",
        L::LcmInit => "init",
        L::Prolog | L::PrologResume | L::PrologUndeploy => "prol",
        L::Boot
        | L::BootUnknown
        | L::BootPoweroff
        | L::BootSuspended
        | L::BootStopped
        | L::BootUndeploy
        | L::BootMigrate => "boot",
        L::Running => "runn",
        L::Migrate
        | L::PrologMigrate
        | L::PrologMigratePoweroff
        | L::PrologMigrateSuspend
        | L::PrologMigrateUnknown => "migr",
        L::SaveStop | L::SaveSuspend | L::SaveMigrate => "save",
        L::EpilogStop | L::Epilog | L::EpilogUndeploy => "epil",
        L::Shutdown | L::ShutdownPoweroff | L::ShutdownUndeploy => "shut",
        L::CleanupResubmit | L::CleanupDelete => "clea",
        L::Unknown => "unkn",
        L::HotplugSnapshot
        | L::DiskSnapshotPoweroff
        | L::DiskSnapshotRevertPoweroff
        | L::DiskSnapshotDeletePoweroff
        | L::DiskSnapshotSuspended
        | L::DiskSnapshotDeleteSuspended
        | L::DiskSnapshot
        | L::DiskSnapshotDelete => "snap",
        L::DiskResize | L::DiskResizePoweroff | L::DiskResizeUndeployed => "drsz",
        L::Backup | L::BackupPoweroff => "back",
        L::Restore => "rest",
        _ => "hotp",
    }
}

/// Every short name, for matching `wait` targets.
const SHORT_NAMES: [&str; 25] = [
    "init", "pend", "hold", "actv", "stop", "susp", "done", "fail", "poff", "unde", "clon", "prol",
    "boot", "runn", "migr", "save", "epil", "shut", "clea", "unkn", "snap", "drsz", "back", "rest",
    "hotp",
];

/// A state to wait for: a STATE name (`poweroff`, `done`), an LCM_STATE name (`running`,
/// `boot_failure`), `failure` for any failure state, or a short STAT (`runn`, `poff`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// Any failure state.
    Failure,
    /// This STATE.
    State(VmState),
    /// ACTIVE in this LCM_STATE.
    Lcm(LcmState),
    /// This short STAT.
    Short(String),
}

impl std::str::FromStr for Wanted {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().replace('-', "_");
        let lower = name.to_ascii_lowercase();
        if lower == "failure" || lower == "failed" || lower == "fail" {
            return Ok(Wanted::Failure);
        }
        if let Some(state) = VmState::from_name(&name).filter(|s| *s != VmState::Failed) {
            return Ok(Wanted::State(state));
        }
        if let Some(lcm) = LcmState::from_name(&name).filter(|l| *l != LcmState::LcmInit) {
            return Ok(Wanted::Lcm(lcm));
        }
        if SHORT_NAMES.contains(&lower.as_str()) {
            return Ok(Wanted::Short(lower));
        }
        Err(format!(
            "unknown VM state {s:?}: expected a state such as running, poweroff, pending, hold, \
             stopped, suspended, undeployed, done or failure, an LCM state such as boot_failure, \
             or a short one such as runn"
        ))
    }
}

impl Wanted {
    /// Whether a VM with these codes is in the wanted state.
    pub fn matches(&self, codes: Codes) -> bool {
        match self {
            Wanted::Failure => codes.is_failure(),
            Wanted::State(state) => codes.state == state.code(),
            Wanted::Lcm(lcm) => codes.active() && codes.lcm == lcm.code(),
            Wanted::Short(short) => codes.short() == short,
        }
    }

    /// The name as people write it: `running`, `poweroff`, `failure`.
    pub fn name(&self) -> String {
        match self {
            Wanted::Failure => "failure".into(),
            Wanted::State(state) => state.name().to_ascii_lowercase(),
            Wanted::Lcm(lcm) => lcm.name().to_ascii_lowercase(),
            Wanted::Short(short) => short.clone(),
        }
    }
}

/// Parses `vm list --state`: a STATE name, or `any` for every VM including DONE ones.
pub fn state_filter(s: &str) -> Result<StateFilter, String> {
    if s.eq_ignore_ascii_case("any") || s.eq_ignore_ascii_case("all") {
        return Ok(StateFilter::Any);
    }
    VmState::from_name(&s.trim().replace('-', "_"))
        .map(StateFilter::Only)
        .ok_or_else(|| {
            format!(
                "unknown VM state {s:?}: expected any, pending, hold, active, stopped, \
                 suspended, done, poweroff, undeployed, cloning or cloning_failure"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(state: i32, lcm: i32) -> Codes {
        Codes { state, lcm }
    }

    #[test]
    fn short_names_follow_onevm() {
        assert_eq!(codes(1, 0).short(), "pend");
        assert_eq!(codes(2, 0).short(), "hold");
        assert_eq!(codes(3, 3).short(), "runn");
        assert_eq!(codes(3, 2).short(), "boot");
        assert_eq!(codes(3, 20).short(), "boot");
        assert_eq!(codes(3, 36).short(), "fail");
        assert_eq!(codes(3, 18).short(), "shut");
        assert_eq!(codes(3, 11).short(), "epil");
        assert_eq!(codes(3, 1).short(), "prol");
        assert_eq!(codes(3, 4).short(), "migr");
        assert_eq!(codes(3, 16).short(), "unkn");
        assert_eq!(codes(3, 17).short(), "hotp");
        assert_eq!(codes(3, 62).short(), "drsz");
        assert_eq!(codes(8, 0).short(), "poff");
        assert_eq!(codes(9, 0).short(), "unde");
        assert_eq!(codes(6, 0).short(), "done");
        assert_eq!(codes(11, 0).short(), "fail");
        assert_eq!(codes(42, 0).short(), "unkn");
    }

    #[test]
    fn readable_states_and_failures() {
        assert_eq!(codes(3, 3).readable(), "RUNNING");
        assert_eq!(codes(8, 0).readable(), "POWEROFF");
        assert!(codes(3, 39).is_failure());
        assert!(codes(11, 0).is_failure());
        assert!(!codes(3, 3).is_failure());
        assert!(codes(6, 0).is_done());
    }

    #[test]
    fn wait_targets() {
        let running: Wanted = "running".parse().expect("running");
        assert!(running.matches(codes(3, 3)));
        assert!(!running.matches(codes(3, 2)));
        let poweroff: Wanted = "POWEROFF".parse().expect("poweroff");
        assert!(poweroff.matches(codes(8, 0)));
        assert_eq!(poweroff.name(), "poweroff");
        let failure: Wanted = "failure".parse().expect("failure");
        assert!(failure.matches(codes(3, 36)));
        let boot_failure: Wanted = "boot-failure".parse().expect("boot-failure");
        assert!(boot_failure.matches(codes(3, 36)));
        let runn: Wanted = "runn".parse().expect("runn");
        assert!(runn.matches(codes(3, 3)));
        assert!("flying".parse::<Wanted>().is_err());
        assert!("lcm_init".parse::<Wanted>().is_err());
        assert_eq!(state_filter("any"), Ok(StateFilter::Any));
        assert_eq!(
            state_filter("poweroff"),
            Ok(StateFilter::Only(VmState::Poweroff))
        );
        assert!(state_filter("running").is_err());
    }
}
