package vfs

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
)

func TestMemConformance(t *testing.T) {
	testConformance(t, NewMem(), "/root")
}

func TestMemErrorFSConformance(t *testing.T) {
	testConformance(t, NewErrorFS(NewMem()), "/root")
}

// memHelper wraps a MemFS with fatal-on-error helpers.
type memHelper struct {
	t *testing.T
	*MemFS
}

func (m memHelper) must(err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatal(err)
	}
}

func (m memHelper) create(name, content string) File {
	m.t.Helper()
	f, err := m.Create(name)
	m.must(err)
	m.write(f, content)
	return f
}

func (m memHelper) write(f File, content string) {
	m.t.Helper()
	if _, err := f.Write([]byte(content)); err != nil {
		m.t.Fatal(err)
	}
}

// content returns the content of name, or "<missing>".
func content(t *testing.T, fs FS, name string) string {
	t.Helper()
	b, err := fs.ReadFile(name)
	if IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantContent(t *testing.T, fs FS, name, want string) {
	t.Helper()
	if got := content(t, fs, name); got != want {
		t.Fatalf("%s: content %q, want %q", name, got, want)
	}
}

func TestMemPaths(t *testing.T) {
	m := memHelper{t, NewMem()}
	m.must(m.MkdirAll("a/b"))
	m.must(m.create("a/b/f", "x").Close())
	for _, name := range []string{"a/b/f", "/a/b/f", "./a//b/f", "/a/b/../b/f", "../a/b/f", "a/b/f/"} {
		wantContent(t, m, name, "x")
	}
	names, err := m.List("")
	m.must(err)
	if !slices.Equal(names, []string{"a"}) {
		t.Fatalf("List(\"\") = %q", names)
	}
	if _, isDir, err := m.Stat("/"); err != nil || !isDir {
		t.Fatalf("Stat(/) = %v, %v", isDir, err)
	}
	if err := m.Remove("/"); err == nil {
		t.Fatal("Remove(/) succeeded")
	}
	if _, err := m.Create("/"); err == nil {
		t.Fatal("Create(/) succeeded")
	}
	if _, err := m.Open("/a"); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
}

func TestMemCrashFileData(t *testing.T) {
	m := memHelper{t, NewMem()}
	m.must(m.MkdirAll("/d"))
	m.must(m.SyncDir("/"))
	f := m.create("/d/f", "synced")
	m.must(m.SyncDir("/d"))
	m.must(f.Sync())
	m.write(f, "+lost")
	g := m.create("/d/g", "never synced")
	m.must(m.SyncDir("/d"))
	_ = g

	c := m.CrashClone()
	wantContent(t, c, "/d/f", "synced")
	wantContent(t, c, "/d/g", "") // the name is durable, not the data
	// The original is unchanged by CrashClone.
	wantContent(t, m, "/d/f", "synced+lost")
	m.write(f, "!")
	wantContent(t, m, "/d/f", "synced+lost!")
	// The clone is independent of the original and usable.
	cf, err := c.OpenAppend("/d/f")
	m.must(err)
	if _, err := cf.Write([]byte("-clone")); err != nil {
		t.Fatal(err)
	}
	wantContent(t, c, "/d/f", "synced-clone")
	wantContent(t, m, "/d/f", "synced+lost!")

	m.must(f.Sync())
	m.Crash()
	wantContent(t, m, "/d/f", "synced+lost!")
	wantContent(t, m, "/d/g", "")
	// Files opened before the crash are dead; Close still works.
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("Write on a file opened before Crash succeeded")
	}
	if err := f.Sync(); err == nil {
		t.Fatal("Sync on a file opened before Crash succeeded")
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); err == nil {
		t.Fatal("ReadAt on a file opened before Crash succeeded")
	}
	m.must(f.Close())
	wantContent(t, m, "/d/f", "synced+lost!")
}

func TestMemCrashTruncate(t *testing.T) {
	m := memHelper{t, NewMem()}
	f := m.create("/f", "abcdef")
	m.must(f.Sync())
	m.must(m.SyncDir("/"))
	m.must(f.Truncate(2))
	m.write(f, "XY")
	wantContent(t, m.CrashClone(), "/f", "abcdef")
	m.must(f.Sync())
	wantContent(t, m.CrashClone(), "/f", "abXY")

	// Create over an existing file truncates it, not durably.
	g := m.create("/f", "new")
	wantContent(t, m.CrashClone(), "/f", "abXY")
	m.must(g.Sync())
	wantContent(t, m.CrashClone(), "/f", "new")
	// The old handle writes to the same file.
	m.write(f, "+old")
	wantContent(t, m, "/f", "new+old")
}

func TestMemCrashCreate(t *testing.T) {
	m := memHelper{t, NewMem()}
	f := m.create("/f", "data")
	m.must(f.Sync()) // data durable, but not the name
	c := m.CrashClone()
	wantContent(t, c, "/f", "<missing>")
	if names, _ := c.List("/"); len(names) != 0 {
		t.Fatalf("List = %q", names)
	}
	m.must(m.SyncDir("/"))
	wantContent(t, m.CrashClone(), "/f", "data")
}

func TestMemCrashMkdirAll(t *testing.T) {
	m := memHelper{t, NewMem()}
	m.must(m.MkdirAll("/a/b"))
	f := m.create("/a/b/f", "data")
	m.must(f.Sync())
	m.must(m.SyncDir("/a/b"))
	// /a/b is synced, but /a is not in /, nor b in /a.
	if _, _, err := m.CrashClone().Stat("/a"); !IsNotExist(err) {
		t.Fatalf("Stat(/a) after crash: %v", err)
	}
	m.must(m.SyncDir("/"))
	c := m.CrashClone()
	if _, isDir, err := c.Stat("/a"); err != nil || !isDir {
		t.Fatalf("Stat(/a) = %v, %v", isDir, err)
	}
	if _, _, err := c.Stat("/a/b"); !IsNotExist(err) {
		t.Fatalf("Stat(/a/b) after crash: %v", err)
	}
	m.must(m.SyncDir("/a"))
	wantContent(t, m.CrashClone(), "/a/b/f", "data")
}

func TestMemCrashRename(t *testing.T) {
	m := memHelper{t, NewMem()}
	m.must(m.MkdirAll("/d"))
	m.must(m.MkdirAll("/e"))
	m.must(m.SyncDir("/"))
	f := m.create("/d/old", "A")
	m.must(f.Sync())
	g := m.create("/d/new", "B")
	m.must(g.Sync())
	m.must(m.SyncDir("/d"))

	m.must(m.Rename("/d/old", "/d/new"))
	c := m.CrashClone()
	wantContent(t, c, "/d/old", "A")
	wantContent(t, c, "/d/new", "B")
	m.must(m.SyncDir("/d"))
	c = m.CrashClone()
	wantContent(t, c, "/d/old", "<missing>")
	wantContent(t, c, "/d/new", "A")

	// Across directories: each directory's entries are durable separately.
	m.must(m.Rename("/d/new", "/e/moved"))
	m.must(m.SyncDir("/e"))
	c = m.CrashClone()
	wantContent(t, c, "/d/new", "A")
	wantContent(t, c, "/e/moved", "A")
	// The two names are one file after the crash, as with a hard link.
	cf, err := c.OpenAppend("/d/new")
	m.must(err)
	if _, err := cf.Write([]byte("+")); err != nil {
		t.Fatal(err)
	}
	wantContent(t, c, "/e/moved", "A+")
	m.must(m.SyncDir("/d"))
	c = m.CrashClone()
	wantContent(t, c, "/d/new", "<missing>")
	wantContent(t, c, "/e/moved", "A")

	// Only the source synced: the file is lost.
	m.must(m.Rename("/e/moved", "/d/back"))
	m.must(m.SyncDir("/e"))
	c = m.CrashClone()
	wantContent(t, c, "/e/moved", "<missing>")
	wantContent(t, c, "/d/back", "<missing>")
}

func TestMemCrashRemove(t *testing.T) {
	m := memHelper{t, NewMem()}
	m.must(m.MkdirAll("/d/sub"))
	f := m.create("/d/sub/f", "data")
	m.must(f.Sync())
	m.must(m.SyncDir("/d/sub"))
	m.must(m.SyncDir("/d"))
	m.must(m.SyncDir("/"))

	m.must(m.Remove("/d/sub/f"))
	wantContent(t, m.CrashClone(), "/d/sub/f", "data")
	m.must(m.SyncDir("/d/sub"))
	wantContent(t, m.CrashClone(), "/d/sub/f", "<missing>")

	g := m.create("/d/sub/g", "g")
	m.must(g.Sync())
	m.must(m.SyncDir("/d/sub"))
	m.must(m.RemoveAll("/d"))
	wantContent(t, m.CrashClone(), "/d/sub/g", "g")
	m.must(m.SyncDir("/"))
	if _, _, err := m.CrashClone().Stat("/d"); !IsNotExist(err) {
		t.Fatalf("Stat(/d) after crash: %v", err)
	}
	// The removed file is still open and readable.
	buf := make([]byte, 1)
	if n, err := g.ReadAt(buf, 0); n != 1 || string(buf) != "g" {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
}

// TestMemCrashRenameCycle builds a durable state in which two directories
// contain each other (possible after unsynced renames) and checks that
// crashing, listing and removing terminate.
func TestMemCrashRenameCycle(t *testing.T) {
	m := memHelper{t, NewMem()}
	m.must(m.MkdirAll("/a/b"))
	m.must(m.SyncDir("/"))
	m.must(m.SyncDir("/a"))
	m.must(m.Rename("/a/b", "/b")) // /a not synced: durably, b is still in a
	m.must(m.SyncDir("/"))
	m.must(m.Rename("/a", "/b/a")) // / not synced: durably, a is still in /
	m.must(m.SyncDir("/b"))        // durably, a is in b, which is in a
	c := m.CrashClone()
	for _, dir := range []string{"/a", "/a/b", "/a/b/a", "/b/a/b/a/b"} {
		if _, isDir, err := c.Stat(dir); err != nil || !isDir {
			t.Fatalf("Stat(%s) = %v, %v", dir, isDir, err)
		}
	}
	if err := c.RemoveAll("/a"); err != nil {
		t.Fatal(err)
	}
	c.SyncAll()
	if _, err := c.CrashClone().List("/"); err != nil {
		t.Fatal(err)
	}
}

func TestMemKillProcess(t *testing.T) {
	m := memHelper{t, NewMem()}
	f := m.create("/f", "synced")
	m.must(f.Sync())
	m.must(m.SyncDir("/"))
	m.write(f, "+unsynced")
	g := m.create("/g", "new file")
	m.KillProcess()
	wantContent(t, m, "/f", "synced+unsynced")
	wantContent(t, m, "/g", "new file")
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("Write on a file opened before KillProcess succeeded")
	}
	if _, err := g.Size(); err == nil {
		t.Fatal("Size on a file opened before KillProcess succeeded")
	}
	// What was not durable before the kill is still not durable.
	m.Crash()
	wantContent(t, m, "/f", "synced")
	wantContent(t, m, "/g", "<missing>")
}

func TestMemSyncAll(t *testing.T) {
	m := memHelper{t, NewMem()}
	m.must(m.MkdirAll("/a/b"))
	m.create("/a/b/f", "data")
	m.SyncAll()
	m.Crash()
	wantContent(t, m, "/a/b/f", "data")
}

// TestMemSyncSharing checks that a durable snapshot is not changed by later
// writes and truncations that reuse memory.
func TestMemSyncSharing(t *testing.T) {
	m := memHelper{t, NewMem()}
	f, err := m.Create("/f")
	m.must(err)
	m.must(m.SyncDir("/"))
	var want []byte
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		switch rng.IntN(10) {
		case 0:
			m.must(f.Sync())
			want = mustRead(t, m, "/f")
		case 1:
			size, _ := f.Size()
			m.must(f.Truncate(rng.Int64N(size + 10)))
		case 2:
			c := m.CrashClone()
			if got := mustRead(t, c, "/f"); !bytes.Equal(got, want) {
				t.Fatalf("step %d: durable content %q, want %q", i, got, want)
			}
			// Appending in the clone must not affect the original.
			cf, err := c.OpenAppend("/f")
			m.must(err)
			if _, err := cf.Write([]byte("CLONE")); err != nil {
				t.Fatal(err)
			}
		default:
			m.write(f, fmt.Sprint(i, ";"))
		}
	}
	m.must(f.Sync())
	want = mustRead(t, m, "/f")
	if bytes.Contains(want, []byte("CLONE")) {
		t.Fatal("writes to a crash clone leaked into the original")
	}
	m.Crash()
	if got := mustRead(t, m, "/f"); !bytes.Equal(got, want) {
		t.Fatal("durable content changed")
	}
}

func mustRead(t *testing.T, fs FS, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMemTornTails(t *testing.T) {
	m := memHelper{t, NewMem()}
	f := m.create("/f", "synced:")
	m.must(f.Sync())
	m.must(m.SyncDir("/"))
	tail := "0123456789"
	m.write(f, tail)
	g := m.create("/g", "unsynced data") // durable name, no durable data
	m.must(m.SyncDir("/"))
	h := m.create("/h", "lost") // name not durable
	_, _ = g, h

	seen := map[int]bool{}
	for seed := range uint64(200) {
		c := m.CrashCloneWithTornTails(rand.New(rand.NewPCG(seed, 0)))
		got := content(t, c, "/f")
		if !bytes.HasPrefix([]byte("synced:"+tail), []byte(got)) || len(got) < len("synced:") {
			t.Fatalf("seed %d: /f = %q, want synced content plus a prefix of the tail", seed, got)
		}
		seen[len(got)-len("synced:")] = true
		if got := content(t, c, "/g"); !bytes.HasPrefix([]byte("unsynced data"), []byte(got)) {
			t.Fatalf("seed %d: /g = %q", seed, got)
		}
		wantContent(t, c, "/h", "<missing>")
		// Deterministic for a seed.
		c2 := m.CrashCloneWithTornTails(rand.New(rand.NewPCG(seed, 0)))
		if content(t, c2, "/f") != got {
			t.Fatalf("seed %d: not deterministic", seed)
		}
	}
	// With 200 seeds, every tail length from none to all must show up.
	for k := 0; k <= len(tail); k++ {
		if !seen[k] {
			t.Errorf("no crash kept %d bytes of the tail (seen %v)", k, seen)
		}
	}
	wantContent(t, m, "/f", "synced:"+tail) // CrashClone left m alone

	m.CrashWithTornTails(rand.New(rand.NewPCG(7, 7)))
	if _, err := f.Size(); err == nil {
		t.Fatal("file usable after CrashWithTornTails")
	}
	if got := content(t, m, "/f"); !bytes.HasPrefix([]byte("synced:"+tail), []byte(got)) || len(got) < len("synced:") {
		t.Fatalf("/f = %q", got)
	}
	// After the crash, the kept content is durable.
	before := content(t, m, "/f")
	m.Crash()
	wantContent(t, m, "/f", before)
}

func TestMemTornTailsAfterTruncate(t *testing.T) {
	m := memHelper{t, NewMem()}
	f := m.create("/f", "abcdef")
	m.must(f.Sync())
	m.must(m.SyncDir("/"))
	m.must(f.Truncate(3))
	m.write(f, "XYZ") // current "abcXYZ", durable "abcdef"
	seen := map[string]bool{}
	for seed := range uint64(100) {
		got := content(t, m.CrashCloneWithTornTails(rand.New(rand.NewPCG(seed, 1))), "/f")
		seen[got] = true
		if got != "abcdef" && !(len(got) >= 3 && bytes.HasPrefix([]byte("abcXYZ"), []byte(got))) {
			t.Fatalf("seed %d: /f = %q", seed, got)
		}
	}
	for _, want := range []string{"abcdef", "abc", "abcX", "abcXYZ"} {
		if !seen[want] {
			t.Errorf("never saw %q (saw %v)", want, seen)
		}
	}
}

func TestMemNilRngPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewMem().CrashWithTornTails(nil)
}

func TestMemErrors(t *testing.T) {
	m := memHelper{t, NewMem()}
	m.must(m.MkdirAll("/d"))
	m.create("/d/f", "x")
	_, err := m.Open("/d/missing")
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != "/d/missing" || !IsNotExist(err) {
		t.Fatalf("Open(missing) = %#v", err)
	}
	err = m.Rename("/d/missing", "/d/x")
	var le *os.LinkError
	if !errors.As(err, &le) || !IsNotExist(err) {
		t.Fatalf("Rename(missing) = %#v", err)
	}
	f, err := m.Create("/d/f")
	m.must(err)
	m.must(f.Close())
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := f.Write(nil); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write after Close = %v", err)
	}
}

// TestMemConcurrent exercises MemFS from many goroutines (run with -race).
func TestMemConcurrent(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/d"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("/d/f%d", g)
			f, err := m.Create(name)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			var want []byte
			for i := range 200 {
				rec := []byte(fmt.Sprintf("%d-%d;", g, i))
				want = append(want, rec...)
				if _, err := f.Write(rec); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					if err := f.Sync(); err != nil {
						errs <- err
						return
					}
					if err := m.SyncDir("/d"); err != nil {
						errs <- err
						return
					}
					m.CrashClone()
					if _, err := m.List("/d"); err != nil {
						errs <- err
						return
					}
				}
			}
			buf := make([]byte, len(want))
			if _, err := f.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, want) {
				errs <- fmt.Errorf("%s: content %q, %v", name, buf, err)
			}
			if err := m.Rename(name, name+".done"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	names, err := m.List("/d")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 8 {
		t.Fatalf("List = %q", names)
	}
}
