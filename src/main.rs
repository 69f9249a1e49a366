//! The `herald` command; everything lives in the library (`herald::cli`).

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    herald::cli::main()
}

/// glibc gives every thread that allocates under contention its own arena
/// (up to 8 per core) and keeps their freed memory: after large REPORT
/// answers that is ~25 MiB of RSS on a 2-core machine. Two arenas keep the
/// same throughput here (docs/PERFORMANCE.md). `MALLOC_ARENA_MAX` in the
/// environment still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    /// M_ARENA_MAX from glibc's malloc.h.
    const M_ARENA_MAX: i32 = -8;
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes allocator tuning; it is called before
        // any other thread exists, and a refusal (return 0) is harmless.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
