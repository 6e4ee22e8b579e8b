//! Every flag `nubo` takes, parsed once with clap: the global flags here, the commands in
//! [`crate::nouns`]. Doc comments are the `--help` text.

use clap::{Args, Parser};

use crate::nouns::Command;

/// What `--help` says about configuration.
const ENVIRONMENT: &str = "\
Environment:
  ONE_XMLRPC          XML-RPC endpoint (else ~/.one/one_endpoint, else http://localhost:2633/RPC2)
  ONE_AUTH            file holding one user:password line, or user:password itself
                      (default ~/.one/one_auth)
  ONE_XMLRPC_TIMEOUT  seconds a call may take (default: no limit)
  NUBO_API            REST API URL for `nubo app` (else --api, else
                      http://127.0.0.1:8080/api/v1); same credentials as above

Output:
  Listings are tables and `show` prints attributes then the template; --json converts the
  server's XML reply to JSON (repeated elements become arrays) and --xml prints it as is.
  `nubo app` prints the REST API's JSON with --json (--xml does not apply).

Exit status:
  0 success, 1 the server refused the request (or `vm wait` timed out, or the VM failed,
  or `app deploy`'s build failed), 2 bad usage, 3 the server could not be reached (or
  is not the API asked for) or no credentials were found";

/// Manage a Nubo (or OpenNebula 7.4) cloud: VMs, VM templates and groups, users, groups,
/// ACLs, hosts, clusters, datastores, images, virtual networks, security groups, documents
/// and zones; and apps on its PaaS (`nubo app`).
///
/// Objects are named by id or, where the kind's pool can be listed, by name.
#[derive(Debug, Parser)]
#[command(
    name = "nubo",
    version,
    after_long_help = ENVIRONMENT,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Settings every command shares.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Connection and output flags, accepted before or after the command.
#[derive(Debug, Args)]
pub struct Global {
    /// XML-RPC endpoint, e.g. http://cloud:2633/RPC2 (overrides ONE_XMLRPC).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// User to authenticate as, instead of the credentials in ONE_AUTH (needs --password).
    #[arg(long, global = true, value_name = "NAME", requires = "password")]
    pub user: Option<String>,
    /// Password (or login token) for --user.
    #[arg(long, global = true, value_name = "PASSWORD", requires = "user")]
    pub password: Option<String>,
    /// Print the reply as JSON.
    #[arg(long, global = true, conflicts_with = "xml")]
    pub json: bool,
    /// Print the server's XML reply unchanged.
    #[arg(long, global = true)]
    pub xml: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from([
            "nubo",
            "user",
            "list",
            "--json",
            "--endpoint",
            "http://x/RPC2",
        ])
        .expect("parse");
        assert!(cli.global.json);
        assert_eq!(cli.global.endpoint.as_deref(), Some("http://x/RPC2"));
        assert!(Cli::try_parse_from(["nubo", "--user", "a", "user", "list"]).is_err());
        assert!(Cli::try_parse_from(["nubo", "--json", "--xml", "user", "list"]).is_err());
    }
}
