package vfs

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
)

// ErrNoSpace is an injectable error modelling a full disk: errors.Is reports
// it as both ErrInjected and syscall.ENOSPC. Use it with WithInjectedError.
var ErrNoSpace error = injectedErrno{syscall.ENOSPC}

type injectedErrno struct{ errno syscall.Errno }

func (e injectedErrno) Error() string { return "vfs: injected fault: " + e.errno.Error() }

func (e injectedErrno) Is(target error) bool {
	return target == ErrInjected || target == e.errno
}

// OpKind is a kind of operation counted by ErrorFS.
type OpKind int

// The operations ErrorFS counts and can fail. File.Close and File.Size are
// never counted nor failed.
const (
	OpCreate OpKind = iota
	OpOpenAppend
	OpOpen
	OpReadFile
	OpRemove
	OpRemoveAll
	OpRename
	OpMkdirAll
	OpList
	OpStat
	OpSyncDir
	OpWrite    // File.Write
	OpSync     // File.Sync
	OpTruncate // File.Truncate
	OpReadAt   // File.ReadAt
	numOpKinds
)

var opNames = [numOpKinds]string{
	"create", "openappend", "open", "readfile", "remove", "removeall",
	"rename", "mkdirall", "list", "stat", "syncdir",
	"write", "sync", "truncate", "readat",
}

func (k OpKind) String() string {
	if k >= 0 && k < numOpKinds {
		return opNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// ErrorFS wraps an FS and fails operations on demand, to test that code
// handles I/O errors and, together with MemFS crashes, that it stays
// consistent whatever operation fails.
//
// ErrorFS counts the operations that touch the disk: Create, OpenAppend,
// Open, ReadFile, Remove, RemoveAll, Rename, MkdirAll, List, Stat and
// SyncDir on the FS, and Write, Sync, Truncate and ReadAt on its files
// (File.Close and File.Size are not counted and never fail). WithOps
// restricts counting to some kinds. Operations are numbered from 0 in the
// order they are called; Ops reports how many were counted, so a test can
// run a workload once to count its operations N, then rerun it N times on a
// fresh filesystem with FailAfter(i), for i in 0..N-1:
//
//	for i := 0; ; i++ {
//		mem := vfs.NewMem()
//		efs := vfs.NewErrorFS(mem)
//		efs.FailAfter(i)
//		err := workload(efs)
//		if efs.Injected() == 0 {
//			break // the workload has fewer than i+1 operations
//		}
//		// check err, then mem.Crash() and check recovery
//	}
//
// A failed operation is not passed to the wrapped FS (except a partial
// write, see WithPartialWrites) and returns an error wrapping the injected
// error (ErrInjected by default): errors.Is(err, vfs.ErrInjected) holds.
//
// By default the failure is one-shot: the chosen operation fails and later
// ones succeed (a transient error). WithSticky makes every later operation
// fail too, modelling a dead disk.
//
// ErrorFS is safe for concurrent use, but then which operation is the i-th
// depends on scheduling.
type ErrorFS struct {
	inner FS

	mu       sync.Mutex
	ops      int // operations counted so far
	failAt   int // index of the operation to fail; -1 when disarmed
	injected int // number of failures injected
	last     string
	sticky   bool
	err      error
	partial  bool
	rng      *rand.Rand
	mask     uint32 // bit k set: OpKind k is counted
}

// ErrorFSOption configures an ErrorFS.
type ErrorFSOption func(*ErrorFS)

// WithSticky makes the injected failure sticky: once an operation fails,
// every later counted operation fails too (a dead disk).
func WithSticky() ErrorFSOption { return func(e *ErrorFS) { e.sticky = true } }

// WithInjectedError makes failed operations return an error wrapping err
// instead of ErrInjected, for instance ErrNoSpace.
func WithInjectedError(err error) ErrorFSOption { return func(e *ErrorFS) { e.err = err } }

// WithPartialWrites makes a failed Write first write a strict prefix of its
// data to the wrapped file, modelling a short write: the length is
// rng.IntN(len(p)), or len(p)/2 if rng is nil. The Write returns the length
// written and the injected error.
func WithPartialWrites(rng *rand.Rand) ErrorFSOption {
	return func(e *ErrorFS) { e.partial, e.rng = true, rng }
}

// WithOps restricts ErrorFS to counting and failing only the given kinds of
// operations; the others pass through uncounted.
func WithOps(kinds ...OpKind) ErrorFSOption {
	return func(e *ErrorFS) {
		e.mask = 0
		for _, k := range kinds {
			e.mask |= 1 << uint(k)
		}
	}
}

// NewErrorFS wraps inner. It starts disarmed: nothing fails until FailAfter.
func NewErrorFS(inner FS, opts ...ErrorFSOption) *ErrorFS {
	e := &ErrorFS{inner: inner, failAt: -1, err: ErrInjected, mask: 1<<uint(numOpKinds) - 1}
	for _, o := range opts {
		o(e)
	}
	return e
}

var _ FS = (*ErrorFS)(nil)

// FailAfter arms e so that the operation after the next n succeeds fails:
// FailAfter(0) fails the next counted operation. A negative n disarms e.
// It replaces any earlier FailAfter, and ends a sticky failure.
func (e *ErrorFS) FailAfter(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n < 0 {
		e.failAt = -1
	} else {
		e.failAt = e.ops + n
	}
}

// Disarm stops injecting failures, including a sticky one.
func (e *ErrorFS) Disarm() { e.FailAfter(-1) }

// Ops returns the number of operations counted so far (including failed
// ones).
func (e *ErrorFS) Ops() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ops
}

// Injected returns the number of operations failed so far.
func (e *ErrorFS) Injected() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.injected
}

// LastInjected describes the last failed operation, as "op path", or
// returns "" if none failed. It is meant for test failure messages.
func (e *ErrorFS) LastInjected() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// maybeFail counts an operation of kind k on name and reports whether it
// must fail.
func (e *ErrorFS) maybeFail(k OpKind, name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maybeFailLocked(k, name)
}

func (e *ErrorFS) maybeFailLocked(k OpKind, name string) bool {
	if e.mask&(1<<uint(k)) == 0 {
		return false
	}
	i := e.ops
	e.ops++
	if e.failAt < 0 || i < e.failAt || (i > e.failAt && !e.sticky) {
		return false
	}
	e.injected++
	e.last = k.String() + " " + name
	return true
}

func (e *ErrorFS) pathErr(k OpKind, name string) error {
	return &os.PathError{Op: k.String(), Path: name, Err: e.err}
}

func (e *ErrorFS) Create(name string) (File, error) { return e.open(OpCreate, name, e.inner.Create) }

func (e *ErrorFS) OpenAppend(name string) (File, error) {
	return e.open(OpOpenAppend, name, e.inner.OpenAppend)
}

func (e *ErrorFS) Open(name string) (File, error) { return e.open(OpOpen, name, e.inner.Open) }

func (e *ErrorFS) open(k OpKind, name string, open func(string) (File, error)) (File, error) {
	if e.maybeFail(k, name) {
		return nil, e.pathErr(k, name)
	}
	f, err := open(name)
	if err != nil {
		return nil, err
	}
	return &errorFile{fs: e, f: f, name: name}, nil
}

func (e *ErrorFS) ReadFile(name string) ([]byte, error) {
	if e.maybeFail(OpReadFile, name) {
		return nil, e.pathErr(OpReadFile, name)
	}
	return e.inner.ReadFile(name)
}

func (e *ErrorFS) Remove(name string) error {
	if e.maybeFail(OpRemove, name) {
		return e.pathErr(OpRemove, name)
	}
	return e.inner.Remove(name)
}

func (e *ErrorFS) RemoveAll(name string) error {
	if e.maybeFail(OpRemoveAll, name) {
		return e.pathErr(OpRemoveAll, name)
	}
	return e.inner.RemoveAll(name)
}

func (e *ErrorFS) Rename(oldname, newname string) error {
	if e.maybeFail(OpRename, oldname+" "+newname) {
		return &os.LinkError{Op: OpRename.String(), Old: oldname, New: newname, Err: e.err}
	}
	return e.inner.Rename(oldname, newname)
}

func (e *ErrorFS) MkdirAll(dir string) error {
	if e.maybeFail(OpMkdirAll, dir) {
		return e.pathErr(OpMkdirAll, dir)
	}
	return e.inner.MkdirAll(dir)
}

func (e *ErrorFS) List(dir string) ([]string, error) {
	if e.maybeFail(OpList, dir) {
		return nil, e.pathErr(OpList, dir)
	}
	return e.inner.List(dir)
}

func (e *ErrorFS) Stat(name string) (int64, bool, error) {
	if e.maybeFail(OpStat, name) {
		return 0, false, e.pathErr(OpStat, name)
	}
	return e.inner.Stat(name)
}

func (e *ErrorFS) SyncDir(dir string) error {
	if e.maybeFail(OpSyncDir, dir) {
		return e.pathErr(OpSyncDir, dir)
	}
	return e.inner.SyncDir(dir)
}

// errorFile is a file opened through an ErrorFS.
type errorFile struct {
	fs   *ErrorFS
	f    File
	name string
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if f.fs.maybeFail(OpReadAt, f.name) {
		return 0, f.fs.pathErr(OpReadAt, f.name)
	}
	return f.f.ReadAt(p, off)
}

func (f *errorFile) Write(p []byte) (int, error) {
	e := f.fs
	e.mu.Lock()
	fail := e.maybeFailLocked(OpWrite, f.name)
	partial := -1
	if fail && e.partial {
		switch {
		case len(p) == 0:
			partial = 0
		case e.rng != nil:
			partial = e.rng.IntN(len(p))
		default:
			partial = len(p) / 2
		}
	}
	e.mu.Unlock()
	if !fail {
		return f.f.Write(p)
	}
	n := 0
	if partial > 0 {
		n, _ = f.f.Write(p[:partial])
	}
	return n, e.pathErr(OpWrite, f.name)
}

func (f *errorFile) Sync() error {
	if f.fs.maybeFail(OpSync, f.name) {
		return f.fs.pathErr(OpSync, f.name)
	}
	return f.f.Sync()
}

func (f *errorFile) Truncate(size int64) error {
	if f.fs.maybeFail(OpTruncate, f.name) {
		return f.fs.pathErr(OpTruncate, f.name)
	}
	return f.f.Truncate(size)
}

// Size is not counted and never fails by injection.
func (f *errorFile) Size() (int64, error) { return f.f.Size() }

// Close is not counted and never fails by injection: it always closes the
// wrapped file.
func (f *errorFile) Close() error { return f.f.Close() }
