// The image lock QEMU takes on a disk file (its file-posix driver), taken the same way so QEMU
// and moat each see the other's disks in use. A user of an image holds a one-byte shared lock
// at 100 + p for each permission p it has, and at 200 + p for each it lets no one else have;
// it may open the image when no other user refuses to share what it has, and none has what it
// refuses to share. Locks are on the open file description: the kernel drops them when the file
// is closed or the process ends, however it ends.
import { F_RDLCK, F_WRLCK, ofdLock, ofdLockedByOther } from "../sys/libc.js";

const PERM_BASE = 100;
const SHARED_BASE = 200;
/** QEMU's permission bits (BLK_PERM_CONSISTENT_READ, BLK_PERM_WRITE), as byte offsets. */
const CONSISTENT_READ = 0;
const WRITE = 1;

const WHO = "another process (QEMU or moat)";
const WRITER = `in use: ${WHO} has it open for writing`;
const NO_WRITER = `in use: ${WHO} has it open and lets no writer in (add ,ro to share it read-only)`;
const NO_READER = `in use: ${WHO} has it open and lets no reader in`;
const IN_USE = `in use: ${WHO} holds a lock on it`;

/**
 * Takes the image lock on an open disk file as a QEMU guest disk does: reading, plus writing
 * unless `readOnly`; every user lets other readers in and no other writer. The bytes are taken
 * first and the others' tested after, so of two users that start at once neither gets in
 * rather than both. Returns why the image is in use (the caller closes the file, which drops
 * what was taken), or undefined when the lock is held. Throws SysError if the file system
 * cannot lock.
 */
export function lockImage(fd: number, readOnly: boolean): string | undefined {
  const perms = readOnly ? [CONSISTENT_READ] : [CONSISTENT_READ, WRITE];
  for (const p of perms) if (!ofdLock(fd, F_RDLCK, PERM_BASE + p, 1)) return IN_USE;
  if (!ofdLock(fd, F_RDLCK, SHARED_BASE + WRITE, 1)) return IN_USE;
  // A writer elsewhere comes first: it also shares no writer, and that is the likelier case.
  if (ofdLockedByOther(fd, F_WRLCK, PERM_BASE + WRITE, 1)) return WRITER;
  if (!readOnly && ofdLockedByOther(fd, F_WRLCK, SHARED_BASE + WRITE, 1)) return NO_WRITER;
  if (ofdLockedByOther(fd, F_WRLCK, SHARED_BASE + CONSISTENT_READ, 1)) return NO_READER;
  return undefined;
}
