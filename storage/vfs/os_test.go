package vfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// testConformance checks the FS contract on fs, using only paths under root
// (which must not exist yet; its parent must). It runs against the real
// filesystem, MemFS and an unarmed ErrorFS so they behave alike.
func testConformance(t *testing.T, fs FS, root string) {
	p := func(name string) string { return root + "/" + name }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(f File, s string) {
		t.Helper()
		n, err := f.Write([]byte(s))
		if err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	wantContent := func(name, want string) {
		t.Helper()
		got, err := fs.ReadFile(name)
		if err != nil {
			t.Fatalf("ReadFile(%s): %v", name, err)
		}
		if string(got) != want {
			t.Fatalf("ReadFile(%s) = %q, want %q", name, got, want)
		}
	}
	wantNotExist := func(what string, err error) {
		t.Helper()
		if !IsNotExist(err) {
			t.Fatalf("%s: err = %v, want not-exist", what, err)
		}
	}
	wantList := func(dir string, want ...string) {
		t.Helper()
		got, err := fs.List(dir)
		must(err)
		if want == nil {
			want = []string{}
		}
		if got == nil {
			got = []string{}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("List(%s) = %q, want %q", dir, got, want)
		}
	}

	t.Run("MkdirAllStat", func(t *testing.T) {
		_, _, err := fs.Stat(root)
		wantNotExist("Stat(root)", err)
		must(fs.MkdirAll(p("a/b/c")))
		must(fs.MkdirAll(p("a/b/c"))) // idempotent
		must(fs.MkdirAll(p("a")))
		for _, d := range []string{root, p("a"), p("a/b"), p("a/b/c")} {
			size, isDir, err := fs.Stat(d)
			if err != nil || !isDir || size != 0 {
				t.Fatalf("Stat(%s) = %d, %v, %v", d, size, isDir, err)
			}
		}
		wantList(p("a/b/c"))
	})

	t.Run("CreateWriteRead", func(t *testing.T) {
		f, err := fs.Create(p("f"))
		must(err)
		defer f.Close()
		if size, err := f.Size(); err != nil || size != 0 {
			t.Fatalf("Size = %d, %v", size, err)
		}
		write(f, "hello ")
		write(f, "world")
		if n, err := f.Write(nil); err != nil || n != 0 {
			t.Fatalf("Write(nil) = %d, %v", n, err)
		}
		must(f.Sync())
		if size, err := f.Size(); err != nil || size != 11 {
			t.Fatalf("Size = %d, %v", size, err)
		}
		size, isDir, err := fs.Stat(p("f"))
		if err != nil || isDir || size != 11 {
			t.Fatalf("Stat = %d, %v, %v", size, isDir, err)
		}
		buf := make([]byte, 5)
		if n, err := f.ReadAt(buf, 6); n != 5 || (err != nil && err != io.EOF) || string(buf) != "world" {
			t.Fatalf("ReadAt(6) = %d, %v, %q", n, err, buf)
		}
		buf = make([]byte, 8)
		if n, err := f.ReadAt(buf, 6); n != 5 || err != io.EOF || string(buf[:n]) != "world" {
			t.Fatalf("ReadAt past end = %d, %v, %q", n, err, buf[:n])
		}
		if n, err := f.ReadAt(buf, 11); n != 0 || err != io.EOF {
			t.Fatalf("ReadAt(at end) = %d, %v", n, err)
		}
		if n, err := f.ReadAt(buf, 100); n != 0 || err != io.EOF {
			t.Fatalf("ReadAt(beyond end) = %d, %v", n, err)
		}
		if _, err := f.ReadAt(buf, -1); err == nil {
			t.Fatal("ReadAt(-1) succeeded")
		}
		wantContent(p("f"), "hello world")
		must(f.Close())
		if err := f.Close(); err == nil {
			t.Fatal("second Close succeeded")
		}
		if _, err := f.Write([]byte("x")); err == nil {
			t.Fatal("Write after Close succeeded")
		}
		if _, err := f.ReadAt(buf, 0); err == nil {
			t.Fatal("ReadAt after Close succeeded")
		}
		if err := f.Sync(); err == nil {
			t.Fatal("Sync after Close succeeded")
		}
		if err := f.Truncate(0); err == nil {
			t.Fatal("Truncate after Close succeeded")
		}
		if _, err := f.Size(); err == nil {
			t.Fatal("Size after Close succeeded")
		}
		wantContent(p("f"), "hello world")
	})

	t.Run("CreateTruncates", func(t *testing.T) {
		f, err := fs.Create(p("f"))
		must(err)
		write(f, "new")
		must(f.Close())
		wantContent(p("f"), "new")
	})

	t.Run("OpenAppend", func(t *testing.T) {
		f, err := fs.OpenAppend(p("f"))
		must(err)
		write(f, "er")
		buf := make([]byte, 5)
		if n, err := f.ReadAt(buf, 0); n != 5 || (err != nil && err != io.EOF) || string(buf) != "newer" {
			t.Fatalf("ReadAt = %d, %v, %q", n, err, buf)
		}
		must(f.Close())
		wantContent(p("f"), "newer")
		_, err = fs.OpenAppend(p("missing"))
		wantNotExist("OpenAppend(missing)", err)
	})

	t.Run("OpenReadOnly", func(t *testing.T) {
		f, err := fs.Open(p("f"))
		must(err)
		defer f.Close()
		if _, err := f.Write([]byte("x")); err == nil {
			t.Fatal("Write on read-only file succeeded")
		}
		if err := f.Truncate(0); err == nil {
			t.Fatal("Truncate on read-only file succeeded")
		}
		if size, err := f.Size(); err != nil || size != 5 {
			t.Fatalf("Size = %d, %v", size, err)
		}
		wantContent(p("f"), "newer")
		_, err = fs.Open(p("missing"))
		wantNotExist("Open(missing)", err)
	})

	t.Run("Truncate", func(t *testing.T) {
		f, err := fs.Create(p("t"))
		must(err)
		defer f.Close()
		write(f, "abcdef")
		must(f.Sync())
		must(f.Truncate(2))
		write(f, "XY") // appends at the new end
		wantContent(p("t"), "abXY")
		must(f.Truncate(6))
		wantContent(p("t"), "abXY\x00\x00")
		write(f, "!")
		wantContent(p("t"), "abXY\x00\x00!")
		must(f.Truncate(0))
		wantContent(p("t"), "")
		if err := f.Truncate(-1); err == nil {
			t.Fatal("Truncate(-1) succeeded")
		}
	})

	t.Run("Missing", func(t *testing.T) {
		_, _, err := fs.Stat(p("missing"))
		wantNotExist("Stat", err)
		_, err = fs.ReadFile(p("missing"))
		wantNotExist("ReadFile", err)
		wantNotExist("Remove", fs.Remove(p("missing")))
		wantNotExist("Rename", fs.Rename(p("missing"), p("other")))
		_, err = fs.List(p("missing"))
		wantNotExist("List", err)
		wantNotExist("SyncDir", fs.SyncDir(p("missing")))
		_, err = fs.Create(p("nodir/f"))
		wantNotExist("Create in missing dir", err)
		_, _, err = fs.Stat(p("nodir/f"))
		wantNotExist("Stat in missing dir", err)
		must(fs.RemoveAll(p("missing")))
		must(fs.RemoveAll(p("nodir/missing")))
	})

	t.Run("FileInPath", func(t *testing.T) {
		if err := fs.MkdirAll(p("f")); err == nil {
			t.Fatal("MkdirAll over a file succeeded")
		}
		if err := fs.MkdirAll(p("f/sub")); err == nil {
			t.Fatal("MkdirAll below a file succeeded")
		}
		if _, err := fs.Create(p("f/sub")); err == nil {
			t.Fatal("Create below a file succeeded")
		}
		if _, err := fs.Create(p("a")); err == nil {
			t.Fatal("Create over a directory succeeded")
		}
		if _, err := fs.List(p("f")); err == nil {
			t.Fatal("List of a file succeeded")
		}
	})

	t.Run("List", func(t *testing.T) {
		must(fs.MkdirAll(p("l/sub")))
		for _, name := range []string{"c", "a", "b10", "b2"} {
			f, err := fs.Create(p("l/" + name))
			must(err)
			must(f.Close())
		}
		wantList(p("l"), "a", "b10", "b2", "c", "sub")
	})

	t.Run("Rename", func(t *testing.T) {
		must(fs.MkdirAll(p("r")))
		f, err := fs.Create(p("r/x"))
		must(err)
		defer f.Close()
		write(f, "x1")
		g, err := fs.Create(p("r/y"))
		must(err)
		write(g, "y1")
		must(g.Close())

		must(fs.Rename(p("r/x"), p("r/y"))) // replaces y
		wantContent(p("r/y"), "x1")
		_, _, err = fs.Stat(p("r/x"))
		wantNotExist("Stat(renamed)", err)
		wantList(p("r"), "y")

		write(f, "x2") // the open file follows the rename
		wantContent(p("r/y"), "x1x2")

		must(fs.MkdirAll(p("r2")))
		must(fs.Rename(p("r/y"), p("r2/z"))) // across directories
		wantContent(p("r2/z"), "x1x2")
		wantList(p("r"))
		must(fs.Rename(p("r2/z"), p("r2/z"))) // no-op
		wantContent(p("r2/z"), "x1x2")

		must(fs.Rename(p("r2"), p("r3"))) // directories
		wantContent(p("r3/z"), "x1x2")
		if err := fs.Rename(p("r3"), p("r3/sub")); err == nil {
			t.Fatal("Rename of a directory into itself succeeded")
		}
		if err := fs.Rename(p("r3/z"), p("r")); err == nil {
			t.Fatal("Rename of a file over a directory succeeded")
		}
		if err := fs.Rename(p("r"), p("r3")); err == nil {
			t.Fatal("Rename over a non-empty directory succeeded")
		}
		if err := fs.Rename(p("r"), p("r3/z")); err == nil {
			t.Fatal("Rename of a directory over a file succeeded")
		}
	})

	t.Run("RemoveOpenFile", func(t *testing.T) {
		f, err := fs.Create(p("rm"))
		must(err)
		defer f.Close()
		write(f, "data")
		must(fs.Remove(p("rm")))
		_, _, err = fs.Stat(p("rm"))
		wantNotExist("Stat(removed)", err)
		write(f, "more")
		buf := make([]byte, 8)
		if n, err := f.ReadAt(buf, 0); n != 8 || (err != nil && err != io.EOF) || string(buf) != "datamore" {
			t.Fatalf("ReadAt of removed file = %d, %v, %q", n, err, buf)
		}
		must(f.Sync())
	})

	t.Run("Remove", func(t *testing.T) {
		must(fs.MkdirAll(p("d/e/f")))
		g, err := fs.Create(p("d/e/file"))
		must(err)
		must(g.Close())
		if err := fs.Remove(p("d")); err == nil {
			t.Fatal("Remove of a non-empty directory succeeded")
		}
		must(fs.Remove(p("d/e/f"))) // empty directory
		must(fs.Remove(p("d/e/file")))
		wantList(p("d/e"))
		must(fs.MkdirAll(p("d/e/g/h")))
		must(fs.RemoveAll(p("d")))
		_, _, err = fs.Stat(p("d"))
		wantNotExist("Stat(RemoveAll'd)", err)
		_, _, err = fs.Stat(p("d/e/g"))
		wantNotExist("Stat(below RemoveAll'd)", err)
	})

	t.Run("SyncDir", func(t *testing.T) {
		must(fs.SyncDir(root))
		must(fs.SyncDir(p("a/b")))
	})

	t.Run("WriteFileAtomic", func(t *testing.T) {
		must(WriteFileAtomic(fs, p("a"), "meta", []byte("v1")))
		wantContent(p("a/meta"), "v1")
		must(WriteFileAtomic(fs, p("a"), "meta", []byte("v2")))
		wantContent(p("a/meta"), "v2")
		wantList(p("a"), "b", "meta")
	})
}

func TestOSConformance(t *testing.T) {
	testConformance(t, OS(), t.TempDir()+"/root")
}

func TestOSErrorFSConformance(t *testing.T) {
	efs := NewErrorFS(OS())
	testConformance(t, efs, t.TempDir()+"/root")
	if efs.Injected() != 0 || efs.Ops() == 0 {
		t.Fatalf("Injected = %d, Ops = %d", efs.Injected(), efs.Ops())
	}
}

func TestOSDefault(t *testing.T) {
	if Default == nil {
		t.Fatal("Default is nil")
	}
	dir := t.TempDir()
	if err := WriteFileAtomic(Default, dir, "x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "x"))
	if err != nil || string(got) != "x" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
}

// TestOSModes checks the permissions of created files and directories
// (subject to the umask, which can only remove bits).
func TestOSModes(t *testing.T) {
	dir := t.TempDir()
	fs := OS()
	if err := fs.MkdirAll(dir + "/d"); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create(dir + "/d/f")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for name, max := range map[string]os.FileMode{"d": 0o755, "d/f": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&^max != 0 || perm&0o600 != 0o600 {
			t.Errorf("%s: mode %v, want at most %v", name, perm, max)
		}
	}
}

// TestOSAppendAfterExternalGrowth checks that Write appends at the current
// end of the file even when the file grew through another handle, which
// only O_APPEND guarantees.
func TestOSAppendAfterExternalGrowth(t *testing.T) {
	dir := t.TempDir()
	fs := OS()
	a, err := fs.Create(dir + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := fs.OpenAppend(dir + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, s := range []string{"1", "2", "3"} {
		if _, err := a.Write([]byte(s + "a")); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Write([]byte(s + "b")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := fs.ReadFile(dir + "/f")
	if err != nil {
		t.Fatal(err)
	}
	if want := "1a1b2a2b3a3b"; !bytes.Equal(got, []byte(want)) {
		t.Fatalf("content = %q, want %q", got, want)
	}
}

func TestOSErrorsWrap(t *testing.T) {
	dir := t.TempDir()
	_, _, err := OS().Stat(dir + "/missing")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stat: %v", err)
	}
}
