// Package vfs is the one filesystem seam under Eddy's storage. Every byte the
// broker reads or writes on disk goes through an FS, so tests can substitute
// an in-memory filesystem that simulates a crash (keeping only what was
// synced) or fails the Nth operation.
//
// The contract is deliberately small: whole-file operations on flat paths,
// positional reads, appending writes, and explicit Sync / SyncDir so that
// durability points are visible in the code that needs them.
package vfs

import (
	"errors"
	"io"
	"os"
)

// ErrInjected is returned by fault-injecting filesystems for an operation
// they were told to fail.
var ErrInjected = errors.New("vfs: injected fault")

// File is an open file. Writes always append at the end of the file (the
// storage layer never rewrites bytes in place, except through Truncate).
type File interface {
	io.ReaderAt
	io.Closer
	// Write appends p at the end of the file.
	Write(p []byte) (int, error)
	// Sync makes everything written so far durable (fdatasync).
	Sync() error
	// Truncate shrinks (or grows with zeros) the file to size.
	Truncate(size int64) error
	// Size returns the current size of the file, including unsynced writes.
	Size() (int64, error)
}

// FS is a filesystem.
type FS interface {
	// Create creates name, truncating it if it exists, open for writing and reading.
	Create(name string) (File, error)
	// OpenAppend opens an existing file for appending and reading.
	OpenAppend(name string) (File, error)
	// Open opens an existing file read-only.
	Open(name string) (File, error)
	// ReadFile reads a whole file.
	ReadFile(name string) ([]byte, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes a directory tree.
	RemoveAll(name string) error
	// Rename atomically renames oldname to newname (replacing newname).
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(dir string) error
	// List returns the names (not paths) of the entries in dir, sorted.
	List(dir string) ([]string, error)
	// Stat reports whether name exists and, for a file, its size.
	Stat(name string) (size int64, isDir bool, err error)
	// SyncDir makes the directory entries of dir (creations, renames,
	// removals) durable.
	SyncDir(dir string) error
}

// IsNotExist reports whether err says a file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// WriteFileAtomic replaces name with data durably: it writes a temporary file
// beside it, syncs it, renames it over name and syncs the directory. A crash
// at any point leaves either the old or the new content.
func WriteFileAtomic(fs FS, dir, name string, data []byte) error {
	tmp := dir + "/" + name + ".tmp"
	f, err := fs.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fs.Rename(tmp, dir+"/"+name); err != nil {
		return err
	}
	return fs.SyncDir(dir)
}

// MkdirPrivate creates dir and its parents, and on a filesystem with
// permissions (OS) makes dir accessible to its owner only (0700), for
// secrets such as salted credentials. Filesystems without permissions
// (MemFS, ErrorFS) just create it.
func MkdirPrivate(fs FS, dir string) error {
	if err := fs.MkdirAll(dir); err != nil {
		return err
	}
	if c, ok := fs.(interface{ chmodPrivate(dir string) error }); ok {
		return c.chmodPrivate(dir)
	}
	return nil
}
