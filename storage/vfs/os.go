package vfs

import (
	"os"
	"path/filepath"
)

// Default is the real filesystem (see OS).
var Default FS = OS()

// OS returns the real filesystem, implemented on top of package os.
//
// Paths are passed to the operating system as they are (after
// filepath.FromSlash), so relative paths are relative to the process's
// working directory. Files are created with mode 0644 and directories with
// mode 0755. Writes append: files opened for writing use O_APPEND. File.Sync
// is (*os.File).Sync (fsync(2) on Linux, which implies fdatasync), and
// SyncDir opens the directory and fsyncs it. Stat reports size 0 for a
// directory.
func OS() FS { return osFS{} }

type osFS struct{}

type osFile struct{ f *os.File }

func (osFS) Create(name string) (File, error) {
	return openOS(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND)
}

func (osFS) OpenAppend(name string) (File, error) {
	return openOS(name, os.O_RDWR|os.O_APPEND)
}

func (osFS) Open(name string) (File, error) {
	return openOS(name, os.O_RDONLY)
}

func openOS(name string, flag int) (File, error) {
	f, err := os.OpenFile(filepath.FromSlash(name), flag, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) ReadFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.FromSlash(name))
}

func (osFS) Remove(name string) error { return os.Remove(filepath.FromSlash(name)) }

func (osFS) RemoveAll(name string) error { return os.RemoveAll(filepath.FromSlash(name)) }

func (osFS) Rename(oldname, newname string) error {
	return os.Rename(filepath.FromSlash(oldname), filepath.FromSlash(newname))
}

func (osFS) MkdirAll(dir string) error { return os.MkdirAll(filepath.FromSlash(dir), 0o755) }

func (osFS) chmodPrivate(dir string) error { return os.Chmod(filepath.FromSlash(dir), 0o700) }

func (osFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.FromSlash(dir)) // sorted by name
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (osFS) Stat(name string) (int64, bool, error) {
	fi, err := os.Stat(filepath.FromSlash(name))
	if err != nil {
		return 0, false, err
	}
	if fi.IsDir() {
		return 0, true, nil
	}
	return fi.Size(), false, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.FromSlash(dir))
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

func (f osFile) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }
func (f osFile) Write(p []byte) (int, error)             { return f.f.Write(p) }
func (f osFile) Sync() error                             { return f.f.Sync() }
func (f osFile) Truncate(size int64) error               { return f.f.Truncate(size) }
func (f osFile) Close() error                            { return f.f.Close() }

func (f osFile) Size() (int64, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
