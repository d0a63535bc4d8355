package cli

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer safe for a command writing while the test
// reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServe runs `eddy serve` with args until the test ends and returns
// the HTTP address it prints.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	return runServe(t, regexp.MustCompile(`on http://([0-9.:]+)/`), append([]string{"--http", "127.0.0.1:0"}, args...)...)
}

// runServe runs `eddy serve` on a fresh data directory and loopback ports
// with args until the test ends, and returns the first submatch of addr in
// what it prints.
func runServe(t *testing.T, addr *regexp.Regexp, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := NewRoot()
	var out lockedBuffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs(append([]string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--log-level", "warn"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v (output %q)", err, out.String())
		default:
		}
	}
	t.Fatalf("serve printed no address matching %s: %q", addr, out.String())
	return ""
}

func TestServeHTTPGateway(t *testing.T) {
	addr := startServe(t)
	post := func(path, body string) int {
		resp, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post("/api/v1/topics", `{"name":"web","partitions":2}`); st != 201 {
		t.Fatalf("create topic: %d", st)
	}
	if st := post("/api/v1/topics/web/records", `{"key":"k","value":"v"}`); st != 200 {
		t.Fatalf("produce: %d", st)
	}
	for _, path := range []string{"/readyz", "/metrics"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		if path == "/metrics" && !strings.Contains(string(body), `eddy_topic_records_in_total{topic="web"} 1`) {
			t.Fatalf("/metrics lacks the produced record:\n%s", body)
		}
	}
}

func TestServePprof(t *testing.T) {
	url := runServe(t, regexp.MustCompile(`profiles at (http://[0-9.:]+/debug/pprof/)`), "--http", "", "--pprof", "127.0.0.1:0")
	resp, err := http.Get(url + "goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile:") {
		t.Fatalf("GET goroutine profile: %d %.200q", resp.StatusCode, body)
	}
}
