//go:build !linux

package bench

import "os"

// fdatasync flushes f to stable storage; off Linux this is a full fsync.
func fdatasync(f *os.File) error { return f.Sync() }

// notableFS is only implemented on Linux.
func notableFS(string) string { return "" }
