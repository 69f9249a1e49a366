//! The `herald` command; everything lives in the library (`herald::cli`).

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    herald::cli::main()
}

/// glibc gives every thread that allocates under contention its own arena
/// (up to 8 per core) and keeps their freed memory: after large REPORT
/// answers that is ~25 MiB of RSS on a 2-core machine. Two arenas per core
/// keep the throughput: the async workers and the report threads (one per
/// core, `caldav/work.rs`) allocate at the same time, and with one arena
/// per core they contend (expand -25 %, docs/PERFORMANCE.md).
/// `MALLOC_ARENA_MAX` in the environment still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    /// M_ARENA_MAX from glibc's malloc.h.
    const M_ARENA_MAX: i32 = -8;
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = i32::try_from(cores * 2).unwrap_or(i32::MAX);
        // SAFETY: mallopt only changes allocator tuning; it is called before
        // any other thread exists, and a refusal (return 0) is harmless.
        unsafe {
            mallopt(M_ARENA_MAX, arenas);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
