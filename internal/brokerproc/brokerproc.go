// Package brokerproc runs the real eddy binary as a child process for
// fault-injection tests: build it once, start `eddy serve` on a data
// directory and a fixed address, and then kill it with SIGKILL, pause it
// with SIGSTOP, resume it with SIGCONT, or stop it cleanly with SIGTERM.
// internal/crashtest and internal/eoscheck use it.
package brokerproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Build compiles cmd/eddy into dir and returns the binary's path.
func Build(dir string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("brokerproc: cannot locate the source tree")
	}
	bin := filepath.Join(dir, "eddy")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/eddy")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building eddy: %w", err)
	}
	return bin, nil
}

// RunTests is a test package's TestMain: it builds the eddy binary into a
// temporary directory, sets *bin to its path, runs the tests and exits.
func RunTests(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "eddy-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin, err = Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// FreePort returns a loopback address with a port that was free a moment
// ago: restarts of the broker reuse it, so clients find it again.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Server is one run of the eddy binary.
type Server struct {
	Addr string
	dir  string
	cmd  *exec.Cmd
	done chan error
}

// Start runs `eddy serve` with its data in dir, listening on addr, with
// extra flags, and waits until it accepts connections. Its output is
// appended to dir/../eddy.log.
func Start(t testing.TB, bin, dir, addr string, flags ...string) *Server {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "..", "eddy.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--data-dir", dir, "--listen", addr, "--log-level", "warn", "--http", "127.0.0.1:0"}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: addr, dir: dir, cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case err := <-s.done:
			t.Fatalf("eddy exited during start: %v (log: %s)", err, s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Signal(syscall.SIGKILL)
			t.Fatalf("eddy did not start listening on %s (log: %s)", addr, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log returns the tail of the broker's log file.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "..", "eddy.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Kill sends SIGKILL and waits for the process to end.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies only once resumed
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Pause stops the process with SIGSTOP: its connections stay open and
// requests go unanswered until Resume.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP: %v", err)
	}
}

// Resume continues a paused process with SIGCONT.
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT: %v", err)
	}
}

// Stop sends SIGTERM and fails the test unless the broker exits cleanly
// within 30 seconds.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("eddy exited with %v after SIGTERM (log: %s)", err, s.Log())
		}
	case <-time.After(30 * time.Second):
		s.cmd.Process.Signal(syscall.SIGKILL)
		t.Fatal("eddy did not stop within 30s of SIGTERM")
	}
}
