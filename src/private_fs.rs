//! Owner-only files and directories. Everything herald keeps in its data
//! directory (the database with password hashes and every calendar, the
//! mail spool, the reply-token key, the control socket) is created readable
//! by its owner alone, whatever the process umask, and existing entries are
//! tightened when herald opens them.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of directories herald creates: rwx for the owner only.
pub const DIR_MODE: u32 = 0o700;
/// Mode of files herald creates: rw for the owner only.
pub const FILE_MODE: u32 = 0o600;

/// Create `dir` (and missing parents) owner-only; an existing `dir` is
/// tightened to `DIR_MODE`. Parents that already exist are left alone.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)?;
    restrict(dir, DIR_MODE)
}

/// Open options for a new file created with `FILE_MODE` (the umask can only
/// take bits away from it, never add).
pub fn file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// Make sure `path` exists as an owner-only file without touching its
/// contents (for files another library opens, such as the redb database).
pub fn ensure_file(path: &Path) -> io::Result<()> {
    let file: File = file_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    drop(file);
    restrict(path, FILE_MODE)
}

/// Write a new owner-only file; fails if `path` exists.
pub fn write_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = file_options().write(true).create_new(true).open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Set `path` to `mode` when it grants anything beyond it.
pub fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if current & !mode != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_owner_only_and_existing_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);

        let loose = tmp.path().join("loose");
        std::fs::create_dir(&loose).unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_dir(&loose).unwrap();
        assert_eq!(mode(&loose), 0o700);

        let f = dir.join("db");
        std::fs::write(&f, b"keep").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        ensure_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(std::fs::read(&f).unwrap(), b"keep");

        let n = dir.join("new");
        write_new(&n, b"x").unwrap();
        assert_eq!(mode(&n), 0o600);
        assert!(write_new(&n, b"y").is_err());
    }
}
