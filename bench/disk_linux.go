package bench

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data (not necessarily its metadata) to stable storage.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// notableFS names the filesystem of dir when its write figures would not be
// those of a disk (memory-backed filesystems), and returns "" otherwise.
func notableFS(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return ""
	}
	switch st.Type {
	case 0x01021994: // TMPFS_MAGIC
		return "tmpfs"
	case 0x858458f6: // RAMFS_MAGIC
		return "ramfs"
	}
	return ""
}
