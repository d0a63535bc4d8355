package vfs

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// MemFS is an in-memory FS for tests that can simulate a crash.
//
// # Paths
//
// Paths are "/"-separated and the filesystem is rooted: every name is cleaned
// with path.Clean("/" + name), so "a/b", "/a/b", "./a//b/" and "/x/../a/b"
// all name the same file. The root directory "/" always exists.
//
// # Durability model
//
// MemFS keeps two states for everything: the current state, which all
// operations see, and the durable state, which is what survives a simulated
// power loss. The model is the pessimistic POSIX one, with no page cache
// surviving the crash:
//
//   - A file's content becomes durable only through File.Sync, which makes
//     the whole current content (including a Truncate) durable.
//   - A directory's entries (files and directories created in it, removed
//     from it, renamed into or out of it) become durable only through
//     SyncDir of that directory. Syncing a file does not make its name
//     durable, and a directory created by MkdirAll is durable only once its
//     parent is synced. A rename between two directories needs both synced:
//     if only the destination is synced, after a crash the file is reachable
//     under both names (like a hard link); if only the source is synced, it
//     is lost.
//
// Crash and CrashClone simulate power loss: unsynced data and unsynced
// directory operations are lost. CrashWithTornTails and
// CrashCloneWithTornTails additionally keep a random prefix of each file's
// unsynced appended data, modelling a disk that had written part of it, so
// that recovery code sees partial records. KillProcess simulates kill -9 of
// the process: the operating system keeps everything that was written, so
// nothing is lost, but open files are invalidated.
//
// # Files
//
// All operations are safe for concurrent use. Open files refer to the file,
// not its name: they keep working after the file is renamed or removed
// (reads and writes on a removed file work, but the data is unreachable by
// name). Operations on a closed file return an error wrapping os.ErrClosed;
// operations on a file opened before Crash, CrashWithTornTails or
// KillProcess return an error, except Close, which succeeds. A file opened
// with Open is read-only: Write and Truncate fail. Opening a directory as a
// file fails with EISDIR.
//
// Errors are *os.PathError (or *os.LinkError for Rename) wrapping the errno
// the operating system would return (ENOENT, ENOTDIR, EISDIR, ENOTEMPTY,
// ...), so IsNotExist works as with the real filesystem.
type MemFS struct {
	mu   sync.Mutex
	root *inode
	// gen is bumped by Crash and KillProcess; files opened in an older
	// generation are dead.
	gen uint64
}

// inode is a file or directory.
//
// A file's bytes are never modified in place: Write appends and Truncate
// either appends zeros or reallocates. So any slice data[:n:n] is an
// immutable snapshot, which lets Sync share memory with the current content
// instead of copying it.
type inode struct {
	isDir bool

	data   []byte // current content
	synced []byte // durable content; immutable

	children       map[string]*inode // current entries
	syncedChildren map[string]*inode // durable entries
}

func newDir() *inode {
	return &inode{isDir: true, children: map[string]*inode{}, syncedChildren: map[string]*inode{}}
}

// NewMem returns an empty in-memory filesystem holding only the root
// directory "/".
func NewMem() *MemFS { return &MemFS{root: newDir()} }

var _ FS = (*MemFS)(nil)

// errStale is returned for operations on a file opened before a simulated
// crash or process kill.
var errStale = errors.New("vfs: file opened before a simulated crash")

func memClean(name string) string { return path.Clean("/" + name) }

// walk returns the inode at the cleaned path p.
func (fs *MemFS) walk(p string) (*inode, error) {
	n := fs.root
	if p == "/" {
		return n, nil
	}
	for _, part := range strings.Split(p[1:], "/") {
		if !n.isDir {
			return nil, syscall.ENOTDIR
		}
		c, ok := n.children[part]
		if !ok {
			return nil, syscall.ENOENT
		}
		n = c
	}
	return n, nil
}

// parent returns the directory holding the cleaned path p and p's base name.
// p must not be the root.
func (fs *MemFS) parent(p string) (*inode, string, error) {
	dir, base := path.Split(p)
	d, err := fs.walk(path.Clean(dir))
	if err != nil {
		return nil, "", err
	}
	if !d.isDir {
		return nil, "", syscall.ENOTDIR
	}
	return d, base, nil
}

func (fs *MemFS) lookup(op, name string) (string, *inode, error) {
	p := memClean(name)
	n, err := fs.walk(p)
	if err != nil {
		return p, nil, &os.PathError{Op: op, Path: p, Err: err}
	}
	return p, n, nil
}

// Create creates name, truncating it if it exists. Truncating an existing
// file is not durable until File.Sync.
func (fs *MemFS) Create(name string) (File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p := memClean(name)
	perr := func(err error) error { return &os.PathError{Op: "open", Path: p, Err: err} }
	if p == "/" {
		return nil, perr(syscall.EISDIR)
	}
	d, base, err := fs.parent(p)
	if err != nil {
		return nil, perr(err)
	}
	n, ok := d.children[base]
	switch {
	case !ok:
		n = &inode{}
		d.children[base] = n
	case n.isDir:
		return nil, perr(syscall.EISDIR)
	default:
		n.data = nil
	}
	return fs.newFile(n, p, false), nil
}

// OpenAppend opens an existing file for appending and reading.
func (fs *MemFS) OpenAppend(name string) (File, error) { return fs.open(name, false) }

// Open opens an existing file read-only.
func (fs *MemFS) Open(name string) (File, error) { return fs.open(name, true) }

func (fs *MemFS) open(name string, readOnly bool) (File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p, n, err := fs.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.isDir {
		return nil, &os.PathError{Op: "open", Path: p, Err: syscall.EISDIR}
	}
	return fs.newFile(n, p, readOnly), nil
}

func (fs *MemFS) newFile(n *inode, p string, readOnly bool) *memFile {
	return &memFile{fs: fs, ino: n, name: p, gen: fs.gen, readOnly: readOnly}
}

// ReadFile returns a copy of the current content of name.
func (fs *MemFS) ReadFile(name string) ([]byte, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p, n, err := fs.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.isDir {
		return nil, &os.PathError{Op: "read", Path: p, Err: syscall.EISDIR}
	}
	return bytes.Clone(n.data), nil
}

// Remove removes a file or an empty directory. The removal is durable after
// SyncDir of the parent.
func (fs *MemFS) Remove(name string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.remove("remove", name, false)
}

// RemoveAll removes name and everything below it. It returns nil if name
// does not exist. The removal is durable after SyncDir of the parent.
func (fs *MemFS) RemoveAll(name string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.remove("unlinkat", name, true)
}

func (fs *MemFS) remove(op, name string, all bool) error {
	p := memClean(name)
	perr := func(err error) error { return &os.PathError{Op: op, Path: p, Err: err} }
	if p == "/" {
		return perr(syscall.EBUSY)
	}
	d, base, err := fs.parent(p)
	if err != nil {
		if all && errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return perr(err)
	}
	n, ok := d.children[base]
	if !ok {
		if all {
			return nil
		}
		return perr(syscall.ENOENT)
	}
	if !all && n.isDir && len(n.children) > 0 {
		return perr(syscall.ENOTEMPTY)
	}
	// Unlinking the entry is enough: the subtree stays reachable from
	// durable state until the parent is synced, and open files keep their
	// inode.
	delete(d.children, base)
	return nil
}

// Rename renames oldname to newname, replacing newname if it exists (a file,
// or an empty directory when oldname is a directory). It is durable once
// both parent directories are synced (see MemFS).
func (fs *MemFS) Rename(oldname, newname string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	op, np := memClean(oldname), memClean(newname)
	lerr := func(err error) error { return &os.LinkError{Op: "rename", Old: op, New: np, Err: err} }
	if op == "/" || np == "/" {
		return lerr(syscall.EBUSY)
	}
	od, obase, err := fs.parent(op)
	if err != nil {
		return lerr(err)
	}
	src, ok := od.children[obase]
	if !ok {
		return lerr(syscall.ENOENT)
	}
	nd, nbase, err := fs.parent(np)
	if err != nil {
		return lerr(err)
	}
	if op == np {
		return nil
	}
	if src.isDir && strings.HasPrefix(np, op+"/") {
		return lerr(syscall.EINVAL)
	}
	if dst, ok := nd.children[nbase]; ok {
		switch {
		case dst == src:
			return nil
		case src.isDir && !dst.isDir:
			return lerr(syscall.ENOTDIR)
		case !src.isDir && dst.isDir:
			return lerr(syscall.EISDIR)
		case dst.isDir && len(dst.children) > 0:
			return lerr(syscall.ENOTEMPTY)
		}
	}
	delete(od.children, obase)
	nd.children[nbase] = src
	return nil
}

// MkdirAll creates dir and any missing parents. Each new directory is
// durable once its parent is synced.
func (fs *MemFS) MkdirAll(dir string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p := memClean(dir)
	n := fs.root
	if p == "/" {
		return nil
	}
	for _, part := range strings.Split(p[1:], "/") {
		c, ok := n.children[part]
		if !ok {
			c = newDir()
			n.children[part] = c
		} else if !c.isDir {
			return &os.PathError{Op: "mkdir", Path: p, Err: syscall.ENOTDIR}
		}
		n = c
	}
	return nil
}

// List returns the sorted names of the current entries of dir.
func (fs *MemFS) List(dir string) ([]string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p, n, err := fs.lookup("open", dir)
	if err != nil {
		return nil, err
	}
	if !n.isDir {
		return nil, &os.PathError{Op: "readdirent", Path: p, Err: syscall.ENOTDIR}
	}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// Stat reports whether name exists and, for a file, its current size. A
// directory has size 0.
func (fs *MemFS) Stat(name string) (int64, bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, n, err := fs.lookup("stat", name)
	if err != nil {
		return 0, false, err
	}
	if n.isDir {
		return 0, true, nil
	}
	return int64(len(n.data)), false, nil
}

// SyncDir makes the current entries of dir durable.
func (fs *MemFS) SyncDir(dir string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p, n, err := fs.lookup("open", dir)
	if err != nil {
		return err
	}
	if !n.isDir {
		return &os.PathError{Op: "sync", Path: p, Err: syscall.ENOTDIR}
	}
	n.syncedChildren = maps.Clone(n.children)
	return nil
}

// SyncAll makes the whole current state durable, as if every file and
// directory had been synced. It is meant for setting up test fixtures.
func (fs *MemFS) SyncAll() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	seen := map[*inode]bool{} // the tree may have cycles after a crash
	var walk func(n *inode)
	walk = func(n *inode) {
		if seen[n] {
			return
		}
		seen[n] = true
		if !n.isDir {
			n.synced = n.data[:len(n.data):len(n.data)]
			return
		}
		n.syncedChildren = maps.Clone(n.children)
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(fs.root)
}

// Crash simulates a power loss: the filesystem is replaced by its durable
// state (unsynced data and unsynced directory operations are lost) and every
// open file is invalidated.
func (fs *MemFS) Crash() { fs.crash(nil) }

// CrashWithTornTails is like Crash, but for each file whose current content
// differs from its durable content it keeps a random part of the unsynced
// writes, modelling a disk that had written some of them:
//
//   - If the file was only appended to since its last Sync (the durable
//     content is a prefix of the current content), it keeps the durable
//     content followed by a random prefix (possibly empty, possibly all) of
//     the unsynced tail.
//   - Otherwise (it was truncated since its last Sync), it keeps, with equal
//     probability, either the durable content or a random prefix of the
//     current content at least as long as the common prefix of the two.
//
// Directory operations are handled as in Crash: unsynced ones are lost. The
// result depends only on the state and on rng.
func (fs *MemFS) CrashWithTornTails(rng *rand.Rand) {
	if rng == nil {
		panic("vfs: CrashWithTornTails with nil rng")
	}
	fs.crash(rng)
}

func (fs *MemFS) crash(rng *rand.Rand) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.root = fs.durableRoot(rng)
	fs.gen++
}

// CrashClone returns a new MemFS holding the durable state of fs, as after
// Crash, and leaves fs unchanged.
func (fs *MemFS) CrashClone() *MemFS { return fs.crashClone(nil) }

// CrashCloneWithTornTails returns a new MemFS holding the state fs would
// have after CrashWithTornTails(rng), and leaves fs unchanged (apart from
// consuming rng).
func (fs *MemFS) CrashCloneWithTornTails(rng *rand.Rand) *MemFS {
	if rng == nil {
		panic("vfs: CrashCloneWithTornTails with nil rng")
	}
	return fs.crashClone(rng)
}

func (fs *MemFS) crashClone(rng *rand.Rand) *MemFS {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return &MemFS{root: fs.durableRoot(rng)}
}

// KillProcess simulates kill -9 of the process using fs: the operating
// system keeps everything that was written, so no data or directory
// operation is lost (and what was not durable is still not durable: a later
// Crash loses it), but every open file is invalidated.
func (fs *MemFS) KillProcess() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.gen++
}

// durableRoot builds a fresh tree from the durable state. With rng, files
// keep part of their unsynced writes (see CrashWithTornTails). The durable
// graph may share an inode between two directories, or even contain a cycle,
// after unsynced cross-directory renames; the clone preserves that sharing.
func (fs *MemFS) durableRoot(rng *rand.Rand) *inode {
	clones := map[*inode]*inode{}
	var clone func(n *inode) *inode
	clone = func(n *inode) *inode {
		if c, ok := clones[n]; ok {
			return c
		}
		if !n.isDir {
			data := n.synced
			if rng != nil {
				data = tornContent(n.synced, n.data, rng)
			}
			c := &inode{data: data, synced: data}
			clones[n] = c
			return c
		}
		c := &inode{isDir: true, children: make(map[string]*inode, len(n.syncedChildren))}
		clones[n] = c
		names := make([]string, 0, len(n.syncedChildren))
		for name := range n.syncedChildren {
			names = append(names, name)
		}
		slices.Sort(names) // deterministic use of rng
		for _, name := range names {
			c.children[name] = clone(n.syncedChildren[name])
		}
		c.syncedChildren = maps.Clone(c.children)
		return c
	}
	return clone(fs.root)
}

func tornContent(synced, cur []byte, rng *rand.Rand) []byte {
	if bytes.HasPrefix(cur, synced) {
		k := len(synced) + rng.IntN(len(cur)-len(synced)+1)
		return cur[:k:k]
	}
	if rng.IntN(2) == 0 {
		return synced
	}
	c := 0
	for c < len(cur) && c < len(synced) && cur[c] == synced[c] {
		c++
	}
	k := c + rng.IntN(len(cur)-c+1)
	return cur[:k:k]
}

// memFile is an open MemFS file.
type memFile struct {
	fs       *MemFS
	ino      *inode
	name     string
	gen      uint64
	readOnly bool
	closed   bool
}

// check reports whether f may be used. fs.mu must be held.
func (f *memFile) check(op string) error {
	if f.closed {
		return &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	}
	if f.gen != f.fs.gen {
		return &os.PathError{Op: op, Path: f.name, Err: errStale}
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "readat", Path: f.name, Err: syscall.EINVAL}
	}
	data := f.ino.data
	if off >= int64(len(data)) {
		return 0, io.EOF
	}
	n := copy(p, data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write"); err != nil {
		return 0, err
	}
	if f.readOnly {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
	}
	f.ino.data = append(f.ino.data, p...)
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync"); err != nil {
		return err
	}
	d := f.ino.data
	f.ino.synced = d[:len(d):len(d)]
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate"); err != nil {
		return err
	}
	if f.readOnly || size < 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	d := f.ino.data
	switch {
	case size == int64(len(d)):
	case size < int64(len(d)):
		// Reallocate: bytes are never modified in place (see inode).
		f.ino.data = bytes.Clone(d[:size])
	default:
		f.ino.data = append(d, make([]byte, size-int64(len(d)))...)
	}
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat"); err != nil {
		return 0, err
	}
	return int64(len(f.ino.data)), nil
}

// Close closes f. Closing a file twice returns an error wrapping
// os.ErrClosed; closing a file invalidated by a crash succeeds.
func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "close", Path: f.name, Err: os.ErrClosed}
	}
	f.closed = true
	return nil
}
