fn main() -> std::process::ExitCode {
    explore::cli::main()
}
