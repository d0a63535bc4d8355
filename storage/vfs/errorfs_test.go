package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"syscall"
	"testing"
)

// opStep is one operation of allOps, a workload that calls every counted
// operation once, plus the uncounted Size and Close.
type opStep struct {
	kind    OpKind
	counted bool
	run     func(fs FS, st *opState) error
}

type opState struct{ f File }

var allOps = []opStep{
	{OpMkdirAll, true, func(fs FS, _ *opState) error { return fs.MkdirAll("/d") }},
	{OpCreate, true, func(fs FS, st *opState) (err error) {
		f, err := fs.Create("/d/f")
		if err == nil {
			st.f = f
		}
		return err
	}},
	{OpWrite, true, func(_ FS, st *opState) error { _, err := st.f.Write([]byte("hello")); return err }},
	{OpSync, true, func(_ FS, st *opState) error { return st.f.Sync() }},
	{-1, false, func(_ FS, st *opState) error { _, err := st.f.Size(); return err }},
	{OpTruncate, true, func(_ FS, st *opState) error { return st.f.Truncate(4) }},
	{OpReadAt, true, func(_ FS, st *opState) error { _, err := st.f.ReadAt(make([]byte, 1), 0); return err }},
	{-1, false, func(_ FS, st *opState) error { return st.f.Close() }},
	{OpSyncDir, true, func(fs FS, _ *opState) error { return fs.SyncDir("/d") }},
	{OpOpenAppend, true, func(fs FS, st *opState) error {
		f, err := fs.OpenAppend("/d/f")
		if err == nil {
			f.Close()
		}
		return err
	}},
	{OpOpen, true, func(fs FS, st *opState) error {
		f, err := fs.Open("/d/f")
		if err == nil {
			f.Close()
		}
		return err
	}},
	{OpReadFile, true, func(fs FS, _ *opState) error { _, err := fs.ReadFile("/d/f"); return err }},
	{OpStat, true, func(fs FS, _ *opState) error { _, _, err := fs.Stat("/d/f"); return err }},
	{OpList, true, func(fs FS, _ *opState) error { _, err := fs.List("/d"); return err }},
	{OpRename, true, func(fs FS, _ *opState) error { return fs.Rename("/d/f", "/d/g") }},
	{OpRemove, true, func(fs FS, _ *opState) error { return fs.Remove("/d/g") }},
	{OpRemoveAll, true, func(fs FS, _ *opState) error { return fs.RemoveAll("/d") }},
}

// errSkipped marks an operation of runAllOps skipped because it needs the
// file, whose Create failed.
var errSkipped = errors.New("skipped")

// runAllOps runs allOps on fs. It returns, for each counted operation in
// order, its error.
func runAllOps(fs FS) []error {
	var errs []error
	st := &opState{}
	for _, s := range allOps {
		needsFile := !s.counted || s.kind == OpWrite || s.kind == OpSync || s.kind == OpTruncate || s.kind == OpReadAt
		err := errSkipped
		if !needsFile || st.f != nil {
			err = s.run(fs, st)
		}
		if s.counted {
			errs = append(errs, err)
		}
	}
	return errs
}

func TestErrorFSCountsEveryOp(t *testing.T) {
	kinds := map[OpKind]bool{}
	n := 0
	for _, s := range allOps {
		if s.counted {
			kinds[s.kind] = true
			n++
		}
	}
	if len(kinds) != int(numOpKinds) {
		t.Fatalf("allOps covers %d kinds of %d", len(kinds), numOpKinds)
	}
	efs := NewErrorFS(NewMem())
	errs := runAllOps(efs)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	if efs.Ops() != n {
		t.Fatalf("Ops = %d, want %d (Size and Close must not count)", efs.Ops(), n)
	}
	if efs.Injected() != 0 || efs.LastInjected() != "" {
		t.Fatalf("Injected = %d, LastInjected = %q", efs.Injected(), efs.LastInjected())
	}
}

func countedKinds() []OpKind {
	var kinds []OpKind
	for _, s := range allOps {
		if s.counted {
			kinds = append(kinds, s.kind)
		}
	}
	return kinds
}

func TestErrorFSFailsExactlyOneOp(t *testing.T) {
	kinds := countedKinds()
	for i := range kinds {
		efs := NewErrorFS(NewMem())
		efs.FailAfter(i)
		errs := runAllOps(efs)
		for j, err := range errs {
			if j == i {
				if !errors.Is(err, ErrInjected) {
					t.Fatalf("FailAfter(%d): op %d (%v) returned %v, want injected", i, j, kinds[j], err)
				}
				continue
			}
			if errors.Is(err, ErrInjected) {
				t.Fatalf("FailAfter(%d): op %d (%v) also failed: %v", i, j, kinds[j], err)
			}
		}
		if efs.Injected() != 1 {
			t.Fatalf("FailAfter(%d): Injected = %d", i, efs.Injected())
		}
		if want := kinds[i].String() + " "; len(efs.LastInjected()) <= len(want) || efs.LastInjected()[:len(want)] != want {
			t.Fatalf("FailAfter(%d): LastInjected = %q, want prefix %q", i, efs.LastInjected(), want)
		}
	}
}

func TestErrorFSSticky(t *testing.T) {
	kinds := countedKinds()
	for i := range kinds {
		efs := NewErrorFS(NewMem(), WithSticky())
		efs.FailAfter(i)
		errs := runAllOps(efs)
		for j, err := range errs {
			if j < i && err != nil {
				t.Fatalf("FailAfter(%d): op %d (%v) failed early: %v", i, j, kinds[j], err)
			}
			// Operations on the file are skipped if Create failed.
			if j >= i && !errors.Is(err, ErrInjected) && !(j > i && err == errSkipped) {
				t.Fatalf("FailAfter(%d): op %d (%v) returned %v, want injected", i, j, kinds[j], err)
			}
		}
	}
}

func TestErrorFSFailAfterIsRelative(t *testing.T) {
	mem := NewMem()
	efs := NewErrorFS(mem)
	for range 3 {
		if err := efs.MkdirAll("/x"); err != nil {
			t.Fatal(err)
		}
	}
	efs.FailAfter(2)
	for i := range 4 {
		_, _, err := efs.Stat("/x")
		if got := errors.Is(err, ErrInjected); got != (i == 2) {
			t.Fatalf("Stat %d: %v", i, err)
		}
	}
	if efs.Ops() != 7 {
		t.Fatalf("Ops = %d", efs.Ops())
	}

	// Disarm and re-arm.
	efs.FailAfter(0)
	efs.Disarm()
	if _, _, err := efs.Stat("/x"); err != nil {
		t.Fatal(err)
	}
	sticky := NewErrorFS(mem, WithSticky())
	sticky.FailAfter(0)
	for range 3 {
		if _, _, err := sticky.Stat("/x"); !errors.Is(err, ErrInjected) {
			t.Fatal(err)
		}
	}
	sticky.Disarm()
	if _, _, err := sticky.Stat("/x"); err != nil {
		t.Fatal(err)
	}
}

// TestErrorFSFailedOpHasNoEffect checks that a failed operation is not
// passed through.
func TestErrorFSFailedOpHasNoEffect(t *testing.T) {
	mem := NewMem()
	efs := NewErrorFS(mem, WithSticky())
	efs.FailAfter(0)
	if err := efs.MkdirAll("/d"); err == nil {
		t.Fatal("MkdirAll succeeded")
	}
	if _, err := efs.Create("/f"); err == nil {
		t.Fatal("Create succeeded")
	}
	if names, _ := mem.List("/"); len(names) != 0 {
		t.Fatalf("List = %q", names)
	}

	efs.Disarm()
	f, err := efs.Create("/f")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("abc"))
	efs.FailAfter(0)
	if _, err := f.Write([]byte("def")); !errors.Is(err, ErrInjected) {
		t.Fatal(err)
	}
	if err := f.Truncate(0); !errors.Is(err, ErrInjected) {
		t.Fatal(err)
	}
	if err := f.Sync(); !errors.Is(err, ErrInjected) {
		t.Fatal(err)
	}
	if err := efs.Rename("/f", "/g"); !errors.Is(err, ErrInjected) {
		t.Fatal(err)
	}
	var le *os.LinkError
	if err := efs.Rename("/f", "/g"); !errors.As(err, &le) {
		t.Fatalf("Rename error %T", err)
	}
	if err := efs.Remove("/f"); !errors.Is(err, ErrInjected) {
		t.Fatal(err)
	}
	if err := efs.SyncDir("/"); !errors.Is(err, ErrInjected) {
		t.Fatal(err)
	}
	// Size and Close are not affected by a dead disk.
	if size, err := f.Size(); err != nil || size != 3 {
		t.Fatalf("Size = %d, %v", size, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	wantContent(t, mem, "/f", "abc")
	if c := mem.CrashClone(); content(t, c, "/f") != "<missing>" {
		t.Fatal("failed SyncDir was passed through")
	}
}

func TestErrorFSPartialWrites(t *testing.T) {
	data := []byte("0123456789")
	seen := map[int]bool{}
	for seed := range uint64(100) {
		mem := NewMem()
		efs := NewErrorFS(mem, WithPartialWrites(rand.New(rand.NewPCG(seed, 0))))
		f, err := efs.Create("/f")
		if err != nil {
			t.Fatal(err)
		}
		efs.FailAfter(0)
		n, err := f.Write(data)
		if !errors.Is(err, ErrInjected) {
			t.Fatalf("Write: %v", err)
		}
		got := mustRead(t, mem, "/f")
		if n != len(got) || n >= len(data) || !bytes.Equal(got, data[:n]) {
			t.Fatalf("seed %d: Write = %d, file %q: want a strict prefix", seed, n, got)
		}
		seen[n] = true
	}
	for k := range len(data) {
		if !seen[k] {
			t.Errorf("never wrote %d bytes (saw %v)", k, seen)
		}
	}

	// Without rng: half.
	mem := NewMem()
	efs := NewErrorFS(mem, WithPartialWrites(nil))
	f, _ := efs.Create("/f")
	efs.FailAfter(0)
	if n, err := f.Write(data); n != 5 || !errors.Is(err, ErrInjected) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	wantContent(t, mem, "/f", "01234")

	// Without the option, nothing is written.
	mem = NewMem()
	efs = NewErrorFS(mem)
	f, _ = efs.Create("/f")
	efs.FailAfter(0)
	if n, err := f.Write(data); n != 0 || !errors.Is(err, ErrInjected) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	wantContent(t, mem, "/f", "")
}

func TestErrorFSNoSpace(t *testing.T) {
	efs := NewErrorFS(NewMem(), WithInjectedError(ErrNoSpace))
	f, err := efs.Create("/f")
	if err != nil {
		t.Fatal(err)
	}
	efs.FailAfter(0)
	_, err = f.Write([]byte("x"))
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrInjected) {
		t.Fatalf("Write = %v, want ENOSPC and ErrInjected", err)
	}
	if errors.Is(err, syscall.EIO) {
		t.Fatal("ErrNoSpace is EIO")
	}

	custom := errors.New("custom")
	efs = NewErrorFS(NewMem(), WithInjectedError(custom))
	efs.FailAfter(0)
	if err := efs.MkdirAll("/d"); !errors.Is(err, custom) {
		t.Fatalf("MkdirAll = %v", err)
	}
}

func TestErrorFSWithOps(t *testing.T) {
	efs := NewErrorFS(NewMem(), WithOps(OpSync, OpSyncDir))
	errs := runAllOps(efs)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if efs.Ops() != 2 {
		t.Fatalf("Ops = %d, want 2", efs.Ops())
	}
	kinds := countedKinds()
	efs = NewErrorFS(NewMem(), WithOps(OpSync, OpSyncDir))
	efs.FailAfter(1)
	errs = runAllOps(efs)
	for j, err := range errs {
		if got := errors.Is(err, ErrInjected); got != (kinds[j] == OpSyncDir) {
			t.Fatalf("op %d (%v): %v", j, kinds[j], err)
		}
	}
}

func TestOpKindString(t *testing.T) {
	seen := map[string]bool{}
	for k := range numOpKinds {
		s := k.String()
		if s == "" || seen[s] {
			t.Fatalf("OpKind(%d).String() = %q", k, s)
		}
		seen[s] = true
	}
	if s := OpKind(99).String(); s != "OpKind(99)" {
		t.Fatal(s)
	}
}

// crashModes are the ways a test can crash a MemFS.
var crashModes = []struct {
	name  string
	crash func(m *MemFS, seed uint64) *MemFS
}{
	{"power-loss", func(m *MemFS, _ uint64) *MemFS { return m.CrashClone() }},
	{"torn", func(m *MemFS, seed uint64) *MemFS {
		return m.CrashCloneWithTornTails(rand.New(rand.NewPCG(seed, 99)))
	}},
	{"kill", func(m *MemFS, _ uint64) *MemFS { m.KillProcess(); return m }},
}

// atomicWriter writes name in dir with data, e.g. WriteFileAtomic.
type atomicWriter func(fs FS, dir, name string, data []byte) error

// checkCrashAtEveryOp runs write(fs, "/d", "f", new) failing each of its
// operations in turn (one-shot and sticky, with partial writes), crashes the
// filesystem in every mode, and checks that /d/f then holds old (or is
// missing if old is nil) or new, entirely. If the write succeeded, /d/f must
// hold new. It returns the first violation.
func checkCrashAtEveryOp(write atomicWriter, old, new []byte) error {
	setup := func() *MemFS {
		m := NewMem()
		if err := m.MkdirAll("/d"); err != nil {
			panic(err)
		}
		if old != nil {
			if err := WriteFileAtomic(m, "/d", "f", old); err != nil {
				panic(err)
			}
		}
		m.SyncAll()
		return m
	}
	oldDesc := "<missing>"
	if old != nil {
		oldDesc = string(old)
	}

	// Count the operations of a successful run.
	efs := NewErrorFS(setup())
	if err := write(efs, "/d", "f", new); err != nil {
		return fmt.Errorf("write without faults: %v", err)
	}
	n := efs.Ops()
	if n == 0 {
		return fmt.Errorf("write did no counted operation")
	}

	for i := 0; i <= n; i++ {
		for _, sticky := range []bool{false, true} {
			for mi, mode := range crashModes {
				seed := uint64(i*100 + mi)
				mem := setup()
				opts := []ErrorFSOption{WithPartialWrites(rand.New(rand.NewPCG(seed, 1)))}
				if sticky {
					opts = append(opts, WithSticky())
				}
				efs := NewErrorFS(mem, opts...)
				efs.FailAfter(i)
				err := write(efs, "/d", "f", new)
				last := efs.LastInjected()
				if last == "" {
					last = "no fault"
				}
				desc := fmt.Sprintf("failing op %d of %d (%s), sticky=%v, crash=%s", i, n, last, sticky, mode.name)
				if i < n && !errors.Is(err, ErrInjected) {
					return fmt.Errorf("%s: write returned %v, want the injected error", desc, err)
				}
				if i == n && err != nil {
					return fmt.Errorf("%s: write with no failing op returned %v", desc, err)
				}
				c := mode.crash(mem, seed)
				got, rerr := c.ReadFile("/d/f")
				gotDesc := string(got)
				if IsNotExist(rerr) {
					gotDesc = "<missing>"
				} else if rerr != nil {
					return fmt.Errorf("%s: ReadFile after crash: %v", desc, rerr)
				}
				if err == nil && gotDesc != string(new) {
					return fmt.Errorf("%s: write succeeded but after crash /d/f = %q, want %q", desc, gotDesc, new)
				}
				if gotDesc != oldDesc && gotDesc != string(new) {
					return fmt.Errorf("%s: after crash /d/f = %q, want %q or %q", desc, gotDesc, oldDesc, new)
				}
			}
		}
	}
	return nil
}

func TestWriteFileAtomicCrashAtEveryOp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new []byte
	}{
		{"replace", []byte("old content"), []byte("the new content")},
		{"create", nil, []byte("first content")},
		{"shrink", []byte("a long old content"), []byte("short")},
		{"empty", []byte("old"), []byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkCrashAtEveryOp(WriteFileAtomic, tc.old, tc.new); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCrashCheckCatchesBrokenWriters checks that the crash test above can
// fail: each of these writers misses a step of WriteFileAtomic.
func TestCrashCheckCatchesBrokenWriters(t *testing.T) {
	writeTmp := func(fs FS, tmp string, data []byte, sync bool) error {
		f, err := fs.Create(tmp)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		if sync {
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
		}
		return f.Close()
	}
	broken := map[string]atomicWriter{
		"in place": func(fs FS, dir, name string, data []byte) error {
			if err := writeTmp(fs, dir+"/"+name, data, true); err != nil {
				return err
			}
			return fs.SyncDir(dir)
		},
		"no file sync": func(fs FS, dir, name string, data []byte) error {
			if err := writeTmp(fs, dir+"/"+name+".tmp", data, false); err != nil {
				return err
			}
			if err := fs.Rename(dir+"/"+name+".tmp", dir+"/"+name); err != nil {
				return err
			}
			return fs.SyncDir(dir)
		},
		"no dir sync": func(fs FS, dir, name string, data []byte) error {
			if err := writeTmp(fs, dir+"/"+name+".tmp", data, true); err != nil {
				return err
			}
			return fs.Rename(dir+"/"+name+".tmp", dir+"/"+name)
		},
	}
	names := make([]string, 0, len(broken))
	for name := range broken {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		err := checkCrashAtEveryOp(broken[name], []byte("old content"), []byte("new content"))
		if err == nil {
			t.Errorf("%s: crash check found no problem", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestErrorFSOverOS checks fault injection over the real filesystem.
func TestErrorFSOverOS(t *testing.T) {
	dir := t.TempDir()
	efs := NewErrorFS(OS())
	if err := WriteFileAtomic(efs, dir, "f", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	n := efs.Ops()
	for i := range n {
		efs.FailAfter(i)
		if err := WriteFileAtomic(efs, dir, "f", []byte("v2")); !errors.Is(err, ErrInjected) {
			t.Fatalf("op %d: %v", i, err)
		}
		got, err := os.ReadFile(dir + "/f")
		if err != nil {
			t.Fatal(err)
		}
		// Without a crash, the rename either happened or not.
		if s := string(got); s != "v1" && s != "v2" {
			t.Fatalf("op %d: content %q", i, s)
		}
		efs.Disarm()
		if err := WriteFileAtomic(efs, dir, "f", []byte("v1")); err != nil {
			t.Fatal(err)
		}
	}
}
