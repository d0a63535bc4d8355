package auth

import (
	"sync"
	"time"
)

// Throttle slows down repeated failed authentications from one host: the
// n-th consecutive failure is answered after Base·2^(n-1), at most Max. A
// success, or Forget without a failure, resets the host. The table of
// hosts is bounded (MaxHosts); when it is full, hosts idle for longer than
// Forget are dropped first, then the whole table (failing open on delay,
// never on authentication).
type Throttle struct {
	Base, Max, Forget time.Duration
	MaxHosts          int
	Now               func() time.Time

	mu    sync.Mutex // guards hosts
	hosts map[string]*hostFailures
}

type hostFailures struct {
	n    int
	last time.Time
}

// NewThrottle returns a Throttle with Eddy's defaults: 100 ms doubling up
// to 5 s, forgotten after 10 minutes without failures, 10000 hosts.
func NewThrottle() *Throttle {
	return &Throttle{Base: 100 * time.Millisecond, Max: 5 * time.Second, Forget: 10 * time.Minute, MaxHosts: 10000, Now: time.Now}
}

// Failed records a failed authentication from host and returns how long
// to wait before answering it.
func (t *Throttle) Failed(host string) time.Duration {
	now := t.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hosts == nil {
		t.hosts = map[string]*hostFailures{}
	}
	h := t.hosts[host]
	if h == nil || now.Sub(h.last) > t.Forget {
		if h == nil && len(t.hosts) >= t.MaxHosts {
			t.evictLocked(now)
		}
		h = &hostFailures{}
		t.hosts[host] = h
	}
	h.n++
	h.last = now
	d := t.Base
	for i := 1; i < h.n && d < t.Max; i++ {
		d *= 2
	}
	return min(d, t.Max)
}

// Succeeded forgets host's failures.
func (t *Throttle) Succeeded(host string) {
	t.mu.Lock()
	delete(t.hosts, host)
	t.mu.Unlock()
}

func (t *Throttle) evictLocked(now time.Time) {
	for k, h := range t.hosts {
		if now.Sub(h.last) > t.Forget {
			delete(t.hosts, k)
		}
	}
	if len(t.hosts) >= t.MaxHosts {
		clear(t.hosts)
	}
}
