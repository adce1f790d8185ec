fn main() {
    std::process::exit(loyalty::cli::main());
}
