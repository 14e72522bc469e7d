//! The `hookdesk` command. All the work is in the library: see `hookdesk::cli`.

fn main() -> std::process::ExitCode {
    hookdesk::cli::main()
}
